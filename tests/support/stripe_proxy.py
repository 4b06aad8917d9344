"""A proxy in front of localstripe that behaves more like Stripe (tests only).

* It honours ``Idempotency-Key`` on POSTs as Stripe does: a repeat with the same key and the same
  parameters returns the first response and nothing is created again. The same key with other
  parameters gets a 400 ``idempotency_error``. localstripe itself ignores the header.
* It relays localstripe's signed webhooks to a target URL, and can inject faults: drop the
  next N, duplicate each delivery, hold deliveries back and send them in reverse order, or
  delay them. Bodies and ``Stripe-Signature`` headers are passed on untouched, so the
  signatures stay valid.
* A fake of its own: PaymentIntents of the Stripe customers in ``processing_customers`` are
  reported as ``processing`` instead of ``succeeded`` and refuse to be cancelled, as Stripe's
  do while a payment is under way (localstripe settles card payments at once and has no such
  state). Taking the customer out of the set is the payment succeeding.

It is a plain ASGI app (Starlette) served by uvicorn in the test's event loop.
"""

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .ports import SERVER_KEEP_ALIVE_SECONDS, free_port

WEBHOOK_PATH = "/__webhooks"
_INTENTS = "/v1/payment_intents"
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


@dataclass
class WebhookFaults:
    drop_next: int = 0  # drop this many deliveries, then deliver again
    copies: int = 1  # deliver each event this many times
    hold: bool = False  # keep deliveries back until release() (then reversed: reordered)
    delay: float = 0.0  # seconds before each delivery


@dataclass
class _Stored:
    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class StripeProxy:
    upstream: str  # localstripe's base URL
    webhook_target: str | None = None  # where webhooks go (e.g. the API's webhook URL)
    faults: WebhookFaults = field(default_factory=WebhookFaults)
    delivered: list[bytes] = field(default_factory=list)
    port: int = 0
    _idempotent: dict[tuple[str, str], _Stored] = field(default_factory=dict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    _held: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    # Test hook: awaited with (method, path) after Stripe answered and before the answer is
    # passed on (e.g. to kill the caller at exactly that moment).
    after_upstream: Callable[[str, str], Awaitable[None]] | None = None
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    _client: httpx.AsyncClient | None = None
    _deliveries: set[asyncio.Task[None]] = field(default_factory=set)
    processing_customers: set[str] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "StripeProxy":
        self.port = self.port or free_port()
        self._client = httpx.AsyncClient(timeout=30)
        app = Starlette(
            routes=[
                Route(WEBHOOK_PATH, self._webhook, methods=["POST"]),
                Route("/{path:path}", self._forward, methods=["GET", "POST", "DELETE"]),
            ]
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._client is not None:
            await self._client.aclose()

    async def register_webhooks(self, secret: str, endpoint_id: str = "proxy") -> None:
        """Point localstripe's webhooks at this proxy (localstripe forgets them on restart)."""
        assert self._client is not None
        response = await self._client.post(
            f"{self.upstream}/_config/webhooks/{endpoint_id}",
            data={"url": self.base_url + WEBHOOK_PATH, "secret": secret},
        )
        response.raise_for_status()

    def held(self, kind: str | None = None) -> list[bytes]:
        """Bodies of the webhooks held back so far (of one event type, if given)."""
        return [body for body, _ in self._held if kind is None or event_type(body) == kind]

    async def release(self) -> None:
        """Deliver held webhooks, newest first (so they arrive out of order)."""
        held, self._held = self._held, []
        for body, headers in reversed(held):
            await self._deliver(body, headers)

    # -- Stripe API ------------------------------------------------------------------------

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        if await self._refuse_cancel(request):
            return JSONResponse(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "payment_intent_unexpected_state",
                        "message": "You cannot cancel this PaymentIntent because it has a "
                        "status of processing.",
                    }
                },
                status_code=400,
            )
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or not key:
            return await self._upstream(request, body)
        scope = (request.headers.get("authorization", ""), key)
        fingerprint = hashlib.sha256(request.url.path.encode() + b"\0" + body).hexdigest()
        async with self._locks.setdefault(scope, asyncio.Lock()):
            stored = self._idempotent.get(scope)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    return JSONResponse(
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used "
                                "with the same parameters they were first used with.",
                            }
                        },
                        status_code=400,
                    )
                headers = {**stored.headers, "idempotent-replayed": "true"}
                return Response(stored.body, status_code=stored.status, headers=headers)
            response = await self._upstream(request, body)
            if self.after_upstream is not None:
                await self.after_upstream(request.method, request.url.path)
            if response.status_code < 500:  # Stripe does not store 5xx answers
                self._idempotent[scope] = _Stored(
                    fingerprint, response.status_code, bytes(response.body), dict(response.headers)
                )
            return response

    async def _upstream(self, request: Request, body: bytes) -> Response:
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        upstream = await self._client.request(
            request.method,
            f"{self.upstream}{request.url.path}",
            params=str(request.query_params),
            content=body,
            headers=headers,
        )
        kept = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in _HOP_HEADERS | {"content-encoding"}
        }
        content = upstream.content
        if self.processing_customers and request.url.path.startswith(_INTENTS):
            content = self._as_processing(content)
        return Response(content, status_code=upstream.status_code, headers=kept)

    # -- the fake "processing" state ---------------------------------------------------------

    async def _refuse_cancel(self, request: Request) -> bool:
        path = request.url.path
        if not (self.processing_customers and path.startswith(_INTENTS)):
            return False
        if request.method != "POST" or not path.endswith("/cancel"):
            return False
        assert self._client is not None
        intent = await self._client.get(
            f"{self.upstream}{path.removesuffix('/cancel')}",
            headers={"Authorization": request.headers.get("authorization", "")},
        )
        return self._processing(intent.json())

    def _processing(self, obj: Any) -> bool:
        return (
            isinstance(obj, dict)
            and obj.get("object") == "payment_intent"
            and obj.get("status") == "succeeded"
            and obj.get("customer") in self.processing_customers
        )

    def _as_processing(self, content: bytes) -> bytes:
        try:
            data = json.loads(content)
        except ValueError:
            return content
        for obj in data.get("data", []) if data.get("object") == "list" else [data]:
            if self._processing(obj):
                obj["status"] = "processing"
        return json.dumps(data).encode()

    # -- webhooks --------------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        body = await request.body()
        headers = {
            "Content-Type": request.headers.get("content-type", "application/json"),
            "Stripe-Signature": request.headers.get("stripe-signature", ""),
        }
        faults = self.faults
        if faults.drop_next > 0:
            faults.drop_next -= 1
            return Response(status_code=200)
        if faults.hold:
            self._held.append((body, headers))
            return Response(status_code=200)
        task = asyncio.create_task(self._deliver(body, headers))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
        return Response(status_code=200)

    async def _deliver(self, body: bytes, headers: dict[str, str]) -> None:
        assert self._client is not None
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        for _ in range(max(1, self.faults.copies)):
            self.delivered.append(body)
            if self.webhook_target:
                # Like Stripe here: a failed delivery is not retried by the proxy.
                with contextlib.suppress(httpx.HTTPError):
                    await self._client.post(self.webhook_target, content=body, headers=headers)


def event_type(body: bytes) -> Any:
    return json.loads(body)["type"]
