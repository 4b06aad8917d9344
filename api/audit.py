"""Every change made through the API goes to the audit log, with who made it and the request id.

A change is a POST, PUT, PATCH or DELETE under ``/v1`` that succeeded (a refused request
changes nothing). Usage events and holds are not audit entries: the ledger records them. The
entry is written before the response starts, so a client never sees a change its audit entry
does not have. The request id is the client's ``X-Request-Id`` when it is a plain token, else
a new one; it is echoed on every response.
"""

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import route_path
from creditgate.access import audit
from creditgate.access.keys import Principal
from creditgate.infra.db import Database

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NOT_AUDITED = re.compile(r"/v1/events|/v1/customers/[^/]+/holds|/v1/holds/.+|/v1/stripe/.*")
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,100}")
_SECRET_FIELDS = frozenset({"key", "secret", "password", "api_key"})
_MAX_DETAILS = 4096


def request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return bytes(value).decode()
    return f"req_{uuid.uuid4().hex}"


def _details(body: bytes) -> dict[str, Any]:
    """The request's JSON object, secrets masked; nothing for a large or non-object body."""
    if not body or len(body) > _MAX_DETAILS:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: "***" if k in _SECRET_FIELDS else v for k, v in parsed.items()}


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
        audited = (
            scope["method"] in _CHANGES
            and path.startswith("/v1/")
            and _NOT_AUDITED.fullmatch(path) is None
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
        principal: Principal | None = scope.get("state", {}).get("principal")
        route = scope.get("route")
        template = getattr(route, "path", None) or route_path(scope)
        if not template.startswith("/v1/"):
            # The route's path within the included ``/v1`` router.
            template = "/v1" + template
        await audit.record(
            self.db(),
            actor=principal.name if principal else "anonymous",
            action=f"{scope['method']} {template}",
            target=route_path(scope),
            status=status,
            request_id=rid,
            details=_details(body),
        )
