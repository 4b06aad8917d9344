"""Every event type, produced by driving the real flows (API, worker, relay, localstripe) and
read back from ``GET .../events`` with its documented data and gap-free sequences."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from creditgate.events.catalogue import DATA, EventType
from tests.api.support import create_plan, event, grant, iso, send, signup
from tests.events.support import events_until, of_type
from tests.payments.support import (
    DECLINED,
    DECLINES_CHARGES,
    VISA,
    calls,
    card,
    customer_on,
    deliver,
    purchase,
    purchase_settled,
    refunded,
    save_card,
    set_auto_recharge,
)
from tests.plans.support import new_version, wait_until_finished
from tests.support.plans import design_plan, plan_code
from tests.support.stack import Stack


def parsed(event: dict[str, Any]) -> Any:
    """The event's data read with its catalogue model (so it has the documented shape)."""
    return DATA[EventType(event["type"])].model_validate(event["data"])


async def test_a_customers_lifecycle_is_told_in_order(stack: Stack, unique_id: str) -> None:
    await customer_on(stack, unique_id)
    await grant(stack, unique_id, "3", reason="welcome")
    await calls(stack, unique_id, 3)  # 3 → 0: cut off
    status, body = await purchase(
        stack, unique_id, amount="20.00", payment_method=await card(stack, VISA)
    )
    assert status == 201, body
    await purchase_settled(stack, body["id"])
    expiring = await grant(
        stack, unique_id, "1", expires_at=iso(datetime.now(UTC) + timedelta(seconds=2))
    )
    await deliver(stack, refunded(body["payment_intent"], 2000, 500))

    events = await events_until(
        stack,
        unique_id,
        [
            "customer.created",
            *["grant.created"] * 3,
            *["customer.restored"] * 2,
            "customer.cut_off",
            "purchase.succeeded",
            "grant.expired",
            "purchase.refunded",
        ],
    )
    for e in events:
        parsed(e)
    created = parsed(of_type(events, "customer.created")[0])
    assert (created.plan, created.email) == (plan_code(unique_id), "jane@example.com")
    assert events[0]["type"] == "customer.created"
    [cut_off] = of_type(events, "customer.cut_off")
    assert cut_off["data"]["available"] == "0" and cut_off["data"]["entitled"] is False
    assert cut_off["data"]["entry"]["kind"] == "debit"
    assert cut_off["data"]["entry"]["event_id"] == "c2"
    first_restore, second_restore = of_type(events, "customer.restored")
    assert first_restore["sequence"] < cut_off["sequence"] < second_restore["sequence"]
    assert first_restore["data"]["entry"]["kind"] == "grant"
    grants = [parsed(e) for e in of_type(events, "grant.created")]
    assert [(g.amount, g.source) for g in grants] == [
        (Decimal(3), "promotional"),
        (Decimal(20), "purchase"),
        (Decimal(1), "promotional"),
    ]
    [succeeded] = of_type(events, "purchase.succeeded")
    assert succeeded["data"] == {
        "purchase_id": body["id"],
        "amount": "20",
        "currency": "USD",
        "credits": "20",
        "payment_intent": body["payment_intent"],
    }
    [expired] = of_type(events, "grant.expired")
    assert expired["data"]["grant_id"] == expiring["id"]
    assert expired["data"]["expired_amount"] == "1"
    [refund] = of_type(events, "purchase.refunded")
    assert refund["data"]["purchase_id"] == body["id"]
    assert (refund["data"]["refunded_amount"], refund["data"]["credits"]) == ("5", "5")


async def test_a_declined_card_is_purchase_failed(stack: Stack, unique_id: str) -> None:
    await signup(stack, unique_id)
    status, body = await purchase(
        stack, unique_id, amount="20.00", payment_method=await card(stack, DECLINED)
    )
    assert status == 402, body
    events = await events_until(stack, unique_id, ["customer.created", "purchase.failed"])
    [failed] = of_type(events, "purchase.failed")
    assert failed["data"]["purchase_id"] == body["error"]["purchase"]["id"]
    assert "card_declined" in failed["data"]["reason"]
    assert of_type(events, "purchase.succeeded") == []


async def test_auto_recharge_success(stack: Stack, unique_id: str) -> None:
    await customer_on(stack, unique_id)
    await grant(stack, unique_id, "10")
    await save_card(stack, unique_id, VISA)
    await set_auto_recharge(stack, unique_id, enabled=True, threshold="5", recharge_to="20")
    await calls(stack, unique_id, 6)  # 10 → 4: crosses 5
    events = await events_until(stack, unique_id, ["auto_recharge.succeeded"])
    [recharged] = of_type(events, "auto_recharge.succeeded")
    assert (recharged["data"]["amount"], recharged["data"]["credits"]) == ("16", "16")
    assert recharged["data"]["attempt"] == 1
    assert [g["data"]["source"] for g in of_type(events, "grant.created")] == [
        "promotional",
        "recharge",
    ]


