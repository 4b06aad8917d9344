"""Purchases, the saved card and auto-recharge as calls on ``CustomerWorkflow``: shared by the
payment routes and the customer portal."""

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import get_customer_or_404
from api.errors import ApiError
from api.schemas.payments import PurchaseCreate
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.models import Customer
from creditgate.payments import charges
from creditgate.plans import catalog as plans
from creditgate.pricing.plan import PlanDefinition
from creditgate.statements.periods import expiry_after
from creditgate.values.money import MAX_AMOUNT
from messages.customer import PaymentMethodRequest
from messages.purchase import PaymentPolicy, PurchaseAnswer, PurchaseRequest
from messages.recharge import AutoRechargeRequest
from workflows.customer import CustomerWorkflow
from workflows.refusals import StateConflict, WorkflowBusy

T = TypeVar("T")
CARD_DECLINED = "CardDeclined"


def payment_policy(settings: Settings, plan: PlanDefinition) -> PaymentPolicy:
    """The schedules from the settings; the bounds are Stripe's for the plan's currency."""
    try:
        least, most = charges.charge_bounds(plan.currency)
    except ValueError:
        raise ApiError(
            422,
            "validation_error",
            f"the plan's currency {plan.currency!r} is not one Stripe can charge",
        ) from None
    return PaymentPolicy(
        purchase_min=least,
        purchase_max=most,
        recharge_max=charges.recharge_limit(plan),
        poll_seconds=settings.purchase_poll_seconds,
        poll_max_seconds=settings.purchase_poll_max_seconds,
        timeout_seconds=settings.purchase_timeout_seconds,
        retry_delays=settings.recharge_retry_delays,
    )


async def plan_of(db: Database, customer: Customer) -> PlanDefinition:
    async with db.session() as session:
        return await plans.definition(session, customer.plan_code, customer.plan_version or 1)


async def customer_and_plan(db: Database, external_id: str) -> tuple[Customer, PlanDefinition]:
    """The customer (404 if unknown, as ``CustomerDep``) and its plan."""
    stored = await get_customer_or_404(external_id, db)
    return stored.customer, await plan_of(db, stored.customer)


# How long a caller refused with ``workflow_busy`` is told to wait before trying again.
BUSY_RETRY_SECONDS = 5


async def run_update(settings: Settings, call: Awaitable[T]) -> T:
    """Run a workflow update; its refusals become 4xx answers."""
    try:
        return await asyncio.wait_for(call, timeout=settings.payment_wait_seconds)
    except WorkflowUpdateFailedError as err:
        cause: BaseException | None = err.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = getattr(cause, "cause", None)
        message = cause.message if isinstance(cause, ApplicationError) else str(err)
        kind = cause.type if isinstance(cause, ApplicationError) else None
        if kind == CARD_DECLINED:
            raise ApiError(402, "card_declined", message) from None
        if kind == WorkflowBusy.__name__:
            retry = {"Retry-After": str(BUSY_RETRY_SECONDS)}
            raise ApiError(409, "workflow_busy", message, headers=retry) from None
        if kind == StateConflict.__name__:
            raise ApiError(409, "conflict", message) from None
        raise ApiError(422, "validation_error", message) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "conflict", "the customer's workflow is not running") from None
        raise ApiError(503, "temporal_unavailable", f"Temporal: {err.message}") from None
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise ApiError(
            503,
            "payment_timeout",
            "no answer from the customer's workflow in time; retry with the same "
            "Idempotency-Key to get the same purchase",
        ) from None


async def start_purchase(
    body: PurchaseCreate,
    customer: Customer,
    plan: PlanDefinition,
    settings: Settings,
    client: Client,
    idempotency_key: str | None,
) -> PurchaseAnswer:
    """Price the purchase under the customer's plan and ask the customer workflow for it."""
    policy = payment_policy(settings, plan)
    try:
        charge = (
            charges.for_amount(body.amount, plan)
            if body.amount is not None
            else charges.for_credits(body.credits, plan)  # type: ignore[arg-type]
        )
    except charges.AmountError as err:
        raise ApiError(422, "validation_error", str(err)) from None
    if charge.credits >= MAX_AMOUNT:
        raise ApiError(422, "validation_error", f"{charge.credits:f} credits is too many at once")
    expires_at = body.expires_at
    if expires_at is None and plan.credit_lifetime is not None:
        expires_at = expiry_after(datetime.now(UTC), plan.credit_lifetime)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ApiError(422, "validation_error", "expires_at must be in the future")
    request = PurchaseRequest(
        request_id=idempotency_key or str(uuid.uuid4()),
        amount=charge.amount,
        currency=charge.currency,
        credits=charge.credits,
        payment_method=body.payment_method,
        expires_at=expires_at,
        policy=policy,
    )
    handle = client.get_workflow_handle(customer.workflow_id)
    return await run_update(settings, handle.execute_update(CustomerWorkflow.purchase, request))


async def save_card(
    settings: Settings, client: Client, customer: Customer, payment_method: str
) -> str:
    """Attach the card to the customer's Stripe customer and keep it for off-session charges."""
    handle = client.get_workflow_handle(customer.workflow_id)
    return await run_update(
        settings,
        handle.execute_update(
            CustomerWorkflow.set_payment_method,
            PaymentMethodRequest(payment_method=payment_method),
        ),
    )


async def set_auto_recharge(
    settings: Settings,
    client: Client,
    customer: Customer,
    plan: PlanDefinition,
    *,
    enabled: bool,
    threshold: Decimal,
    recharge_to: Decimal,
    payment_method: str | None = None,
) -> None:
    handle = client.get_workflow_handle(customer.workflow_id)
    await run_update(
        settings,
        handle.execute_update(
            CustomerWorkflow.configure_auto_recharge,
            AutoRechargeRequest(
                enabled=enabled,
                threshold=threshold,
                recharge_to=recharge_to,
                payment_method=payment_method,
                policy=payment_policy(settings, plan),
            ),
        ),
    )
