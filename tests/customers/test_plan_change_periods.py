"""Plan changes across billing periods on Temporal's time-skipping server (real worker,
activities, ledger and localstripe), sent as the ``change_plan`` update an operator can send
from the Temporal UI: each change has its statement, and the next period is billed on the
new plan."""

import asyncio
import contextlib
from datetime import timedelta
from decimal import Decimal

from sqlmodel import select
from temporalio.service import RPCError

from creditgate.ledger import service
from creditgate.ledger.grants import GrantSpec
from creditgate.ledger.usage import EventIn
from creditgate.models import AuditEntry
from creditgate.plans import catalog as plans
from creditgate.pricing.plan import PlanDefinition
from creditgate.statements import store
from messages.plan_change import PlanChangeRequest
from tests.statements.support import assert_invariants, customer_on, state, statement_closed
from tests.support.plans import metered_plan
from tests.support.time_skipping import CLOSE_MARGIN, TimeSkipping, skip
from tests.support.waiting import eventually
from workflows.customer import CustomerWorkflow, customer_workflow_id


async def images(time_skipping: TimeSkipping, external_id: str, count: int, batch: str) -> None:
    for n in range(count):
        [result] = await service.ingest(
            time_skipping.db, [EventIn(f"{batch}-{n}", external_id, "image_generated")]
        )
        assert result.status == "debited", result


async def plan_of(time_skipping: TimeSkipping, external_id: str) -> tuple[str, int | None]:
    stored = await time_skipping.stored(external_id)
    assert stored is not None
    return stored.customer.plan_code, stored.customer.plan_version


async def available(time_skipping: TimeSkipping, external_id: str) -> Decimal:
    stored = await time_skipping.stored(external_id)
    assert stored is not None
    return stored.wallet.balance - stored.wallet.held


async def on_two_plans(time_skipping: TimeSkipping, unique_id: str, grace: int = 3600) -> str:
    """The customer on ``p-{id}`` (images 0.50 up to 3) with 20 credits; ``q-{id}`` (the same
    with images at 1.50 up to 3) is the plan to move to."""
    await customer_on(time_skipping, unique_id, metered_plan(f"p-{unique_id}", grace_seconds=grace))
    body = metered_plan(f"q-{unique_id}", grace_seconds=grace).model_dump(mode="json")
    body["prices"][0]["tiers"][0]["unit_amount"] = "1.50"
    new = PlanDefinition.model_validate(body)
    await plans.create_plan(time_skipping.db, new)
    await service.grant(
        time_skipping.db, unique_id, GrantSpec(amount=Decimal(20), source="promotional")
    )
    return new.code


async def test_a_change_at_period_end_takes_effect_with_that_periods_statement(
    time_skipping: TimeSkipping, unique_id: str
) -> None:
    new = await on_two_plans(time_skipping, unique_id)
    await images(time_skipping, unique_id, 2, "before")
    handle = time_skipping.client.get_workflow_handle(customer_workflow_id(unique_id))
    change = await handle.execute_update(
        CustomerWorkflow.change_plan,
        PlanChangeRequest(plan=new, effective="next_period", operator="ops@example.com"),
    )
    assert (change.plan, change.version, change.period_index) == (new, 1, 0)
    async with time_skipping.db.session() as session:
        audited = (
            await session.exec(select(AuditEntry).where(AuditEntry.target == handle.id))
        ).all()
    assert [(a.actor, a.action) for a in audited] == [
        ("operator:ops@example.com", "update change_plan")
    ]
    assert await plan_of(time_skipping, unique_id) == (f"p-{unique_id}", 1)

    first = await statement_closed(time_skipping, unique_id, 1)
    assert (first.plan_code, first.period_end) == (f"p-{unique_id}", change.takes_effect_at)
    assert first.usage_debited == Decimal("1.00")  # two images at 0.50, the old plan
    assert await plan_of(time_skipping, unique_id) == (new, 1)

    await images(time_skipping, unique_id, 2, "after")  # at 1.50 each now
    assert await available(time_skipping, unique_id) == Decimal(20) - Decimal("1.00") - Decimal(3)
    await assert_invariants(time_skipping)


async def test_a_change_now_closes_early_and_the_next_period_starts_at_the_change(
    time_skipping: TimeSkipping, unique_id: str
) -> None:
    new = await on_two_plans(time_skipping, unique_id)
    await images(time_skipping, unique_id, 1, "before")
    handle = time_skipping.client.get_workflow_handle(customer_workflow_id(unique_id))
    change = await handle.execute_update(
        CustomerWorkflow.change_plan, PlanChangeRequest(plan=new, effective="now")
    )
    assert change.period_index == 0

    customer_id = (await time_skipping.stored(unique_id)).customer.id  # type: ignore[union-attr]
    assert change.takes_effect_at is not None
    grace_passed = change.takes_effect_at + timedelta(hours=1) + CLOSE_MARGIN
    skipping_ahead = asyncio.create_task(
        skip(time_skipping.env, grace_passed - await time_skipping.env.get_current_time())
    )
    try:
        first = await eventually(
            lambda: store.get_statement(time_skipping.db, customer_id, 1),  # type: ignore[arg-type]
            timeout=120,
            what="the early statement, once its grace passed",
        )
    finally:
        skipping_ahead.cancel()
        with contextlib.suppress(asyncio.CancelledError, RPCError):
            await skipping_ahead
    assert first is not None
    assert (first.plan_code, first.period_end) == (f"p-{unique_id}", change.takes_effect_at)
    assert first.usage_debited == Decimal("0.50")
    assert await plan_of(time_skipping, unique_id) == (new, 1)

    await images(time_skipping, unique_id, 1, "after")  # at 1.50 now
    assert await available(time_skipping, unique_id) == Decimal(20) - Decimal("0.50") - Decimal(
        "1.50"
    )
    # The statement is stored before the close reports back to the customer workflow, which
    # then continues as new: a query sent meanwhile is not answered (the time-skipping server
    # lets it run out), so wait until the workflow has heard of the statement.
    current = await eventually(
        lambda: state(time_skipping, unique_id),
        lambda s: s is not None and s.statements_closed == 1 and s.billing is not None,
        timeout=120,
        what="the customer workflow to hear of the early statement",
    )
    assert current is not None and current.billing is not None
    assert current.billing.closing is None
    # The workflow's next period is a whole month from the change.
    assert current.billing.anchor == first.period_end
    assert (current.billing.next_index, current.billing.first_index) == (1, 1)
    await assert_invariants(time_skipping)
