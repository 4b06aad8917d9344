"""Every change made through the API goes to the audit log, with who made it and the request id.

A change is a POST, PUT, PATCH or DELETE under ``/v1`` that succeeded (a refused request
changes nothing), or a POST of a customer's portal session (actor ``portal:<external_id>``,
set by the portal once the session and its CSRF token are checked). Usage events and holds
are not audit entries: the ledger records them. The
entry is written before the response starts, so a client never sees a change its audit entry
does not have. The request id is the client's ``X-Request-Id`` when it is a plain token, else
a new one; it is echoed on every response.
"""

import json
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import route_path
from creditgate.access import audit
from creditgate.access.keys import Principal
from creditgate.infra.db import Database

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NOT_AUDITED = re.compile(r"/v1/events|/v1/customers/[^/]+/holds|/v1/holds/.+|/v1/stripe/.*")
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,100}")
_SECRET_FIELDS = frozenset({"key", "secret", "password", "api_key", "csrf_token", "client_secret"})
# ``scope["state"]`` key the portal sets to the signed-in customer's actor.
PORTAL_ACTOR = "portal_actor"
_MAX_DETAILS = 4096


def request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return bytes(value).decode()
    return f"req_{uuid.uuid4().hex}"


def _details(body: bytes, form: bool) -> dict[str, Any]:
    """The request's JSON object or HTML form fields, secrets masked; nothing for a large
    body or another kind."""
    if not body or len(body) > _MAX_DETAILS:
        return {}
    try:
        parsed = dict(parse_qsl(body.decode())) if form else json.loads(body)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: "***" if k in _SECRET_FIELDS else v for k, v in parsed.items()}


def _is_form(scope: Scope) -> bool:
    return any(
        name == b"content-type" and value.startswith(b"application/x-www-form-urlencoded")
        for name, value in scope["headers"]
    )


class AuditTrail:
    def __init__(self, app: ASGIApp, db: Callable[[], Database]) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        path = route_path(scope)
        audited = scope["method"] in _CHANGES and (
            (path.startswith("/v1/") and _NOT_AUDITED.fullmatch(path) is None)
            or path.startswith("/portal/")
        )
        body = bytearray()

        async def receiving() -> Message:
            message = await receive()
            if audited and message["type"] == "http.request" and len(body) <= _MAX_DETAILS:
                body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                if audited and message["status"] < 400:
                    await self._record(scope, rid, message["status"], bytes(body))
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        await self.app(scope, receiving, sending)

    async def _record(self, scope: Scope, rid: str, status: int, body: bytes) -> None:
        state = scope.get("state", {})
        principal: Principal | None = state.get("principal")
        route = scope.get("route")
        template = getattr(route, "path", None) or route_path(scope)
        if template.startswith("/portal/"):
            actor = state.get(PORTAL_ACTOR)
            if actor is None:
                return  # not a customer's change (the dev-only Stripe.js stand-in)
        else:
            actor = principal.name if principal else "anonymous"
        if not template.startswith(("/v1/", "/portal/")):
            # The route's path within the included ``/v1`` router.
            template = "/v1" + template
        await audit.record(
            self.db(),
            actor=actor,
            action=f"{scope['method']} {template}",
            target=route_path(scope),
            status=status,
            request_id=rid,
            details=_details(body, _is_form(scope)),
        )
