"""The two hot routes answered in plain ASGI, ahead of FastAPI's middleware and routing.

``POST /v1/events`` and ``GET /v1/customers/{id}/balance`` are most of the traffic, and
FastAPI's middleware stack, routing, request objects and response handling cost more CPU per
request than the ledger work behind them (``python -m bench.profile``; the middleware stack
alone ~120 µs of a balance read's ~420 µs in-process). This layer answers the ordinary case
with the same functions the routes use. Anything else (no valid API key, a body that is not
JSON of the right shape or is declared too large, an external id the route would refuse,
another method) goes on to the FastAPI app, whose middleware and routes stay the reference
for every error and for the OpenAPI document.
"""

import re
from inspect import isawaitable
from typing import TYPE_CHECKING

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import ApiKey
from api.body_limit import too_large
from api.media import json_media
from api.routes.ledger import balance_body, events_body
from api.schemas.ledger import EventBatch
from creditgate.ledger.usage import unstorable
from creditgate.values.identifiers import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN

if TYPE_CHECKING:
    from fastapi import FastAPI

EVENTS_PATH = "/v1/events"
_BALANCE_PATH = re.compile(f"/v1/customers/({EXTERNAL_ID_PATTERN})/balance")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class HotPaths:
    """``await hot_paths(scope, receive, send)`` answers and returns True, or returns False
    having read nothing, for ``routed`` (the FastAPI app) to answer."""

    def __init__(self, app: "FastAPI", routed: ASGIApp, api_key: ApiKey, max_body: int) -> None:
        self.app = app
        self.routed = routed
        self.api_key = api_key
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        if scope["type"] != "http":
            return False
        path, method = scope["path"], scope["method"]
        if path == EVENTS_PATH and method == "POST":
            if not (_sent_json(scope, self.max_body) and await self.api_key.allows(scope)):
                return False
            await self._events(scope, receive, send)
            return True
        if method == "GET" and (found := _BALANCE_PATH.fullmatch(path)):
            if len(found[1]) > EXTERNAL_ID_MAX_LENGTH or not await self.api_key.allows(scope):
                return False
            await self._balance(scope, receive, send, found[1])
            return True
        return False

    async def _events(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, self.max_body)
        if body is None:  # the client went away
            return
        if len(body) > self.max_body:  # sent without Content-Length
            await too_large(self.max_body)(scope, receive, send)
            return
        try:
            events = EventBatch.model_validate_json(body).events
        except ValidationError:
            events = None
        if events is None or unstorable(body, events) is not None:
            # The route parses the body again (``EventBatch``) and answers with the error.
            await self.routed(scope, _replay(body, receive), send)
            return
        try:
            answer = await events_body(self.app.state.ingest, events)
        except Exception as exc:
            await self._handled(scope, receive, send, exc)
            return
        await _send_json(send, 200, answer)

    async def _balance(self, scope: Scope, receive: Receive, send: Send, external_id: str) -> None:
        try:
            answer = await balance_body(self.app.state.db, external_id)
        except Exception as exc:  # an unknown customer's 404 too
            await self._handled(scope, receive, send, exc)
            return
        await _send_json(send, 200, answer)

    async def _handled(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        """Answer with the app's handler for ``exc`` (an outage is a 503; anything without
        its own handler is the app's 500), as FastAPI's middleware would have."""
        handlers = self.app.exception_handlers
        for kind in type(exc).__mro__:
            if (handler := handlers.get(kind)) is not None:
                response = handler(Request(scope, receive), exc)
                if isawaitable(response):
                    response = await response
                await response(scope, receive, send)
                return
        raise exc


def _sent_json(scope: Scope, max_body: int) -> bool:
    """A JSON body (the first ``Content-Type`` decides, as for the route), of a declared
    length within ``max_body`` if declared."""
    json: bool | None = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if json is None:
                json = json_media(value)
        elif name == b"content-length" and not (value.isdigit() and int(value) <= max_body):
            return False
    return bool(json)


async def _read_body(receive: Receive, max_body: int) -> bytes | None:
    """The body, or its first chunks once they pass ``max_body``; None if the client left."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > max_body or not message.get("more_body", False):
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
