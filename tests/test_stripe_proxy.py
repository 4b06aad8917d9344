"""The Stripe test harness: idempotency keys honoured, webhooks relayed with faults."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.localstripe import LocalStripe
from tests.support.ports import SERVER_KEEP_ALIVE_SECONDS, free_port
from tests.support.stripe_proxy import StripeProxy, event_type
from tests.support.waiting import eventually

SECRET = "whsec_proxy_test"


class Receiver:
    """A webhook endpoint that records what it receives and checks the signatures."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.ids: list[str] = []
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def hook(self, request: Request) -> Response:
        payload = (await request.body()).decode()
        signature = request.headers.get("stripe-signature", "")
        stripe.WebhookSignature.verify_header(payload, signature, SECRET, tolerance=None)
        self.events.append(event_type(payload.encode()))
        self.ids.append(json.loads(payload)["id"])
        return Response(status_code=200)


@pytest.fixture(scope="module")
def own_localstripe() -> Iterator[LocalStripe]:
    # Its own instance: webhook endpoints registered here must not reach other suites.
    with LocalStripe() as instance:
        yield instance


@pytest.fixture
async def harness(own_localstripe: LocalStripe) -> AsyncIterator[tuple[StripeProxy, Receiver]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=receiver.port,
            log_level="warning",
            timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        )
    )
    serving = asyncio.create_task(server.serve())
    proxy = await StripeProxy(own_localstripe.base_url, webhook_target=receiver.url).start()
    await proxy.register_webhooks(SECRET)
    yield proxy, receiver
    await proxy.stop()
    server.should_exit = True
    await serving


def client(proxy: StripeProxy) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_proxy", base_addresses={"api": proxy.base_url})


async def test_idempotency_key_returns_the_first_response(
    harness: tuple[StripeProxy, Receiver],
) -> None:
    proxy, _ = harness
    stripe_client = client(proxy)
    first, *repeats = await asyncio.gather(
        *(
            stripe_client.v1.customers.create_async(
                {"email": "idem@example.com"}, {"idempotency_key": "key-1"}
            )
            for _ in range(5)
        )
    )
    assert {c.id for c in repeats} == {first.id}
    listed = await stripe_client.v1.customers.list_async({"email": "idem@example.com"})
    assert [c.id for c in listed.data] == [first.id]
    with pytest.raises(stripe.IdempotencyError):
        await stripe_client.v1.customers.create_async(
            {"email": "other@example.com"}, {"idempotency_key": "key-1"}
        )


async def test_webhooks_are_relayed_with_valid_signatures_and_faults(
    harness: tuple[StripeProxy, Receiver],
) -> None:
    proxy, receiver = harness
    stripe_client = client(proxy)

    async def received() -> list[str]:
        return list(receiver.events)

    await stripe_client.v1.customers.create_async({"email": "a@example.com"})
    await eventually(received, lambda e: e == ["customer.created"], what="one webhook")

    proxy.faults.copies = 3
    await stripe_client.v1.customers.create_async({"email": "b@example.com"})
    await eventually(received, lambda e: len(e) == 4, what="three copies")
    assert receiver.events == ["customer.created"] * 4

    proxy.faults.copies = 1
    proxy.faults.drop_next = 1
    await stripe_client.v1.customers.create_async({"email": "c@example.com"})
    await eventually(dropped(proxy), what="the dropped webhook")
    assert receiver.events == ["customer.created"] * 4  # nothing for c@: dropped

    proxy.faults.hold = True
    customer = await stripe_client.v1.customers.create_async({"email": "d@example.com"})
    await eventually(held_count(proxy), lambda n: n >= 1, what="a held webhook")
    await stripe_client.v1.customers.update_async(customer.id, {"name": "D"})
    await eventually(held_count(proxy), lambda n: n >= 2, what="more held webhooks")
    held = [json.loads(body)["id"] for body, _ in proxy._held]
    proxy.faults.hold = False
    await proxy.release()
    await eventually(received, lambda e: len(e) == 4 + len(held), what="the released webhooks")
    # Released newest first: they arrive in the reverse of the order they happened.
    assert receiver.ids[4:] == held[::-1]


def dropped(proxy: StripeProxy) -> Callable[[], Awaitable[bool]]:
    async def done() -> bool:
        return proxy.faults.drop_next == 0

    return done


def held_count(proxy: StripeProxy) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return len(proxy._held)

    return count
