"""CustomerWorkflow's billing periods, as plain functions on its state: a durable timer per
period end starts ``PeriodCloseWorkflow``; when it reports back, the customer workflow
continues as new."""

from datetime import datetime, timedelta

from temporalio import workflow

from workflows import search_attributes as sa
from workflows.activity_calls import call
from workflows.customer_children import start_child
from workflows.customer_log import record, remember
from workflows.period_close import PeriodCloseWorkflow, period_workflow_id

with workflow.unsafe.imports_passed_through():
    from activities.periods import PeriodActivities
    from creditgate.pricing.plan import Period
    from creditgate.statements.periods import period_start
    from messages.customer import CustomerState
    from messages.period import BillingState, PeriodClosed, PeriodCloseInput

# Workflows started before billing periods existed have no schedule and close nothing.
PERIODS_PATCH = "billing-periods-v1"
CHILD_RUN_TIMEOUT = timedelta(days=60)


async def load_billing(state: CustomerState) -> None:
    if state.billing is not None or not workflow.patched(PERIODS_PATCH):
        return
    schedule = await call(PeriodActivities.billing_schedule, state.profile.external_id)
    state.billing = BillingState(
        anchor=schedule.anchor,
        every=schedule.every,
        unit=schedule.unit,
        grace_seconds=schedule.grace_seconds,
        billing=schedule.billing,
        next_index=schedule.current_index,
    )


def period_bounds(billing: BillingState, index: int) -> tuple[datetime, datetime]:
    period = Period(every=billing.every, unit=billing.unit)
    n = index - billing.first_index
    return (
        period_start(billing.anchor, period, n),
        period_start(billing.anchor, period, n + 1),
    )


def next_period_end(state: CustomerState) -> datetime | None:
    billing = state.billing
    if billing is None or billing.closing is not None:
        return None
    return period_bounds(billing, billing.next_index)[1]


def period_due(state: CustomerState) -> bool:
    end = next_period_end(state)
    return end is not None and end <= workflow.now()


async def start_period_close(state: CustomerState) -> None:
    """Called from the main loop only, holding the customer workflow's lock."""
    billing = state.billing
    if billing is None or not period_due(state):
        return
    await _close(state, billing, early=False)


async def close_early(state: CustomerState, grace: timedelta | None = None) -> tuple[int, datetime]:
    """Close the open period now (a plan change ``now``, an account closure): its statement
    covers it up to now and the next period starts at this instant. ``grace`` replaces the
    plan's wait for late events (a closing account takes none). Waits for a close already
    running; called holding the customer workflow's lock. Returns the closed period and
    where it ended."""
    billing = state.billing
    assert billing is not None
    await workflow.wait_condition(lambda: billing.closing is None)
    if period_due(state):  # its end passed meanwhile: an ordinary close applies the change
        index = billing.next_index
        await _close(state, billing, early=False, grace=grace)
        return index, period_bounds(billing, index)[1]
    return await _close(state, billing, early=True, grace=grace)


async def _close(
    state: CustomerState, billing: BillingState, *, early: bool, grace: timedelta | None = None
) -> tuple[int, datetime]:
    index = billing.next_index
    start, end = period_bounds(billing, index)
    if early:
        end = workflow.now()
    await start_child(
        state,
        PeriodCloseWorkflow.run,
        PeriodCloseInput(
            external_id=state.profile.external_id,
            period_index=index,
            period_start=start,
            period_end=end,
            grace_seconds=(billing.grace_seconds if grace is None else int(grace.total_seconds())),
            reanchor=early,
        ),
        workflow_id=period_workflow_id(state.profile.external_id, index),
        run_timeout=CHILD_RUN_TIMEOUT,
        kind="period_ended",
        note=f"period {index} {'closed early' if early else 'ended'} {end.isoformat()}; closing",
    )
    billing.closing = index
    billing.next_index = index + 1
    if early:
        billing.anchor, billing.first_index = end, index + 1
    return index, end


def on_period_closed(state: CustomerState, closed: PeriodClosed) -> bool:
    """Record a closed period's statement; True when it is news (not a repeated signal)."""
    if not remember(state, closed.message_id):
        return False
    billing = state.billing
    if billing is not None and billing.closing == closed.period_index:
        billing.closing = None
    state.statements_closed += 1
    due = f"{closed.amount_due:f} {closed.currency}"
    record(
        state,
        "statement",
        f"statement {closed.number} for period {closed.period_index}: due {due}, "
        f"{closed.collection}",
    )
    if closed.collection == "unpaid":
        # A pause outlasts the cut-off (resume restores it); so does a closure.
        if state.status not in ("paused", "closing"):
            state.status = "cut_off"
        state.entitled = False
        record(
            state,
            "cut_off",
            f"cut off: statement {closed.number} unpaid after dunning ({closed.reason})",
        )
        workflow.upsert_search_attributes(
            [sa.STATUS.value_set(state.status), sa.ENTITLED.value_set(False)]
        )
    return True
