"""Operator controls (docs/operators.md): corrections as ledger entries, voided grants, pause
and resume. Each is one ledger transaction through ``creditgate.ledger.operators``, the
functions the customer workflow's operator updates call too; the audit middleware records
each with the key's name."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response, status

from api.deps import DbDep
from api.schemas.common import ERROR_CONTENT, ERRORS
from api.schemas.operators import (
    AdjustmentCreate,
    AdjustmentPublic,
    CustomerStatusPublic,
    ReasonBody,
    ResumeBody,
    VoidedGrantPublic,
)
from creditgate.ledger import operators
from creditgate.ledger.operators import StatusChange
from creditgate.values.identifiers import ExternalId

GrantIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
router = APIRouter(tags=["operator controls"], responses=ERRORS)


@router.post(
    "/customers/{external_id}/adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=AdjustmentPublic,
    responses={
        200: {
            "model": AdjustmentPublic,
            "description": "Repeat of an Idempotency-Key: the adjustment booked the first time",
        },
        400: {
            "content": ERROR_CONTENT,
            "description": "An Idempotency-Key reused for a different adjustment",
        },
    },
)
async def create_adjustment(
    external_id: ExternalId,
    body: AdjustmentCreate,
    response: Response,
    db: DbDep,
    # Stored as "api:<key>" (200 characters), on the entry and on a credit's grant.
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=196)] = None,
) -> AdjustmentPublic:
    """A credit (positive) or a debit (negative) with a reason, booked as a ledger entry. A
    debit that would take the balance below the credit limit's floor is a 409. An
    ``Idempotency-Key`` books one adjustment per key: a repeat answers as the first did (200),
    the same key with another amount or reason is a 400."""
    reference = f"api:{idempotency_key}" if idempotency_key else None
    adjusted = await operators.adjust(db, external_id, body.amount, body.reason, reference)
    if not adjusted.created:
        response.status_code = status.HTTP_200_OK
    grant_id = adjusted.grant.id if adjusted.grant is not None else None
    return AdjustmentPublic(amount=adjusted.amount, balance=adjusted.balance, grant_id=grant_id)


@router.post("/grants/{grant_id}/void", response_model=VoidedGrantPublic)
async def void_grant(grant_id: GrantIdPath, body: ReasonBody, db: DbDep) -> VoidedGrantPublic:
    """Forfeit what remains of an active grant; a voided, expired or used-up grant is a 409."""
    voided = await operators.void_grant(db, grant_id, body.reason)
    return VoidedGrantPublic(
        grant_id=voided.grant.id, forfeited=voided.forfeited, balance=voided.balance
    )


@router.post("/customers/{external_id}/pause", response_model=CustomerStatusPublic)
async def pause(external_id: ExternalId, body: ReasonBody, db: DbDep) -> CustomerStatusPublic:
    """Cut the customer off whatever the balance: events and holds get 402 ``customer_paused``."""
    return _status(await operators.pause(db, external_id, body.reason))


@router.post("/customers/{external_id}/resume", response_model=CustomerStatusPublic)
async def resume(external_id: ExternalId, body: ResumeBody, db: DbDep) -> CustomerStatusPublic:
    """Lift a pause: the customer is active or cut_off, as the balance implies."""
    return _status(await operators.resume(db, external_id))


def _status(change: StatusChange) -> CustomerStatusPublic:
    return CustomerStatusPublic(
        status=change.status,
        balance=change.balance,
        entitled=change.entitled,
        paused_reason=change.reason,
    )
