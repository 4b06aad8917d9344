"""Customers: signup (it starts the customer's ``CustomerWorkflow``), listing, reading and
changing one."""

import asyncio
import contextlib
import uuid
from typing import Annotated

import stripe
from fastapi import APIRouter, Query, Response, status
from sqlmodel import select
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.deps import CustomerDep, DbDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.schemas.common import ERRORS
from api.schemas.customers import (
    CustomerCreate,
    CustomerFilters,
    CustomerPage,
    CustomerPending,
    CustomerPublic,
    CustomerUpdate,
)
from api.schemas.metadata import merged
from creditgate.infra.settings import Settings
from creditgate.ledger import customer_list, reads
from creditgate.ledger.customer_list import CustomerFilter
from creditgate.ledger.customers import get_customer
from creditgate.models import Customer, OutboxMessage
from creditgate.payments.stripe_gateway import StripeGateway
from creditgate.plans.catalog import latest_version
from messages.customer import CustomerProfile, CustomerWorkflowInput, SignupResult
from workflows.customer import CustomerWorkflow, customer_workflow_id

router = APIRouter(prefix="/customers", tags=["customers"], responses=ERRORS)
# A signup that joined a run which then failed (an earlier signup of the id whose data could
# not be stored) starts a fresh run once more; failing again, it is refused.
SIGNUP_ATTEMPTS = 2


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
    try:
        result = await asyncio.wait_for(
            _sign_up(client, profile, workflow_id, settings.temporal_task_queue),
            timeout=settings.signup_wait_seconds,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        response.status_code = status.HTTP_202_ACCEPTED
        return CustomerPending(external_id=body.external_id, workflow_id=workflow_id)
    except WorkflowUpdateFailedError:
        raise ApiError(
            422,
            "signup_failed",
            f"the signup could not be completed: workflow {workflow_id} failed (its history "
            "in Temporal says why); the customer was not stored and the external_id can be "
            "signed up again",
        ) from None

    async with db.session() as session:
        stored = await get_customer(session, body.external_id)
    if stored is None:  # registered by the workflow, so this would be a bug
        raise ApiError(500, "internal_error", "customer registered but not found")
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return CustomerPublic.of(stored)


async def _sign_up(
    client: Client, profile: CustomerProfile, workflow_id: str, task_queue: str
) -> SignupResult:
    for _ in range(SIGNUP_ATTEMPTS - 1):
        with contextlib.suppress(WorkflowUpdateFailedError):
            return await _sign_up_once(client, profile, workflow_id, task_queue)
    return await _sign_up_once(client, profile, workflow_id, task_queue)


async def _sign_up_once(
    client: Client, profile: CustomerProfile, workflow_id: str, task_queue: str
) -> SignupResult:
    start = WithStartWorkflowOperation(
        CustomerWorkflow.run,
        CustomerWorkflowInput(profile=profile),
        id=workflow_id,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=task_queue,
    )
    try:
        return await client.execute_update_with_start_workflow(
            CustomerWorkflow.signup, str(uuid.uuid4()), start_workflow_operation=start
        )
    except RPCError:
        # The start failed with it (Temporal is down): read that copy too, or asyncio logs it
        # as an error never retrieved. The client has settled the start by now.
        with contextlib.suppress(RPCError):
            await start.workflow_handle()
        raise


@router.get("/{external_id}", response_model=CustomerPublic)
async def read_customer(stored: CustomerDep, session: SessionDep) -> CustomerPublic:
    return CustomerPublic.of(await reads.with_expiry(session, stored))


@router.get("", response_model=CustomerPage)
async def list_customers(
    query: Annotated[CustomerFilters, Query()], session: SessionDep
) -> CustomerPage:
    """Customers in signup order, a page at a time; ``next_cursor`` continues the listing."""
    filters = CustomerFilter(
        status=query.status,
        plan=query.plan,
        entitled=query.entitled,
        created_after=query.created_after,
        created_before=query.created_before,
        search=query.search,
    )
    try:
        after = (
            None if query.after is None else await customer_list.position_of(session, query.after)
        )
    except customer_list.BadCursor as err:
        raise ApiError(422, "validation_error", str(err)) from None
    found, last = await customer_list.page(session, filters, after=after, limit=query.limit)
    return CustomerPage(
        data=[CustomerPublic.of(stored) for stored in found],
        next_cursor=None if last is None else customer_list.cursor_of(last),
    )


@router.patch("/{external_id}", response_model=CustomerPublic)
async def update_customer(
    stored: CustomerDep, body: CustomerUpdate, db: DbDep, settings: SettingsDep
) -> CustomerPublic:
    """Change name, email or metadata. A new name or email goes to the Stripe customer first:
    if Stripe fails, nothing changes. The customer's workflow learns a new name or email from
    the outbox (a ``profile_changed`` notice written in the same transaction)."""
    customer = stored.customer
    name = customer.name if body.name is None else body.name
    email = customer.email if body.email is None else str(body.email)
    changed = (name, email) != (customer.name, customer.email)
    if changed and customer.stripe_customer_id is not None:
        await update_stripe_customer(settings, customer.stripe_customer_id, name, email)
    async with db.transaction() as session:
        row = (
            await session.exec(select(Customer).where(Customer.id == customer.id).with_for_update())
        ).one()
        row.name, row.email = name, email
        if changed and row.status != "closed":
            session.add(profile_notice(row))
        if "metadata" in body.model_fields_set:
            row.metadata_ = merged(row.metadata_, body.metadata)
        session.add(row)
    async with db.session() as session:
        updated = await get_customer(session, customer.external_id)
        assert updated is not None
        return CustomerPublic.of(await reads.with_expiry(session, updated))


def profile_notice(customer: Customer) -> OutboxMessage:
    """The outbox row telling the customer's workflow its new name and email."""
    assert customer.id is not None
    return OutboxMessage(
        message_id=f"profile_changed-{uuid.uuid4().hex}",
        customer_id=customer.id,
        workflow_id=customer.workflow_id,
        kind="profile_changed",
        payload={"name": customer.name, "email": customer.email},
    )


async def update_stripe_customer(settings: Settings, customer: str, name: str, email: str) -> None:
    try:
        await StripeGateway.from_settings(settings).update_customer(
            customer, name=name, email=email
        )
    except (stripe.APIConnectionError, stripe.RateLimitError) as err:
        raise ApiError(
            503, "stripe_unavailable", f"Stripe is unreachable, nothing changed: {err}"
        ) from None
    except stripe.StripeError as err:
        raise ApiError(
            502, "stripe_error", f"Stripe refused the update, nothing changed: {err}"
        ) from None