async def test_auto_recharge_declines_then_disabled(stack: Stack, unique_id: str) -> None:
    await customer_on(stack, unique_id)
    await grant(stack, unique_id, "10")
    await save_card(stack, unique_id, DECLINES_CHARGES)
    await set_auto_recharge(stack, unique_id, enabled=True, threshold="5", recharge_to="20")
    await calls(stack, unique_id, 7)
    events = await events_until(
        stack, unique_id, ["auto_recharge.failed"] * 3 + ["auto_recharge.disabled"]
    )
    failed = [parsed(e) for e in of_type(events, "auto_recharge.failed")]
    assert [(f.attempt, f.attempts) for f in failed] == [(1, 3), (2, 3), (3, 3)]
    # The stack's schedule (CREDITGATE_RECHARGE_RETRY_DELAYS=1,1): each retry a second on.
    first_at = datetime.fromisoformat(of_type(events, "auto_recharge.failed")[0]["created_at"])
    assert failed[0].next_attempt_at is not None
    assert failed[0].next_attempt_at - first_at == timedelta(seconds=1)
    assert failed[2].next_attempt_at is None
    assert all("declined" in (f.reason or "") for f in failed)
    [disabled] = of_type(events, "auto_recharge.disabled")
    assert disabled["data"]["attempts"] == 3 and "declined" in disabled["data"]["reason"]
    assert disabled["sequence"] > max(
        e["sequence"] for e in of_type(events, "auto_recharge.failed")
    )


async def test_a_period_closes_and_its_statement_is_paid(
    stack: Stack, arrears_customer: str
) -> None:
    who = arrears_customer
    await save_card(stack, who, VISA)
    await send(stack, event("s1", who, "seats", count=3))
    events = await events_until(stack, who, ["statement.closed", "statement.paid"])
    first = next(
        parsed(e) for e in of_type(events, "statement.closed") if e["data"]["amount_due"] != "0"
    )
    assert (first.amount_due, first.currency, first.payment_status) == (
        Decimal(6),
        "USD",
        "pending",
    )
    assert first.period_end - first.period_start == timedelta(seconds=8)
    paid = parsed(of_type(events, "statement.paid")[0])
    assert (paid.statement_id, paid.amount_due) == (first.statement_id, Decimal(6))
    assert paid.payment_intent is not None and paid.payment_intent.startswith("pi_")
    closed_at = next(
        e["sequence"] for e in events if e["data"].get("statement_id") == first.statement_id
    )
    assert closed_at < of_type(events, "statement.paid")[0]["sequence"]


async def test_dunning_fails_each_attempt_then_cuts_off(
    stack: Stack, arrears_customer: str
) -> None:
    who = arrears_customer
    await save_card(stack, who, DECLINES_CHARGES)
    await send(stack, event("s1", who, "seats", count=3))
    events = await events_until(
        stack, who, ["statement.closed", *["statement.payment_failed"] * 3, "customer.cut_off"]
    )
    failed = [parsed(e) for e in of_type(events, "statement.payment_failed")][:3]
    assert [f.attempt for f in failed] == [1, 2, 3]
    assert len({f.statement_id for f in failed}) == 1 and failed[0].amount_due == Decimal(6)
    assert failed[0].next_attempt_at is not None and failed[2].next_attempt_at is None
    [cut_off] = of_type(events, "customer.cut_off")
    assert (cut_off["data"]["debt"], cut_off["data"]["entitled"]) == ("6", False)
    assert cut_off["sequence"] > of_type(events, "statement.payment_failed")[2]["sequence"]
    assert of_type(events, "statement.paid") == []


async def test_a_plan_migration_is_told_to_each_customer_moved(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, design_plan(code))
    await signup(stack, unique_id, plan=code)
    await new_version(stack, code, design_plan(code))
    response = await stack.http.post(
        f"/v1/plans/{code}/migrate", json={"from_version": 1, "to_version": 2, "effective": "now"}
    )
    assert response.status_code == 202, response.text
    migration = response.json()
    await wait_until_finished(stack, code, migration["id"])
    events = await events_until(stack, unique_id, ["customer.created", "plan_migration.completed"])
    [moved] = of_type(events, "plan_migration.completed")
    assert moved["data"] == {
        "migration_id": migration["id"],
        "plan": code,
        "from_version": 1,
        "to_version": 2,
        "effective": "now",
    }
