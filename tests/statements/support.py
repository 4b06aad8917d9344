"""Helpers for the period suites on the time-skipping server: a customer on a plan, usage
straight into the ledger, a statement after skipping to its period's close, the checker."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.service import RPCError

from creditgate.checks.ledger import check
from creditgate.checks.payments import check_payments
from creditgate.ledger import service
from creditgate.ledger.usage import EventIn
from creditgate.models import Statement
from creditgate.payments import store as payments
from creditgate.plans import catalog as plans
from creditgate.pricing.plan import PlanDefinition
from creditgate.statements import store
from messages.customer import CustomerState
from tests.api.support import create_plan, signup
from tests.support.plans import plan_code
from tests.support.stack import Stack
from tests.support.time_skipping import TimeSkipping, skip, until_period_closes
from tests.support.waiting import eventually
from tests.workflows.support import workflow
from workflows.customer import CustomerWorkflow


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

    # A query sent while the workflow continues as new after an earlier close is not
    # answered: ask again until it is.
    current = await eventually(
        lambda: state(time_skipping, external_id),
        lambda s: s is not None and s.billing is not None,
        timeout=120,
        what="the customer workflow's billing state",
    )
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


@pytest.fixture
async def arrears_customer(stack: Stack, unique_id: str) -> AsyncIterator[str]:
    """An arrears customer whose periods last 8 seconds; its workflow is stopped afterwards
    so it does not close periods for the rest of the session."""
    code = plan_code(unique_id)
    await create_plan(
        stack,
        {
            "code": code,
            "name": "Seats in arrears",
            "currency": "USD",
            "billing": "arrears",
            "period": {"every": 8, "unit": "second"},
            "grace_seconds": 0,
            "meters": [
                {"code": "seats", "event_type": "seats", "aggregation": "max",
                 "value_property": "count"}
            ],
            "prices": [{"meter": "seats", "model": "per_unit", "unit_amount": "2.00"}],
        },
    )  # fmt: skip
    await signup(stack, unique_id, plan=code)
    yield unique_id
    await workflow(stack, unique_id).terminate("test over")
