"""The two hot routes answered in plain ASGI, ahead of FastAPI's routing.

``POST /v1/events`` and ``GET /v1/customers/{id}/balance`` are most of the traffic, and
FastAPI's routing, request objects and response handling cost more CPU per request than the
ledger work behind them (``python -m bench.profile``). This layer answers the ordinary case
with the same functions the routes use; anything else (a body that is not JSON of the right
shape, an external id the route would refuse, another method) goes on to the FastAPI routes,
which stay the reference and the OpenAPI document.
"""

import re

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from api.ledger_schemas import EventBatch
from api.routes.ledger import balance_json, results_json
from creditgate.ledger import reads

EVENTS_PATH = "/v1/events"
_BALANCE_PATH = re.compile(r"/v1/customers/([A-Za-z0-9][A-Za-z0-9._:@+-]{0,199})/balance")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class HotPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == EVENTS_PATH and method == "POST" and _sent_json(scope):
                await self._events(scope, receive, send)
                return
            if method == "GET" and (found := _BALANCE_PATH.fullmatch(path)):
                await self._balance(scope, receive, send, found[1])
                return
        await self.app(scope, receive, send)

    async def _events(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        try:
            events = EventBatch.model_validate_json(body).events
        except ValidationError:
            # The route parses the body again (``EventBatch``) and answers with the error.
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            results = await scope["app"].state.ingest.submit(events)
        except Exception as exc:
            await _handled(scope, receive, send, exc)
            return
        await _send_json(send, 200, results_json(results))

    async def _balance(self, scope: Scope, receive: Receive, send: Send, external_id: str) -> None:
        try:
            found = await reads.balance(scope["app"].state.db, external_id)
        except Exception as exc:
            await _handled(scope, receive, send, exc)
            return
        if found is None:
            message = f"no customer with external_id {external_id!r}"
            await error_response(404, "not_found", message)(scope, receive, send)
            return
        await _send_json(send, 200, balance_json(*found))


def _sent_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return False


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _handled(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer with the app's handler for ``exc``, as FastAPI's exception middleware would;
    anything without a specific handler goes on to the server-error middleware (500)."""
    handlers = scope["app"].exception_handlers
    for kind in type(exc).__mro__:
        if kind is Exception:
            break
        if (handler := handlers.get(kind)) is not None:
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
    raise exc
