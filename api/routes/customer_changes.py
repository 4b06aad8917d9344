"""A customer's plan change, as the ``change_plan`` update on its ``CustomerWorkflow``."""

from fastapi import APIRouter, Request
from temporalio.exceptions import ApplicationError

from activities.plan_changes import UNIT_MISMATCH, check_plan_change
from api.deps import CustomerDep, DbDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.payment_calls import run_update
from api.schemas.common import ERRORS
from api.schemas.customer_changes import PlanChangeCreate, PlanChangePublic
from messages.plan_change import PlanChangeRequest, SchedulePlanInput
from workflows.customer import CustomerWorkflow

router = APIRouter(prefix="/customers", tags=["customers"], responses=ERRORS)


def operator(request: Request) -> str | None:
    """The name of the API key making the request (the audit log records it too)."""
    principal = request.scope.get("state", {}).get("principal")
    return getattr(principal, "name", None)


@router.post("/{external_id}/plan", response_model=PlanChangePublic)
async def change_plan(
    body: PlanChangeCreate,
    stored: CustomerDep,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> PlanChangePublic:
    """Move the customer to ``plan`` (``version``: the latest by default), ``now`` (the open
    period closes early into a statement and a new one starts on the new plan) or at the
    end of the open period (``next_period``)."""
    customer = stored.customer
    if customer.status == "closed":
        raise ApiError(409, "conflict", f"customer {customer.external_id!r} is closed")
    try:
        await check_plan_change(
            db,
            SchedulePlanInput(
                external_id=customer.external_id, plan=body.plan, version=body.version
            ),
        )
    except ApplicationError as err:
        if err.type == UNIT_MISMATCH:
            raise ApiError(409, "conflict", err.message) from None
        raise ApiError(404, "not_found", err.message) from None
    handle = client.get_workflow_handle(customer.workflow_id)
    result = await run_update(
        settings,
        handle.execute_update(
            CustomerWorkflow.change_plan,
            PlanChangeRequest(
                plan=body.plan,
                version=body.version,
                effective=body.effective,
                api_key=operator(request) or "api",
            ),
        ),
    )
    at = result.takes_effect_at
    return PlanChangePublic(
        plan=result.plan,
        version=result.version,
        effective=result.effective,
        takes_effect_at=at.isoformat() if at else None,
        period_index=result.period_index,
    )
