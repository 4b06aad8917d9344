"""CustomerWorkflow's plan change, as a plain function on its state: the new plan is stored
as the one the next period close applies; ``now`` closes the open period early for that."""

from temporalio import workflow

from workflows import customer_operators as operators
from workflows import customer_periods as periods
from workflows.activity_calls import call
from workflows.customer_log import record
from workflows.refusals import StateConflict, WorkflowBusy

with workflow.unsafe.imports_passed_through():
    from activities.plan_changes import PlanChangeActivities
    from messages.customer import CustomerState
    from messages.plan_change import PlanChangeRequest, PlanChangeResult, SchedulePlanInput

# Runs from before a plan change sent from the Temporal UI was audited.
AUDIT_PATCH = "audit-plan-change-v1"


async def change_plan(state: CustomerState, request: PlanChangeRequest) -> PlanChangeResult:
    """Called holding the customer workflow's lock, so no period close or other change runs
    in between. Waits for a close already running (it must not apply this change)."""
    billing = state.billing
    assert billing is not None  # the validator refuses a change before billing is loaded
    await workflow.wait_condition(lambda: billing.closing is None)
    scheduled = await call(
        PlanChangeActivities.schedule_plan,
        SchedulePlanInput(
            external_id=state.profile.external_id, plan=request.plan, version=request.version
        ),
    )
    if request.effective == "now":
        index, at = await periods.close_early(state)
    else:
        index = billing.next_index
        at = periods.period_bounds(billing, index)[1]
    if request.api_key is None and workflow.patched(AUDIT_PATCH):
        details = request.model_dump(mode="json", exclude={"operator", "api_key"})
        await operators.audit("change_plan", request.operator or "unnamed", details)
    who = request.operator or (f"api key {request.api_key}" if request.api_key else None)
    by = f" by {who}" if who else ""
    record(
        state,
        "plan_change",
        f"plan {scheduled.plan} v{scheduled.version} from {at.isoformat()} "
        f"({request.effective}){by}",
    )
    return PlanChangeResult(
        plan=scheduled.plan,
        version=scheduled.version,
        effective=request.effective,
        takes_effect_at=at,
        period_index=index,
    )


def validate_plan_change(state: CustomerState, request: PlanChangeRequest) -> None:
    if not state.registered or state.billing is None:
        raise WorkflowBusy("the customer is still signing up; try again shortly")
    if state.status in ("closing", "closed"):
        raise StateConflict(f"the customer's account is {state.status}")
    if state.billing.closing is not None:
        # Refused at once rather than waiting: a close may sit out its grace for minutes.
        raise WorkflowBusy("a period close is running; try again once it has finished")
