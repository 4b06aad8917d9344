"""Dunning on the dev server with second-long periods: a declining card is retried on the
schedule, then the customer is cut off (through the API, the real worker, localstripe)."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError

from creditgate.ledger import service
from creditgate.ledger.grants import GrantSpec
from creditgate.models import Purchase
from creditgate.payments import store as payments
from creditgate.statements import store
from tests.api.support import create_plan, event, send, signup
from tests.payments.support import DECLINES_CHARGES, assert_invariants, card, purchases
from tests.statements.support import assert_invariants as assert_period_invariants
from tests.statements.support import (
    customer_on,
    save_card,
    statement_closed,
    usage,
)
from tests.support.plans import metered_plan, plan_code
from tests.support.stack import Stack
from tests.support.time_skipping import TimeSkipping, skip
from tests.support.waiting import eventually
from tests.workflows.support import workflow_state

T = TypeVar("T")


async def statements(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    response = await stack.http.get(f"/v1/customers/{external_id}/statements")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def test_a_declining_card_runs_dunning_and_ends_in_cut_off(
    stack: Stack, arrears_customer: str
) -> None:
    who = arrears_customer
    pm = await card(stack, DECLINES_CHARGES)
    response = await stack.http.put(
        f"/v1/customers/{who}/payment-method", json={"payment_method": pm}
    )
    assert response.status_code == 200, response.text
    await send(stack, event("s1", who, "seats", count=3))

    state = await eventually(
        lambda: workflow_state(stack, who),
        until=lambda s: (
            s.status == "cut_off" and any("unpaid after dunning" in e.message for e in s.timeline)
        ),
        timeout=60,
        what="dunning to end in cut-off",
    )
    assert state.statements_closed >= 1
    first = (await statements(stack, who))[-1]
    assert first["number"] == 1 and first["amount_due"] == "6"
    assert first["usage"][0]["quantity"] == "3" and first["true_up"] == "6"
    assert first["payment"]["status"] == "failed"
    # The stack's schedule (CREDITGATE_DUNNING_RETRY_DELAYS=1,1): three declined attempts.
    invoices = [p for p in await purchases(stack, who) if p["id"].startswith("inv_")]
    assert len(invoices) >= 3 and all(p["status"] == "failed" for p in invoices)
    balance = (await stack.http.get(f"/v1/customers/{who}/balance")).json()
    assert (balance["debt"], balance["entitled"]) == ("6", False)
    html = await stack.http.get(f"/v1/customers/{who}/statements/1/html")
    assert html.status_code == 200 and '<p class="due">$6.00</p>' in html.text
    await assert_invariants(stack)


async def test_pay_as_you_go_runs_into_debt_until_the_spend_limit(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(
        stack,
        {
            "code": code,
            "name": "Pay as you go",
            "currency": "USD",
            "billing": "arrears",
            "spend_limit": "1.00",
            "meters": [{"code": "calls", "event_type": "api_call", "aggregation": "count"}],
            "prices": [{"meter": "calls", "model": "per_unit", "unit_amount": "0.40"}],
        },
    )
    customer = await signup(stack, unique_id, plan=code)
    assert customer["balance"]["entitled"] is True  # no prepaid balance needed
    results = await send(stack, *(event(f"c{i}", unique_id, "api_call") for i in range(3)))
    assert [r["balance_after"] for r in results] == ["-0.4", "-0.8", "-1.2"]
    balance = (await stack.http.get(f"/v1/customers/{unique_id}/balance")).json()
    assert (balance["debt"], balance["entitled"]) == ("1.2", False)
    state = await eventually(
        lambda: workflow_state(stack, unique_id), until=lambda s: s.status == "cut_off"
    )
    assert state.entitled is False
    await assert_invariants(stack)


async def test_spend_limit_is_for_arrears_plans_only(stack: Stack, unique_id: str) -> None:
    body = {"code": plan_code(unique_id), "name": "x", "spend_limit": "5"}
    response = await stack.http.post("/v1/plans", json=body)
    assert response.status_code == 400 or response.status_code == 422, response.text
    assert "arrears" in response.json()["error"]["message"]


async def last_event(time_skipping: TimeSkipping, workflow_id: str) -> "EventType.ValueType | None":
    history = await time_skipping.client.get_workflow_handle(workflow_id).fetch_history()
    return history.events[-1].event_type if history.events else None


async def skip_until(
    time_skipping: TimeSkipping,
    sleeper: str,
    duration: timedelta,
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    what: str,
) -> T:
    """Once ``sleeper`` waits on its timer, advance the test server's clock by ``duration``
    in the background until ``until``. (Skipping before the timer exists would move the clock
    past where the timer then starts, and it would never fire within the skip.)"""
    await eventually(
        lambda: last_event(time_skipping, sleeper),
        until=lambda kind: kind == EventType.EVENT_TYPE_TIMER_STARTED,
        timeout=60,
        what=f"{sleeper} to wait on its timer",
    )
    skipping_ahead = asyncio.create_task(skip(time_skipping.env, duration))
    try:
        return await eventually(probe, until=until, timeout=120, what=what)
    finally:
        skipping_ahead.cancel()
        with contextlib.suppress(asyncio.CancelledError, RPCError):
            await skipping_ahead


async def test_each_dunning_attempt_charges_only_what_is_still_owed(
    time_skipping: TimeSkipping, unique_id: str
) -> None:
    """Time-skipping server, dunning retries a day apart: debt paid between attempts is
    not charged again, and once nothing is owed nothing is charged."""
    await customer_on(time_skipping, unique_id, metered_plan(f"d-{unique_id}", billing="arrears"))
    await save_card(time_skipping, unique_id, DECLINES_CHARGES)
    await usage(time_skipping, unique_id, *[("image_generated", {})] * 2, ("seats", {"count": 2}))
    statement = await statement_closed(time_skipping, unique_id)
    assert statement.amount_due == Decimal("5.00")

    async def invoices() -> list[Purchase]:
        rows = await payments.list_purchases(time_skipping.db, statement.customer_id)
        return sorted((p for p in rows if p.kind == "invoice"), key=lambda p: p.created_at)

    def failed(n: int) -> Callable[[list[Purchase]], bool]:
        return lambda rows: len(rows) == n and all(p.status == "failed" for p in rows)

    [first] = await eventually(
        invoices, until=failed(1), timeout=60, what="the first attempt to fail"
    )
    assert first.workflow_id is not None
    # The customer pays 3.00 of the 5.00 some other way before the next attempt.
    await service.grant(
        time_skipping.db, unique_id, GrantSpec(amount=Decimal(3), source="promotional")
    )
    second = await skip_until(
        time_skipping,
        first.workflow_id,
        timedelta(days=1, hours=1),
        invoices,
        failed(2),
        "the second attempt to fail",
    )
    assert [p.amount for p in second] == [Decimal(5), Decimal(2)]

    # The rest is paid too: the last attempt has nothing to charge, and the statement is paid.
    await service.grant(
        time_skipping.db, unique_id, GrantSpec(amount=Decimal(2), source="promotional")
    )
    paid = await skip_until(
        time_skipping,
        first.workflow_id,
        timedelta(days=1, hours=1),
        lambda: store.get_statement(time_skipping.db, statement.customer_id, 1),
        lambda s: s is not None and s.payment_status != "pending",
        "the statement's collection to end",
    )
    assert paid is not None and (paid.payment_status, paid.payment_intent) == ("paid", None)
    assert len(await invoices()) == 2
    stored = await time_skipping.stored(unique_id)
    assert stored is not None and stored.wallet.balance == 0 and stored.wallet.entitled
    charged = await time_skipping.stripe.list_payment_intents()
    assert [pi for pi in charged if pi.customer == stored.customer.stripe_customer_id
            and pi.status == "succeeded"] == []  # fmt: skip
    await assert_period_invariants(time_skipping)
