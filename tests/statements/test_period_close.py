"""Monthly periods close on Temporal's time-skipping server into statements with exact
amounts: real worker and activities, a migrated SQLite ledger, localstripe."""

from decimal import Decimal
from typing import Any

from creditgate.ledger import service
from creditgate.ledger.grants import GrantSpec
from creditgate.models import Statement
from creditgate.statements import store
from tests.payments.support import VISA
from tests.statements.support import (
    assert_invariants,
    customer_on,
    save_card,
    state,
    statement_closed,
    usage,
)
from tests.support.plans import metered_plan
from tests.support.time_skipping import TimeSkipping
from tests.support.waiting import eventually


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
