import asyncio
import uuid

from fastapi import APIRouter, Response, status
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDConflictPolicy

from api.deps import DbDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.schemas import ERRORS, CustomerCreate, CustomerPending, CustomerPublic
from creditgate.customers import get_customer
from creditgate.identifiers import ExternalId
from creditgate.ledger import reads
from creditgate.plans import latest_version
from workflows.customer import CustomerWorkflow, customer_workflow_id
from workflows.models import CustomerProfile, CustomerWorkflowInput

router = APIRouter(prefix="/customers", tags=["customers"], responses=ERRORS)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerPublic | CustomerPending,
    responses={
        200: {"model": CustomerPublic, "description": "The customer already existed"},
        202: {"model": CustomerPending, "description": "Signup accepted, still in progress"},
    },
)
async def create_customer(
    body: CustomerCreate,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> CustomerPublic | CustomerPending:
    """Sign a customer up: starts ``CustomerWorkflow`` (idempotent on ``external_id``)."""
    async with db.session() as session:
        existing = await get_customer(session, body.external_id)
    if existing is not None:
        response.status_code = status.HTTP_200_OK
        return CustomerPublic.of(existing)

    plan_code = body.plan or "default"
    async with db.session() as session:
        if await latest_version(session, plan_code) is None:
            raise ApiError(
                400, "unknown_plan", f"no plan {plan_code!r}; create it with POST /v1/plans"
            )

    workflow_id = customer_workflow_id(body.external_id)
    profile = CustomerProfile(
        external_id=body.external_id, name=body.name, email=body.email, plan=plan_code
    )
    start = WithStartWorkflowOperation(
        CustomerWorkflow.run,
        CustomerWorkflowInput(profile=profile),
        id=workflow_id,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=settings.temporal_task_queue,
    )
    try:
        result = await asyncio.wait_for(
            client.execute_update_with_start_workflow(
                CustomerWorkflow.signup, str(uuid.uuid4()), start_workflow_operation=start
            ),
            timeout=settings.signup_wait_seconds,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        response.status_code = status.HTTP_202_ACCEPTED
        return CustomerPending(external_id=body.external_id, workflow_id=workflow_id)

    async with db.session() as session:
        stored = await get_customer(session, body.external_id)
    if stored is None:  # registered by the workflow, so this would be a bug
        raise ApiError(500, "internal_error", "customer registered but not found")
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return CustomerPublic.of(stored)


@router.get("/{external_id}", response_model=CustomerPublic)
async def read_customer(external_id: ExternalId, session: SessionDep) -> CustomerPublic:
    stored = await get_customer(session, external_id)
    if stored is None:
        raise ApiError(404, "not_found", f"no customer with external_id {external_id!r}")
    return CustomerPublic.of(await reads.with_expiry(session, stored))
