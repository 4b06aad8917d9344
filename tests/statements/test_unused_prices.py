"""A price that no event reached in a period is still rated at close and in the upcoming
preview: a tiered price's first flat amount applies at zero usage (docs/pricing.md, Stripe's
rule). Both backends; the close and the preview are called directly (no Temporal)."""

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from creditgate.checks.ledger import check
from creditgate.ledger import service
from creditgate.ledger.usage import EventIn
from creditgate.plans.catalog import create_plan
from creditgate.pricing.plan import PlanDefinition
from creditgate.statements.close import PeriodToClose, close_period, preview_period
from creditgate.statements.period_usage import rate_period
from creditgate.statements.periods import period_bounds
from tests.ledger.support import Ledger, make_ledger, utcnow

D = Decimal

FLAT_PLAN = PlanDefinition.model_validate(
    {
        "code": "ledger_test_flat",
        "name": "Flat amounts",
        "currency": "USD",
        "meters": [
            {"code": "calls", "event_type": "api_call", "aggregation": "count"},
            {"code": "seats", "event_type": "seats", "aggregation": "max",
             "value_property": "count"},
            {"code": "images", "event_type": "image", "aggregation": "count"},
        ],
        "prices": [
            {"meter": "calls", "model": "per_unit", "unit_amount": "0.01"},
            # Platform fee of 5 a month, whatever the usage.
            {"meter": "seats", "model": "tiered_graduated", "tiers": [
                {"up_to": "10", "unit_amount": "0", "flat_amount": "5"},
                {"up_to": None, "unit_amount": "1"}]},
            {"meter": "images", "model": "tiered_volume", "tiers": [
                {"up_to": "100", "unit_amount": "0.5", "flat_amount": "2"},
                {"up_to": None, "unit_amount": "0.3"}]},
        ],
    }
)  # fmt: skip


@pytest.fixture
async def ledger(db_url: str) -> AsyncIterator[Ledger]:
    made = await make_ledger(db_url)
    await create_plan(made.db, FLAT_PLAN)
    await made.execute(
        "UPDATE customers SET plan_code = :code WHERE external_id = :who",
        code=FLAT_PLAN.code,
        who=made.customer,
    )
    yield made
    await made.db.dispose()


def test_rating_charges_first_flat_amounts_of_unused_prices() -> None:
    rated = rate_period(FLAT_PLAN, [])
    assert [(line.meter, line.quantity, line.amount, line.events) for line in rated.lines] == [
        ("images", D(0), D(2), 0),
        ("seats", D(0), D(5), 0),
    ]
    assert rated.total == D(7)


async def test_the_close_and_the_preview_charge_unused_flat_amounts(ledger: Ledger) -> None:
    await ledger.grant("20")
    await service.ingest(
        ledger.db, [EventIn(id="c1", customer=ledger.customer, event_type="api_call")]
    )

    preview = await preview_period(ledger.db, ledger.customer)
    assert preview.true_up == D(7)  # the two flat amounts; the call was debited in real time
    assert preview.closing_balance == D("12.99")
    assert (await ledger.wallet()).balance == D("19.99")  # the preview wrote nothing

    customer = await ledger.customer_row()
    index, start, end = period_bounds(customer.period_anchor, FLAT_PLAN.period, utcnow())
    statement = await close_period(ledger.db, PeriodToClose(ledger.customer, index, start, end))
    assert statement.true_up == D(7)
    assert {line["meter"]: line["amount"] for line in statement.usage} == {
        "calls": "0.01",
        "images": "2",
        "seats": "5",
    }
    assert (await ledger.wallet()).balance == D("12.99")
    assert await check(ledger.db) == []
