"""Monthly periods close on Temporal's time-skipping server into statements with exact
amounts: real worker and activities, a migrated SQLite ledger, localstripe."""

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

from temporalio.service import RPCError

from creditgate.checks.ledger import check
from creditgate.checks.payments import check_payments
from creditgate.ledger import service
from creditgate.ledger.grants import GrantSpec
from creditgate.ledger.usage import EventIn
from creditgate.models import Statement
from creditgate.payments import store as payments
from creditgate.plans import catalog as plans
from creditgate.pricing.plan import PlanDefinition
from creditgate.statements import store
from messages.customer import CustomerState
from tests.payments.support import VISA
from tests.support.time_skipping import TimeSkipping, skip, until_period_closes
from tests.support.waiting import eventually
from workflows.customer import CustomerWorkflow


def metered_plan(code: str, **extra: Any) -> PlanDefinition:
    """Volume-tiered images, tokens by the 1,000-package, and seats on a ``max`` meter."""
    return PlanDefinition.model_validate(
        {
            "code": code,
            "name": "Metered",
            "currency": "USD",
            "meters": [
                {"code": "images", "event_type": "image_generated", "aggregation": "count"},
                {"code": "tokens", "event_type": "tokens", "aggregation": "sum",
                 "value_property": "count"},
                {"code": "seats", "event_type": "seats", "aggregation": "max",
                 "value_property": "count"},
            ],
            "prices": [
                {"meter": "images", "model": "tiered_volume", "tiers": [
                    {"up_to": "3", "unit_amount": "0.50"},
                    {"up_to": None, "unit_amount": "0.30"}]},
                {"meter": "tokens", "model": "package", "package_size": "1000",
                 "unit_amount": "0.04"},
                {"meter": "seats", "model": "per_unit", "unit_amount": "2.00"},
            ],
            **extra,
        }
    )  # fmt: skip


async def customer_on(time_skipping: TimeSkipping, external_id: str, plan: PlanDefinition) -> None:
    await plans.create_plan(time_skipping.db, plan)
    await time_skipping.start(external_id, plan=plan.code)
    await eventually(
        lambda: state(time_skipping, external_id),
        until=lambda s: s is not None and s.registered and s.billing is not None,
        timeout=60,
        what="signup and the billing schedule",
    )


async def usage(
    time_skipping: TimeSkipping, external_id: str, *events: tuple[str, dict[str, Any]]
) -> None:
    for n, (event_type, properties) in enumerate(events):
        [result] = await service.ingest(
            time_skipping.db, [EventIn(f"e{n}", external_id, event_type, properties=properties)]
        )
        assert result.status == "debited", result


async def statement_closed(
    time_skipping: TimeSkipping, external_id: str, number: int = 1
) -> Statement:
    customer_id = await payments.customer_id_of(time_skipping.db, external_id)

    async def find() -> Statement | None:
        return await store.get_statement(time_skipping.db, customer_id, number)

    current = await state(time_skipping, external_id)
    assert current is not None and current.billing is not None
    duration = until_period_closes(current.billing, await time_skipping.env.get_current_time())
    # The test server's sleep call does not always return once the clock has passed (seen
    # here with only a far timer left): skip in the background and wait for the statement.
    skipping_ahead = asyncio.create_task(skip(time_skipping.env, duration))
    try:
        found = await eventually(find, timeout=120, what=f"statement {number}")
    finally:
        skipping_ahead.cancel()
        with contextlib.suppress(asyncio.CancelledError, RPCError):
            await skipping_ahead
    assert found is not None
    return found


async def state(time_skipping: TimeSkipping, external_id: str) -> CustomerState | None:
    """The workflow's state; None while a query cannot be answered yet (a loaded machine)."""
    handle = time_skipping.client.get_workflow_handle(f"customer-{external_id}")
    try:
        found: CustomerState = await handle.query(CustomerWorkflow.get_state)
    except RPCError:
        return None
    return found


async def assert_invariants(time_skipping: TimeSkipping) -> None:
    violations = await check(time_skipping.db) + await check_payments(
        time_skipping.db, time_skipping.stripe
    )
    assert violations == [], "\n".join(map(str, violations))


def line(statement: Statement, meter: str) -> dict[str, Any]:
    [found] = [u for u in statement.usage if u["meter"] == meter]
    return found


