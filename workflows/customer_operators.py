"""Operator updates of the customer workflow (docs/operators.md): each changes the ledger
through an activity (the same functions as the API routes), then records who did it in the
audit log (actor ``operator:<name>``) and in the workflow's timeline."""

from typing import Any

from temporalio import workflow

from workflows.activity_calls import call
from workflows.customer_log import record

with workflow.unsafe.imports_passed_through():
    from activities.operators import OperatorActivities
    from messages.customer import CustomerState
    from messages.operator import (
        AdjustRequest,
        AuditRecord,
        OperatorChange,
        OperatorResult,
        PauseRequest,
        ResumeRequest,
        VoidGrantRequest,
    )

OperatorRequest = PauseRequest | ResumeRequest | AdjustRequest | VoidGrantRequest


async def apply(state: CustomerState, action: str, request: OperatorRequest) -> OperatorResult:
    external_id = state.profile.external_id
    details: dict[str, Any] = request.model_dump(mode="json", exclude={"operator"})
    change = OperatorChange(
        external_id=external_id,
        action=action,
        reason=request.reason,
        amount=request.amount if isinstance(request, AdjustRequest) else None,
        grant_id=request.grant_id if isinstance(request, VoidGrantRequest) else None,
        # Makes a credit adjustment once-only across activity retries.
        reference=f"operator:{workflow.uuid4()}",
    )
    result = await call(OperatorActivities.apply_operator_change, change)
    state.status = result.status  # type: ignore[assignment]
    state.entitled = result.entitled
    state.balance = f"{result.balance:f}"
    await audit(action, request.operator, details)
    record(state, f"operator_{action}", _describe(action, request, result))
    return result


async def audit(action: str, operator: str, details: dict[str, Any]) -> None:
    """The audit log entry of an update sent from the Temporal UI (actor
    ``operator:<name>``)."""
    await call(
        OperatorActivities.record_audit,
        AuditRecord(
            actor=f"operator:{operator}",
            action=f"update {action}",
            target=workflow.info().workflow_id,
            request_id=workflow.info().workflow_id + ":" + str(workflow.uuid4()),
            details=details,
        ),
    )


def _describe(action: str, request: OperatorRequest, result: OperatorResult) -> str:
    by = f"by {request.operator}"
    if isinstance(request, AdjustRequest):
        return f"adjusted {request.amount:f} {by}: {request.reason}"
    if isinstance(request, VoidGrantRequest):
        return f"voided grant {request.grant_id} ({result.amount or 0:f}) {by}: {request.reason}"
    if isinstance(request, PauseRequest):
        return f"paused {by}: {request.reason}"
    return f"resumed ({result.status}) {by}" + (f": {request.reason}" if request.reason else "")


def current_details(state: CustomerState) -> str:
    """The one-glance summary shown in the Temporal UI."""
    recharge = state.auto_recharge
    auto = (
        f"on (to {recharge.recharge_to:f} at {recharge.threshold:f})"
        if recharge.enabled
        else recharge.status
    )
    last = state.timeline[-1].message if state.timeline else ""
    closure = state.closure
    if closure is not None and closure.step != "done":
        last = f"closing, step {closure.step} (asked by {closure.requested_by})\n\n{last}"
    return (
        f"**{state.status}** · balance {state.balance or '?'} · "
        f"entitled {'yes' if state.entitled else 'no'} · auto-recharge {auto}\n\n{last}"
    )
