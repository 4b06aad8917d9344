"""CustomerWorkflow's billing periods: a durable timer per period end starts
``PeriodCloseWorkflow``; when it reports back, the customer workflow continues as new.

A mixin so ``workflows/customer.py`` stays readable.
"""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

from workflows import search_attributes as sa
from workflows.activity_calls import call
from workflows.period_close import PeriodCloseWorkflow, period_workflow_id

with workflow.unsafe.imports_passed_through():
    from activities.periods import PeriodActivities
    from creditgate.periods import period_start
    from creditgate.pricing.plan import Period
    from messages.customer import CustomerState
    from messages.period import BillingState, PeriodClosed, PeriodCloseInput

# Workflows started before billing periods existed have no schedule and close nothing.
PERIODS_PATCH = "billing-periods-v1"
CHILD_RUN_TIMEOUT = timedelta(days=60)


class CustomerPeriods:
    state: CustomerState
    _continue_as_new_requested: bool

    def _record(self, kind: str, message: str) -> None:
        raise NotImplementedError

    def _remember(self, message_id: str) -> bool:
        raise NotImplementedError

    async def _load_billing(self) -> None:
        if self.state.billing is not None or not workflow.patched(PERIODS_PATCH):
            return
        schedule = await call(PeriodActivities.billing_schedule, self.state.profile.external_id)
        self.state.billing = BillingState(
            anchor=schedule.anchor,
            every=schedule.every,
            unit=schedule.unit,
            grace_seconds=schedule.grace_seconds,
            billing=schedule.billing,
            next_index=schedule.current_index,
        )

    def _period_bounds(self, billing: BillingState, index: int) -> tuple[datetime, datetime]:
        period = Period(every=billing.every, unit=billing.unit)
        return (
            period_start(billing.anchor, period, index),
            period_start(billing.anchor, period, index + 1),
        )

    def _next_period_end(self) -> datetime | None:
        billing = self.state.billing
        if billing is None or billing.closing is not None:
            return None
        return self._period_bounds(billing, billing.next_index)[1]

    def _period_due(self) -> bool:
        end = self._next_period_end()
        return end is not None and end <= workflow.now()

    async def _start_period_close(self) -> None:
        """Called from the main loop only, holding the customer workflow's lock."""
        billing = self.state.billing
        if billing is None or not self._period_due():
            return
        index = billing.next_index
        start, end = self._period_bounds(billing, index)
        await workflow.start_child_workflow(
            PeriodCloseWorkflow.run,
            PeriodCloseInput(
                external_id=self.state.profile.external_id,
                period_index=index,
                period_start=start,
                period_end=end,
                grace_seconds=billing.grace_seconds,
            ),
            id=period_workflow_id(self.state.profile.external_id, index),
            parent_close_policy=ParentClosePolicy.ABANDON,
            run_timeout=CHILD_RUN_TIMEOUT,
        )
        billing.closing = index
        billing.next_index = index + 1
        self._record("period_ended", f"period {index} ended {end.isoformat()}; closing")

    @workflow.signal
    def period_closed(self, closed: PeriodClosed) -> None:
        if not self._remember(closed.message_id):
            return
        billing = self.state.billing
        if billing is not None and billing.closing == closed.period_index:
            billing.closing = None
        self.state.statements_closed += 1
        due = f"{closed.amount_due:f} {closed.currency}"
        self._record(
            "statement",
            f"statement {closed.number} for period {closed.period_index}: due {due}, "
            f"{closed.collection}",
        )
        if closed.collection == "unpaid":
            self.state.status = "cut_off"
            self.state.entitled = False
            self._record(
                "cut_off",
                f"cut off: statement {closed.number} unpaid after dunning ({closed.reason})",
            )
            workflow.upsert_search_attributes(
                [sa.STATUS.value_set("cut_off"), sa.ENTITLED.value_set(False)]
            )
        # A fresh run per period keeps histories short; state (and message ids) carry over.
        self._continue_as_new_requested = True
