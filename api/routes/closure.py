"""Closing an account: the ``close_account`` update on the customer's ``CustomerWorkflow``,
which runs the closure to the end (docs/operators.md), and where it stands."""

from fastapi import APIRouter, Request, status
from sqlmodel import col, select

from api.deps import CustomerDep, DbDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.payment_calls import run_update
from api.routes.customer_changes import operator
from api.schemas.closure import ClosureCreate, ClosurePublic, ClosureRefundPublic
from api.schemas.common import ERRORS
from creditgate.infra.db import Database
from creditgate.ledger import closure
from creditgate.models import Customer, Statement
from messages.closure import CloseAccountRequest
from workflows.customer import CustomerWorkflow

router = APIRouter(prefix="/customers", tags=["customers"], responses=ERRORS)


@router.post(
    "/{external_id}/close",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ClosurePublic,
)
async def close_account(
    body: ClosureCreate,
    stored: CustomerDep,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> ClosurePublic:
    """Close the account: from this answer on, usage, holds, purchases and grants are refused.
    The customer's workflow then settles holds, closes the final statement and collects it,
    refunds each purchase's unspent credits to its card, forfeits the rest, detaches the card
    and marks the customer ``closed`` (``GET .../closure`` follows it)."""
    customer = stored.customer
    if customer.status in ("closing", "closed"):
        raise ApiError(409, "conflict", f"the account is already {customer.status}")
    handle = client.get_workflow_handle(customer.workflow_id)
    await run_update(
        settings,
        handle.execute_update(
            CustomerWorkflow.close_account,
            CloseAccountRequest(
                reason=body.reason, holds=body.holds, api_key=operator(request) or "api"
            ),
        ),
    )
    return await _closure(db, customer.external_id)


@router.get("/{external_id}/closure", response_model=ClosurePublic)
async def get_closure(stored: CustomerDep, db: DbDep) -> ClosurePublic:
    """The account's closure: its refunds, one per purchase, and the final statement."""
    return await _closure(db, stored.customer.external_id)


async def _closure(db: Database, external_id: str) -> ClosurePublic:
    async with db.session() as session:
        customer = (
            await session.exec(select(Customer).where(Customer.external_id == external_id))
        ).one()
        if customer.status not in ("closing", "closed") or customer.closure_requested_at is None:
            raise ApiError(404, "not_found", f"the account of {external_id!r} is not closing")
        final = (
            await session.exec(
                select(Statement.number)
                .where(
                    Statement.customer_id == customer.id,
                    col(Statement.period_end) >= customer.closure_requested_at,
                )
                .order_by(col(Statement.number).desc())
                .limit(1)
            )
        ).first()
    assert customer.id is not None
    refunds = await closure.list_refunds(db, customer.id)
    return ClosurePublic(
        external_id=external_id,
        status="closed" if customer.status == "closed" else "closing",
        reason=customer.closure_reason or "",
        requested_at=customer.closure_requested_at,
        closed_at=customer.closed_at,
        refunds=[ClosureRefundPublic.of(r) for r in refunds],
        final_statement=final,
    )
