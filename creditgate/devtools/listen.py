"""``creditgate listen``: receive this stack's webhooks in the terminal (like ``stripe listen``).

Starts an HTTP receiver on a free loopback port, registers it as a temporary webhook endpoint
through the API, prints each event as it arrives after verifying its Standard Webhooks
signature, and removes the endpoint on Ctrl-C (or SIGTERM).
"""

import asyncio
import contextlib
import json
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import httpx
import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from creditgate.infra.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    """Leaves Ctrl-C to ``listen``, which removes the endpoint before exiting."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.webhook: Webhook | None = None

    async def receive(self, request: Request) -> Response:
        body = (await request.body()).decode(errors="replace")
        if self.webhook is None:
            return Response(status_code=503)
        try:
            event: dict[str, Any] = self.webhook.verify(body, dict(request.headers))
        except WebhookVerificationError as err:
            self.say(f"  refused a request whose signature does not verify: {err}")
            return Response(status_code=400)
        self.say(
            f"{event['created_at']}  {event['type']:<26} {event['external_id']} "
            f"#{event['sequence']}  [{event['id']}] signature ok\n"
            f"  {json.dumps(event['data'], sort_keys=True)}"
        )
        return Response(status_code=200)

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


async def listen(api: str, api_key: str, event_types: list[str], out: TextIO = sys.stdout) -> int:
    port = _free_port()
    printer = Printer(out)
    app = Starlette(routes=[Route("/", printer.receive, methods=["POST"])])
    server = _Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve())
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as http:
        try:
            created = await http.post(
                "/v1/webhook-endpoints",
                json={
                    "url": f"http://127.0.0.1:{port}/",
                    "event_types": event_types,
                    "description": "creditgate listen (removed on exit)",
                },
            )
        except httpx.HTTPError as err:
            print(f"creditgate listen: cannot reach the API at {api}: {err}", file=sys.stderr)
            server.should_exit = True
            await serving
            return 1
        if created.status_code != 201:
            print(f"creditgate listen: the API refused: {created.text}", file=sys.stderr)
            server.should_exit = True
            await serving
            return 1
        endpoint = created.json()
        printer.webhook = Webhook(endpoint["secret"])
        printer.say(
            f"Ready: listening on http://127.0.0.1:{port}/ as endpoint {endpoint['id']} "
            f"for {', '.join(endpoint['event_types'])}. Ctrl-C to stop."
        )
        try:
            await stop.wait()
        finally:
            removed = await http.delete(f"/v1/webhook-endpoints/{endpoint['id']}")
            server.should_exit = True
            await serving
        printer.say(
            f"Removed endpoint {endpoint['id']}."
            if removed.status_code == 204
            else f"Could not remove endpoint {endpoint['id']}: {removed.text}"
        )
    return 0


def run_listen(settings: Settings, api: str | None, event_types: list[str]) -> int:
    base = api or f"http://{settings.api_host}:{settings.api_port}"
    return asyncio.run(listen(base, settings.api_key, event_types))
