"""POST /v1/stripe/webhook: signatures verified, each Stripe event stored once."""

import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

import pytest
from sqlmodel import func, select

from creditgate.models import StripeEvent
from tests.api.support import post, signed
from tests.support.stack import Stack
from tests.support.waiting import eventually


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


def _payment_intent_event(obj: object) -> dict[str, Any]:
    return {**an_event(), "data": {"object": obj}}


# Signed with the right secret, yet nothing Creditgate can use: each is refused with a 400 or
# acknowledged, and none is a 500 or reaches a purchase.
UNUSABLE: dict[str, bytes | dict[str, Any] | list[Any]] = {
    "not JSON": b"{not json",
    "not UTF-8": b'{"id": "evt_\xff"}',
    "JSON array": [an_event()],
    "JSON string": b'"evt_1"',
    "JSON null": b"null",
    "no id": {k: v for k, v in an_event().items() if k != "id"},
    "id not a string": {**an_event(), "id": 12345},
    "empty id": {**an_event(), "id": ""},
    "id too long": {**an_event(), "id": "evt_" + "x" * 300},
    "no type": {k: v for k, v in an_event().items() if k != "type"},
    "type not a string": {**an_event(), "type": ["payment_intent.succeeded"]},
    "type too long": {**an_event(), "type": "payment_intent." + "x" * 200},
    "no data": {k: v for k, v in an_event().items() if k != "data"},
    "data a string": {**an_event(), "data": "payment_intent"},
    "data without object": {**an_event(), "data": {}},
    "data.object a string": _payment_intent_event("pi_123"),
    "data.object a list": _payment_intent_event([{"id": "pi_123"}]),
    "created huge": {**an_event(), "created": 10**30},
    "created negative": {**an_event(), "created": -(10**20)},
    "created a string": {**an_event(), "created": "yesterday"},
    "payment_intent without id": _payment_intent_event(
        {"object": "payment_intent", "metadata": {"creditgate_kind": "purchase"}}
    ),
    "payment_intent id a number": _payment_intent_event(
        {
            "id": 42,
            "metadata": {"creditgate_kind": "purchase", "creditgate_workflow_id": "purchase-x"},
        }
    ),
    "payment_intent without metadata": _payment_intent_event({"id": "pi_no_metadata"}),
    "metadata a string": _payment_intent_event({"id": "pi_x", "metadata": "purchase"}),
    "workflow id not a string": _payment_intent_event(
        {"id": "pi_x", "metadata": {"creditgate_kind": "purchase", "creditgate_workflow_id": 7}}
    ),
    "workflow id empty": _payment_intent_event(
        {"id": "pi_x", "metadata": {"creditgate_kind": "purchase", "creditgate_workflow_id": ""}}
    ),
    "workflow id unknown": _payment_intent_event(
        {
            "id": "pi_x",
            "metadata": {"creditgate_kind": "purchase", "creditgate_workflow_id": "purchase-none"},
        }
    ),
    "amount a string": _payment_intent_event(
        {"id": "pi_x", "amount": "lots", "metadata": {"creditgate_kind": "purchase"}}
    ),
    "amount huge": _payment_intent_event(
        {"id": "pi_x", "amount": 10**40, "metadata": {"creditgate_kind": "purchase"}}
    ),
    "amount 1e400": b'{"id": "evt_inf", "type": "payment_intent.succeeded", '
    b'"data": {"object": {"id": "pi_x", "amount": 1e400}}}',
    "amount NaN": b'{"id": "evt_nan", "type": "payment_intent.succeeded", '
    b'"data": {"object": {"id": "pi_x", "amount": NaN}}}',
    "refund amount a string": {
        **an_event("charge.refunded"),
        "data": {"object": {"payment_intent": "pi_x", "amount_refunded": "all"}},
    },
    "refund amount true": {
        **an_event("charge.refunded"),
        "data": {"object": {"payment_intent": "pi_x", "amount_refunded": True}},
    },
    "refund amount negative": {
        **an_event("charge.refunded"),
        "data": {"object": {"payment_intent": "pi_x", "amount_refunded": -500}},
    },
    "refund without payment_intent": {
        **an_event("charge.refunded"),
        "data": {"object": {"amount_refunded": 500}},
    },
    "NUL in the id": {**an_event(), "id": "evt_\u0000nul"},
    "NUL in the object": _payment_intent_event({"id": "pi_\u0000", "metadata": {}}),
    "NUL in a key": _payment_intent_event({"id": "pi_x", "meta\u0000data": {}}),
    "lone surrogate": b'{"id": "evt_sur", "type": "customer.created", '
    b'"data": {"object": {"name": "\\ud800"}}}',
    "deeply nested": b'{"id": "evt_deep", "type": "customer.created", "data": {"object": '
    + b'{"a": ' * 5000
    + b"1"
    + b"}" * 5000
    + b"}}",
    "unknown type": an_event("creditgate.made_up"),
    "empty type": {**an_event(), "type": ""},
}


def signed_body(body: bytes | dict[str, Any] | list[Any], secret: str) -> tuple[bytes, str]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return payload, f"t={timestamp},v1={mac.hexdigest()}"


# Cases acknowledged without a log line: nothing is wrong with them, they are not ours.
NOT_LOGGED = {
    "unknown type",
    "workflow id unknown",
    "payment_intent without metadata",
    # The amount is Stripe's to check: the purchase reads the PaymentIntent itself.
    "amount a string",
    "amount huge",
}


@pytest.mark.parametrize("case", list(UNUSABLE))
async def test_a_signed_event_that_cannot_be_used_is_a_4xx_or_acknowledged_never_a_500(
    stack: Stack, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    payload, signature = signed_body(UNUSABLE[case], stack.settings.stripe_webhook_secret)
    with caplog.at_level(logging.WARNING, logger="creditgate.api"):
        response = await post(stack, payload, signature)
        again = await post(stack, payload, signature)
    assert response.status_code in (200, 400), response.text
    assert again.status_code == response.status_code, again.text
    if response.status_code == 400:
        assert response.json()["error"]["type"] == "invalid_webhook"
    else:
        assert response.json()["received"] is True
        assert again.json()["duplicate"] is True
    if case not in NOT_LOGGED:
        assert "Stripe" in caplog.text  # refused or not acted on: either way, logged
    body = UNUSABLE[case]
    event_id = body.get("id") if isinstance(body, dict) else None
    if response.status_code == 400 and isinstance(event_id, str) and "\x00" not in event_id:
        assert await stored(stack, event_id) == 0
