"""POST /v1/stripe/webhook: signatures verified, each Stripe event stored once."""

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
from sqlmodel import func, select

from creditgate.models import StripeEvent
from tests.support.stack import Stack
from tests.support.waiting import eventually

PATH = "/v1/stripe/webhook"


def signed(event: dict[str, Any], secret: str, at: int | None = None) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    timestamp = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return payload, f"t={timestamp},v1={mac.hexdigest()}"


def an_event(kind: str = "payment_intent.succeeded") -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": {"id": "pi_test", "object": "payment_intent"}},
    }


async def stored(stack: Stack, event_id: str) -> int:
    async with stack.db.session() as session:
        return (
            await session.exec(
                select(func.count()).select_from(StripeEvent).where(StripeEvent.id == event_id)
            )
        ).one()


async def post(stack: Stack, payload: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    # No API key: the signature is the authentication.
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        return await client.post(PATH, content=payload, headers=headers)


async def test_a_signed_event_is_stored_once_and_repeats_change_nothing(stack: Stack) -> None:
    event = an_event()
    payload, signature = signed(event, stack.settings.stripe_webhook_secret)
    first = await post(stack, payload, signature)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "received": True,
        "id": event["id"],
        "type": event["type"],
        "duplicate": False,
    }
    for _ in range(3):
        again = await post(stack, payload, signature)
        assert again.status_code == 200 and again.json()["duplicate"] is True
    assert await stored(stack, event["id"]) == 1


async def test_event_types_not_acted_on_still_get_200(stack: Stack) -> None:
    event = an_event("customer.tax_id.created")
    payload, signature = signed(event, stack.settings.stripe_webhook_secret)
    assert (await post(stack, payload, signature)).status_code == 200


async def test_forged_stale_or_missing_signatures_are_400_and_store_nothing(
    stack: Stack,
) -> None:
    secret = stack.settings.stripe_webhook_secret
    event = an_event()
    payload, good = signed(event, secret)
    cases = {
        "wrong secret": signed(event, "whsec_attacker")[1],
        "older than the tolerance": signed(event, secret, at=int(time.time()) - 3600)[1],
        "garbage header": "t=1,v1=deadbeef",
        "missing header": None,
    }
    for name, signature in cases.items():
        response = await post(stack, payload, signature)
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"]["type"] == "invalid_webhook", name
    tampered = payload.replace(b"pi_test", b"pi_evil")
    assert (await post(stack, tampered, good)).status_code == 400
    mac = hmac.new(secret.encode(), b"%d.not json" % int(time.time()), hashlib.sha256)
    signature = f"t={int(time.time())},v1={mac.hexdigest()}"
    assert (await post(stack, b"not json", signature)).status_code == 400
    assert await stored(stack, event["id"]) == 0


async def test_localstripe_webhooks_reach_the_endpoint_signed(stack: Stack) -> None:
    """The real signing path: localstripe signs with the configured secret (the stack
    registered it, pointing at the proxy, which relays bodies and signatures untouched), and
    the API verifies."""
    customer = await stack.stripe.client.v1.customers.create_async({"email": "hook@example.com"})

    async def customer_events() -> list[StripeEvent]:
        async with stack.db.session() as session:
            rows = await session.exec(
                select(StripeEvent).where(StripeEvent.type == "customer.created")
            )
            return [r for r in rows.all() if r.payload["data"]["object"]["id"] == customer.id]

    found = await eventually(customer_events, what="localstripe's customer.created webhook")
    assert len(found) == 1
