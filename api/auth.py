"""Bearer API-key check for every ``/v1`` route, as ASGI middleware.

A middleware rather than a FastAPI dependency: it runs before routing and body parsing, so a
request without a valid key costs almost nothing, and the hot path resolves no dependency.
"""

import secrets
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response

PROTECTED_PREFIX = "/v1/"
SCHEME = "ApiKey"


class ApiKey:
    """The API key every ``/v1`` request must send as ``Authorization: Bearer <key>``."""

    def __init__(self, api_key: str) -> None:
        # An empty key would match a request that sends none; settings refuse it too.
        if not api_key.strip():
            raise ValueError("the API key is empty")
        self.expected = api_key.encode()

    def allows(self, scope: Scope) -> bool:
        supplied = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    supplied = token.strip()
                break
        return secrets.compare_digest(supplied, self.expected)


class ApiKeyAuth:
    def __init__(
        self, app: ASGIApp, api_key: ApiKey, public: frozenset[str] | set[str] = frozenset()
    ) -> None:
        self.app = app
        self.api_key = api_key
        # Routes with their own authentication (the Stripe webhook's signature).
        self.public = frozenset(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.startswith(PROTECTED_PREFIX)
            and path not in self.public
            and not self.api_key.allows(scope)
        ):
            response = error_response(
                401,
                "unauthorized",
                "missing or invalid API key (send Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


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
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
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
