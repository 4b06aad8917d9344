"""A real webhook receiver on a free port: verifies each request with the ``standardwebhooks``
library (as a customer's server would) and answers as the test tells it to."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.ports import SERVER_KEEP_ALIVE_SECONDS, free_port


@dataclass(frozen=True)
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: str
    event: dict[str, Any]


# What to answer an event (its envelope): an HTTP status.
Answer = Callable[[dict[str, Any]], Awaitable[int]]


async def accept(_: dict[str, Any]) -> int:
    return 200


@dataclass
class Receiver:
    url: str
    secret: str = ""
    answer: Answer = accept
    # Every request whose signature verified and that was answered 2xx, in arrival order.
    received: list[Received] = field(default_factory=list)
    # Requests answered non-2xx (verified) and requests whose signature did not verify.
    refused: list[Received] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    def verify(self, body: str, headers: dict[str, str]) -> dict[str, Any]:
        verified: dict[str, Any] = Webhook(self.secret).verify(body, headers)
        return verified

    async def handle(self, request: Request) -> Response:
        body = (await request.body()).decode()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            event = self.verify(body, headers)
        except WebhookVerificationError as err:
            self.unverified.append(str(err))
            return Response(status_code=400)
        got = Received(headers["webhook-id"], headers, body, event)
        status = await self.answer(event)
        (self.received if 200 <= status < 300 else self.refused).append(got)
        return Response(status_code=status)

    def of(self, external_id: str) -> list[Received]:
        return [r for r in self.received if r.event["external_id"] == external_id]

    def sequences(self, external_id: str) -> list[int]:
        """The customer's sequences as first received (duplicates dropped by webhook-id)."""
        seen: dict[str, int] = {}
        for r in self.of(external_id):
            seen.setdefault(r.webhook_id, r.event["sequence"])
        return list(seen.values())


@asynccontextmanager
async def receiver(path: str = "/hooks") -> AsyncIterator[Receiver]:
    port = free_port()
    hook = Receiver(url=f"http://127.0.0.1:{port}{path}")
    app = Starlette(routes=[Route(path, hook.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    try:
        yield hook
    finally:
        server.should_exit = True
        await serving