async def test_a_prepaid_month_closes_with_a_true_up_and_max_rated_at_close(
    time_skipping: TimeSkipping, unique_id: str
) -> None:
    await customer_on(time_skipping, unique_id, metered_plan(f"p-{unique_id}"))
    await service.grant(
        time_skipping.db, unique_id, GrantSpec(amount=Decimal(20), source="promotional")
    )
    await usage(
        time_skipping,
        unique_id,
        *[("image_generated", {})] * 5,  # real time 0.50 + 0.50 + 0.50 + 0 + 0.30 = 1.80
        ("tokens", {"count": 1500}),  # real time pro rata: 0.06
        ("seats", {"count": 3}),
        ("seats", {"count": 7}),
        ("seats", {"count": 4}),  # max: rated only at close
    )
    statement = await statement_closed(time_skipping, unique_id)

    assert statement.number == 1
    assert line(statement, "images")["quantity"] == "5"
    assert line(statement, "images")["amount"] == "1.5"  # volume: all 5 at 0.30
    assert line(statement, "tokens")["amount"] == "0.08"  # 2 packages (rounded up)
    assert line(statement, "seats") | {} == line(statement, "seats")
    assert (line(statement, "seats")["quantity"], line(statement, "seats")["amount"]) == ("7", "14")
    assert statement.realtime_debits == Decimal("1.86")
    assert statement.true_up == Decimal("13.72")  # 15.58 rated − 1.86 debited
    assert statement.opening_balance == 0 and statement.grants == 20
    assert statement.usage_debited == Decimal("1.86")
    assert statement.closing_balance == Decimal("4.42")
    assert statement.amount_due == 0 and statement.payment_status == "none"
    # It reconciles, both ways.
    assert (
        statement.opening_balance + statement.grants - statement.usage_debited
        - statement.expired + statement.adjustments - statement.true_up
    ) == statement.closing_balance  # fmt: skip
    assert statement.realtime_debits + statement.true_up == sum(
        Decimal(u["amount"]) for u in statement.usage
    )
    handle = time_skipping.client.get_workflow_handle(f"customer-{unique_id}")

    async def continued() -> bool:
        info = (await handle.describe()).raw_description.workflow_execution_info
        return info.execution.run_id != info.first_run_id

    await eventually(continued, timeout=60, what="continue-as-new after the close")
    after = await eventually(
        lambda: state(time_skipping, unique_id),
        until=lambda s: s is not None and s.statements_closed >= 1 and s.run_number >= 2,
        timeout=60,
        what="the continued run's state",
    )
    # (The test server may have skipped on into later, empty periods by now.)
    assert after is not None and after.billing is not None and after.billing.next_index >= 1
    assert "statement" in [e.kind for e in after.timeline]
    await assert_invariants(time_skipping)


async def test_an_arrears_month_is_collected_on_the_saved_card(
    time_skipping: TimeSkipping, unique_id: str
) -> None:
    plan = metered_plan(f"a-{unique_id}", billing="arrears")
    await customer_on(time_skipping, unique_id, plan)
    await save_card(time_skipping, unique_id, VISA)
    await usage(time_skipping, unique_id, *[("image_generated", {})] * 2, ("seats", {"count": 2}))
    before = await time_skipping.stored(unique_id)
    assert before is not None  # in debt, and still entitled: usage is billed in arrears
    assert (before.wallet.balance, before.wallet.entitled) == (Decimal(-1), True)
    statement = await statement_closed(time_skipping, unique_id)
    # 2 images at 0.50 in real time (1.00) + 2 seats at close (4.00): 5.00 owed.
    assert statement.true_up == 4 and statement.closing_balance == -5
    assert statement.amount_due == Decimal("5.00")
    paid = await eventually(
        lambda: store.get_statement(time_skipping.db, statement.customer_id, 1),
        until=lambda s: s is not None and s.payment_status == "paid",
        timeout=30,
        what="the statement to be paid",
    )
    assert paid is not None and paid.payment_intent is not None
    intent = await time_skipping.stripe.get_payment_intent(paid.payment_intent)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 500, "USD")
    assert intent.metadata["creditgate_statement"] == "1"
    stored = await time_skipping.stored(unique_id)
    assert stored is not None and stored.wallet.balance == 0
    await assert_invariants(time_skipping)


async def save_card(time_skipping: TimeSkipping, external_id: str, number: str) -> None:
    """The saved card, set up directly (updates are unreliable on the time-skipping server)."""
    pm = await time_skipping.stripe.client.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    stored = await time_skipping.stored(external_id)
    assert stored is not None and stored.customer.stripe_customer_id is not None
    await time_skipping.stripe.attach_payment_method(pm.id, stored.customer.stripe_customer_id)
    await payments.save_payment_method(time_skipping.db, external_id, pm.id)
