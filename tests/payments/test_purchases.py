"""Payment-gated purchases end to end: real Temporal dev server, localstripe behind the
proxy, the API over HTTP. Credits appear only once Stripe says paid, exactly once."""

import asyncio
import json
import uuid

from tests.api.support import balance, ledger, post, signed, signup
from tests.payments.support import (
    DECLINED,
    VISA,
    assert_invariants,
    available,
    card,
    get_purchase,
    purchase,
    purchase_settled,
    succeeded_intents,
)
from tests.support.stack import Stack
from tests.support.stripe_proxy import StripeProxy
from tests.support.waiting import eventually


async def test_credits_appear_only_after_the_succeeded_webhook(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    customer = await signup(stack, unique_id)
    proxy.faults.hold = True
    status, body = await purchase(
        stack, unique_id, amount="20.00", payment_method=await card(stack, VISA)
    )
    assert status == 201, body
    assert body["status"] == "pending" and body["payment_intent"].startswith("pi_")
    assert (body["amount"], body["credits"], body["currency"]) == ("20", "20", "USD")
    # Stripe has taken the money, but the webhook has not arrived: nothing granted yet.
    [paid] = await succeeded_intents(stack, customer["stripe_customer_id"])
    assert paid.id == body["payment_intent"] and paid.amount == 2000
    assert (await get_purchase(stack, body["id"]))["status"] == "pending"
    assert await available(stack, unique_id) == "0"

    await eventually(
        lambda: asyncio.sleep(0, proxy.held("payment_intent.succeeded")),
        what="localstripe's payment_intent.succeeded webhook",
    )
    await proxy.release()
    settled = await purchase_settled(stack, body["id"])
    assert settled["status"] == "granted" and settled["reason"] is None
    assert await available(stack, unique_id) == "20"
    [granted] = [e for e in await ledger(stack, unique_id) if e["kind"] == "grant"]
    assert granted["amount"] == "20"
    await assert_invariants(stack)


async def test_a_declined_card_fails_the_purchase_with_the_reason(
    stack: Stack, unique_id: str
) -> None:
    customer = await signup(stack, unique_id)
    status, body = await purchase(
        stack, unique_id, amount="20.00", payment_method=await card(stack, DECLINED)
    )
    assert status == 402, body
    assert body["error"]["type"] == "card_declined"
    assert "declined" in body["error"]["message"].lower()
    failed = body["error"]["purchase"]
    assert failed["status"] == "failed" and "card_declined" in failed["reason"]
    assert (await get_purchase(stack, failed["id"]))["status"] == "failed"
    assert await succeeded_intents(stack, customer["stripe_customer_id"]) == []
    assert await available(stack, unique_id) == "0"
    await assert_invariants(stack)


async def test_a_dropped_webhook_is_made_up_for_by_the_poll(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    await signup(stack, unique_id)
    proxy.faults.drop_next = 1_000
    status, body = await purchase(
        stack, unique_id, amount="7.50", payment_method=await card(stack, VISA)
    )
    assert status == 201, body
    settled = await purchase_settled(stack, body["id"], timeout=60)
    assert settled["status"] == "granted"
    assert await available(stack, unique_id) == "7.5"
    await assert_invariants(stack)


async def test_duplicated_and_reordered_webhooks_grant_once(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    await signup(stack, unique_id)
    proxy.faults.hold = True
    proxy.faults.copies = 3
    pm = await card(stack, VISA)
    bodies = [
        (await purchase(stack, unique_id, amount=amount, payment_method=pm))[1]
        for amount in ("5.00", "6.00")
    ]
    await eventually(
        lambda: asyncio.sleep(0, proxy.held("payment_intent.succeeded")),
        until=lambda held: len(held) >= 2,
        what="both succeeded webhooks",
    )
    await proxy.release()  # newest first, each three times
    for body in bodies:
        assert (await purchase_settled(stack, body["id"]))["status"] == "granted"
    assert await available(stack, unique_id) == "11"
    grants = [e for e in await ledger(stack, unique_id) if e["kind"] == "grant"]
    assert sorted(g["amount"] for g in grants) == ["5", "6"]
    await assert_invariants(stack)


async def test_forged_or_stale_payment_webhooks_are_400_and_change_nothing(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    await signup(stack, unique_id)
    proxy.faults.hold = True
    status, body = await purchase(
        stack, unique_id, amount="3.00", payment_method=await card(stack, VISA)
    )
    assert status == 201
    real = await eventually(
        lambda: asyncio.sleep(0, proxy.held("payment_intent.succeeded")),
        what="the succeeded webhook",
    )
    event = json.loads(real[0])
    forged_payload, forged = signed(event, "whsec_not_the_secret")
    stale_payload, stale = signed(
        {**event, "id": f"evt_{uuid.uuid4().hex[:20]}"},
        stack.settings.stripe_webhook_secret,
        at=int(event["created"]) - 3600,
    )
    for payload, signature in ((forged_payload, forged), (stale_payload, stale)):
        response = await post(stack, payload, signature)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["type"] == "invalid_webhook"
    assert (await get_purchase(stack, body["id"]))["status"] == "pending"
    assert (await balance(stack, unique_id))["available"] == "0"
    proxy.faults.hold = False
    await proxy.release()
    assert (await purchase_settled(stack, body["id"]))["status"] == "granted"
    await assert_invariants(stack)


async def test_without_a_card_the_browser_confirms_with_the_client_secret(
    stack: Stack, unique_id: str
) -> None:
    await signup(stack, unique_id)
    status, body = await purchase(stack, unique_id, credits="12.34")
    assert status == 201, body
    assert body["status"] == "pending" and body["client_secret"].startswith(body["payment_intent"])
    # What Stripe.js does in the customer's browser: attach a card and confirm.
    pm = await card(stack, VISA)
    intents = stack.stripe.client.v1.payment_intents
    await intents.update_async(body["payment_intent"], {"payment_method": pm})
    await intents.confirm_async(body["payment_intent"])
    settled = await purchase_settled(stack, body["id"])
    assert settled["status"] == "granted" and settled["client_secret"] is None
    assert await available(stack, unique_id) == "12.34"
    await assert_invariants(stack)


async def test_a_repeated_idempotency_key_returns_the_same_purchase(
    stack: Stack, unique_id: str
) -> None:
    customer = await signup(stack, unique_id)
    pm = await card(stack, VISA)
    headers = {"Idempotency-Key": f"buy-{unique_id}"}
    answers = await asyncio.gather(
        *(
            stack.http.post(
                f"/v1/customers/{unique_id}/purchases",
                json={"amount": "4.00", "payment_method": pm},
                headers=headers,
            )
            for _ in range(5)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    await purchase_settled(stack, answers[0].json()["id"])
    assert len(await succeeded_intents(stack, customer["stripe_customer_id"])) == 1
    assert await available(stack, unique_id) == "4"
    await assert_invariants(stack)
