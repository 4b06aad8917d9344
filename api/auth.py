"""Bearer API keys for every ``/v1`` route, as ASGI middleware, and what each scope allows.

A middleware rather than a FastAPI dependency: it runs before routing and body parsing, so a
request without a valid key costs almost nothing, and the hot path resolves no dependency.
The key from settings is the bootstrap admin key and needs no lookup; an issued key is looked
up on every request (one indexed read), so a revocation holds at once in every process.
"""

import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from creditgate.access import keys
from creditgate.access.keys import BOOTSTRAP_NAME, Principal
from creditgate.infra.db import Database
from creditgate.models import KeyScope

PROTECTED_PREFIX = "/v1/"
SCHEME = "ApiKey"

# What an ``ingest`` key may call: usage events and holds.
_INGEST = re.compile(r"/v1/events|/v1/customers/[^/]+/holds|/v1/holds/.+")
# What only an admin may read: the keys themselves and the audit log.
_ADMIN_ONLY = re.compile(r"/v1/(api-keys|audit-log)(/.*)?")
_READ_METHODS = frozenset({"GET", "HEAD"})


def permits(scope: KeyScope, method: str, path: str) -> bool:
    if scope is KeyScope.admin:
        return True
    if scope is KeyScope.ingest:
        return _INGEST.fullmatch(path) is not None
    return method in _READ_METHODS and _ADMIN_ONLY.fullmatch(path) is None


def route_path(scope: Scope) -> str:
    """The path the routes see: without the ``root_path`` the app is mounted under (ASGI puts
    it in front of ``path``), so ``/billing/v1/...`` is checked as ``/v1/...``."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def bearer(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.partition(b" ")
            return token.strip() if kind.lower() == b"bearer" else b""
    return b""


class ApiKey:
    """Resolves ``Authorization: Bearer <key>`` to the principal the request acts for."""

    def __init__(self, api_key: str, db: Callable[[], Database] | None = None) -> None:
        # An empty key would match a request that sends none; settings refuse it too.
        if not api_key.strip():
            raise ValueError("the API key is empty")
        self.expected = api_key.encode()
        self.bootstrap = Principal(name=BOOTSTRAP_NAME, scope=KeyScope.admin)
        self.db = db

    async def principal(self, scope: Scope) -> Principal | None:
        supplied = bearer(scope)
        if secrets.compare_digest(supplied, self.expected):
            return self.bootstrap
        if self.db is None or not supplied.startswith(keys.KEY_PREFIX.encode()):
            return None
        try:
            token = supplied.decode("ascii")
        except UnicodeDecodeError:
            return None
        return await keys.lookup(self.db(), token)

    async def allows(self, scope: Scope) -> bool:
        """A key whose scope permits this request; it is kept in ``scope["state"]``."""
        found = await self.principal(scope)
        if found is None or not permits(found.scope, scope["method"], route_path(scope)):
            return False
        scope.setdefault("state", {})["principal"] = found
        return True


class ApiKeyAuth:
    def __init__(
        self, app: ASGIApp, api_key: ApiKey, public: frozenset[str] | set[str] = frozenset()
    ) -> None:
        self.app = app
        self.api_key = api_key
        # Routes with their own authentication (the Stripe webhook's signature).
        self.public = frozenset(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if not path.startswith(PROTECTED_PREFIX) or path in self.public:
            await self.app(scope, receive, send)
            return
        found = await self.api_key.principal(scope)
        if found is None:
            response = error_response(
                401,
                "unauthorized",
                "missing or invalid API key (send Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif not permits(found.scope, scope["method"], path):
            response = error_response(
                403,
                "forbidden",
                f"the key {found.name!r} has scope {found.scope.value!r}, which does not "
                f"allow {scope['method']} {path}",
            )
        else:
            scope.setdefault("state", {})["principal"] = found
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def document_security(
    app: FastAPI,
    extra_schemas: Sequence[type[BaseModel]] = (),
    public: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Show the bearer scheme on every /v1 operation in the OpenAPI document and /docs."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
            webhooks=app.webhooks.routes,
        )
        components = schema.setdefault("components", {})
        # Bodies that a route parses itself (the hot path) are declared by reference.
        for model in extra_schemas:
            defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
            nested = defs.pop("$defs", {})
            components.setdefault("schemas", {}).update({model.__name__: defs, **nested})
        components["securitySchemes"] = {
            SCHEME: {"type": "http", "scheme": "bearer", "description": "Creditgate API key"}
        }
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(PROTECTED_PREFIX) and path not in public:
                for operation in operations.values():
                    operation["security"] = [{SCHEME: []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
