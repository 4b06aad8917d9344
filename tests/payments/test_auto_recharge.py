"""Auto-recharge end to end: a threshold crossing charges the saved card off-session once;
declines retry on the schedule, then switch auto-recharge off until it is enabled again."""

import asyncio
from decimal import Decimal
from typing import Any

from tests.api.support import event, grant, send
from tests.payments.support import (
    DECLINES_CHARGES,
    NEEDS_3DS,
    VISA,
    assert_invariants,
    available,
    calls,
    card,
    customer_on,
    purchases,
    save_card,
    set_auto_recharge,
    succeeded_intents,
)
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.workflows.support import workflow_state


async def recharges(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    return [p for p in await purchases(stack, external_id) if p["kind"] == "recharge"]


async def test_crossing_the_threshold_recharges_back_to_recharge_to(
    stack: Stack, unique_id: str
) -> None:
    customer = await customer_on(stack, unique_id)
    await grant(stack, unique_id, "10")
    await save_card(stack, unique_id, VISA)
    settings = await set_auto_recharge(
        stack, unique_id, enabled=True, threshold="5", recharge_to="20"
    )
    assert settings["status"] == "enabled" and settings["threshold"] == "5"

    await calls(stack, unique_id, 6)  # 10 → 4: crosses 5
    await eventually(lambda: available(stack, unique_id), until=lambda a: a == "20")
    [recharge] = await recharges(stack, unique_id)
    assert (recharge["status"], recharge["amount"], recharge["credits"]) == ("granted", "16", "16")
    [paid] = await succeeded_intents(stack, customer["stripe_customer_id"])
    assert paid.amount == 1600
    # The recharge reports back to the customer workflow just after its grant.
    await eventually(
        lambda: workflow_state(stack, unique_id),
        until=lambda s: (
            s.auto_recharge.in_flight is None and "recharged" in [e.kind for e in s.timeline]
        ),
        what="the customer workflow to hear the recharge finished",
    )
    await assert_invariants(stack)


async def test_a_hundred_concurrent_crossing_events_recharge_once(
    stack: Stack, unique_id: str
) -> None:
    customer = await customer_on(stack, unique_id, unit_amount="0.06")
    await grant(stack, unique_id, "10")
    await save_card(stack, unique_id, VISA)
    await set_auto_recharge(stack, unique_id, enabled=True, threshold="5", recharge_to="20")

    await asyncio.gather(*(send(stack, event(f"e{i}", unique_id, "api_call")) for i in range(100)))
    [recharge] = await eventually(
        lambda: recharges(stack, unique_id),
        until=lambda found: [r["status"] for r in found] == ["granted"],
        what="one granted recharge",
    )
    assert len(await succeeded_intents(stack, customer["stripe_customer_id"])) == 1
    # 10 − 100 × 0.06 = 4, plus what the recharge granted.
    assert Decimal(await available(stack, unique_id)) == 4 + Decimal(recharge["credits"])
    await assert_invariants(stack)


async def test_declines_retry_then_disable_and_re_enabling_recharges_at_once(
    stack: Stack, unique_id: str
) -> None:
    customer = await customer_on(stack, unique_id)
    await grant(stack, unique_id, "10")
    await save_card(stack, unique_id, DECLINES_CHARGES)
    await set_auto_recharge(stack, unique_id, enabled=True, threshold="5", recharge_to="20")

    await calls(stack, unique_id, 7)  # 10 → 3
    state = await eventually(
        lambda: workflow_state(stack, unique_id),
        until=lambda s: s.auto_recharge.status == "failed",
        timeout=60,
        what="auto-recharge to be disabled",
    )
    assert not state.auto_recharge.enabled
    assert "declined" in (state.auto_recharge.disabled_reason or "")
    assert "auto_recharge_disabled" in [e.kind for e in state.timeline]
    attempts = await recharges(stack, unique_id)
    # The stack's schedule (CREDITGATE_RECHARGE_RETRY_DELAYS=1,1): three attempts.
    assert [a["status"] for a in attempts] == ["failed"] * 3
    # Each attempt has its own idempotency key, so each made its own PaymentIntent.
    tried = [
        pi
        for pi in await stack.stripe.list_payment_intents()
        if pi.customer == customer["stripe_customer_id"]
    ]
    assert len(tried) == 3 and all(pi.status != "succeeded" for pi in tried)
    response = await stack.http.get(f"/v1/customers/{unique_id}/auto-recharge")
    stored = response.json()
    assert (stored["status"], stored["enabled"]) == ("failed", False)
    assert "declined" in stored["disabled_reason"]
    assert await available(stack, unique_id) == "3"

    good = await card(stack, VISA)
    settings = await set_auto_recharge(
        stack, unique_id, enabled=True, threshold="5", recharge_to="20", payment_method=good
    )
    assert settings["status"] == "enabled" and settings["payment_method"] == good
    await eventually(lambda: available(stack, unique_id), until=lambda a: a == "20")
    assert len(await succeeded_intents(stack, customer["stripe_customer_id"])) == 1
    await assert_invariants(stack)


async def test_off_session_3d_secure_counts_as_a_failure(stack: Stack, unique_id: str) -> None:
    await customer_on(stack, unique_id)
    await grant(stack, unique_id, "10")
    await save_card(stack, unique_id, NEEDS_3DS)
    await set_auto_recharge(stack, unique_id, enabled=True, threshold="5", recharge_to="20")
    await calls(stack, unique_id, 6)
    state = await eventually(
        lambda: workflow_state(stack, unique_id),
        until=lambda s: s.auto_recharge.status == "failed",
        timeout=60,
        what="auto-recharge to be disabled",
    )
    assert "authentication" in (state.auto_recharge.disabled_reason or "")
    assert await available(stack, unique_id) == "4"
    await assert_invariants(stack)


async def test_credit_units_recharge_450_credits_for_45_usd(stack: Stack, unique_id: str) -> None:
    """The Metronome guide's shape: credits at 0.10 USD each, threshold 50, recharge to 500."""
    customer = await customer_on(
        stack,
        unique_id,
        credit_unit={"name": "credits", "price": "0.10"},
        credit_lifetime={"every": 12, "unit": "month"},
    )
    await grant(stack, unique_id, "60")
    await save_card(stack, unique_id, VISA)
    await set_auto_recharge(stack, unique_id, enabled=True, threshold="50", recharge_to="500")
    await calls(stack, unique_id, 10)  # 60 → 50 credits: at the threshold
    await eventually(lambda: available(stack, unique_id), until=lambda a: a == "500")
    [recharge] = await recharges(stack, unique_id)
    assert (recharge["credits"], recharge["amount"], recharge["currency"]) == ("450", "45", "USD")
    assert recharge["expires_at"] is not None
    [paid] = await succeeded_intents(stack, customer["stripe_customer_id"])
    assert (paid.amount, paid.currency) == (4500, "USD")
    response = await stack.http.get(f"/v1/customers/{unique_id}/balance")
    assert response.json()["currency"] == "credits"
    await assert_invariants(stack)


async def test_enabling_below_the_threshold_recharges_at_once(stack: Stack, unique_id: str) -> None:
    await customer_on(stack, unique_id)
    await grant(stack, unique_id, "2")
    pm = await card(stack, VISA)
    await set_auto_recharge(
        stack, unique_id, enabled=True, threshold="5", recharge_to="25", payment_method=pm
    )
    await eventually(lambda: available(stack, unique_id), until=lambda a: a == "25")
    await assert_invariants(stack)


async def test_bad_auto_recharge_settings_are_4xx_and_change_nothing(
    stack: Stack, unique_id: str
) -> None:
    await customer_on(stack, unique_id)
    path = f"/v1/customers/{unique_id}/auto-recharge"
    bad = [
        {"enabled": True, "threshold": "5", "recharge_to": "5"},
        {"enabled": True, "threshold": "-1", "recharge_to": "5"},
        {"enabled": True, "threshold": 5.0, "recharge_to": "20"},
        {"enabled": True, "threshold": "5"},
        {"enabled": True, "threshold": "5", "recharge_to": "20"},  # no saved card
        {"enabled": True, "threshold": "5", "recharge_to": "20000000"},
        {"enabled": True, "threshold": "5", "recharge_to": "20", "payment_method": "visa"},
    ]
    for body in bad:
        response = await stack.http.put(path, json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert "error" in response.json()
    assert (await stack.http.get(path)).status_code == 404
    declined = await card(stack, "4000000000000002")
    response = await stack.http.put(
        path,
        json={"enabled": True, "threshold": "5", "recharge_to": "20", "payment_method": declined},
    )
    assert response.status_code == 402, response.text
    assert response.json()["error"]["type"] == "card_declined"
    assert (await stack.http.get(path)).status_code == 404
    assert (await workflow_state(stack, unique_id)).payment_method is None
