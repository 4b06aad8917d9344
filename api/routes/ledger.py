"""Hot-path routes: usage events, holds, grants, balance, ledger, usage summaries."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_core import to_json

from api.deps import CustomerDep, DbDep, SessionDep, customer_not_found
from api.errors import ApiError
from api.media import NOT_JSON, sent_json
from api.schemas.common import ERROR_CONTENT, ERRORS, HoldIdPath
from api.schemas.ledger import (
    BalancePublic,
    EventBatch,
    EventBatchResult,
    GrantCreate,
    GrantPublic,
    HoldCreate,
    HoldPublic,
    LedgerEntryPublic,
    LedgerPage,
    UsageLine,
    UsageSummary,
)
from creditgate.infra.db import Database
from creditgate.ledger import reads, service
from creditgate.ledger.batcher import IngestBatcher
from creditgate.ledger.grants import GrantSpec
from creditgate.ledger.holds import HoldRequest
from creditgate.ledger.pausing import batch_refusal
from creditgate.ledger.tables import GrantRow
from creditgate.ledger.usage import EventIn, UsageResult, unstorable
from creditgate.models import Customer, Hold
from creditgate.plans import catalog as plans
from creditgate.statements.periods import period_bounds
from creditgate.values.identifiers import ExternalId
from creditgate.values.money import cached_str, to_str

router = APIRouter(tags=["usage and balance"], responses=ERRORS)
JSON = "application/json"
EVENT_BATCH_REF = "#/components/schemas/EventBatch"


@router.post(
    "/events",
    response_model=EventBatchResult,
    response_model_exclude_none=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": EVENT_BATCH_REF}}},
        }
    },
)
async def record_events(request: Request) -> Response:
    """Rate and debit 1 to 1,000 usage events now; each gets its own result.

    ``sum`` and ``count`` meters are priced per event in real time; ``max``, ``last`` and
    ``unique_count`` meters are recorded at zero cost and rated at period close. An ``id`` is
    idempotent per customer forever: a repeat answers ``duplicate`` and moves no money.
    Input the databases cannot store (NUL in ids or texts, ``NaN``, ``Infinity`` or ``1e400``
    anywhere in ``properties``) is a 422; an event whose cost would not fit the ledger is
    ``rejected``. A 503 ``ledger_busy`` wrote nothing: send the request again.
    """
    # ``api.hot_paths`` answers an accepted batch before it gets here and hands this route
    # the batches it refuses; this route answers every batch where the hot path does not
    # run (the app served under a root path, ``CreditgateApi.hot_paths`` None).
    body = await _event_batch(request)
    return Response(await events_body(request.app.state.ingest, body.events), media_type=JSON)


async def events_body(ingest: IngestBatcher, events: list[EventIn]) -> bytes:
    """The events debited, as ``EventBatchResult`` JSON (the route's and the hot path's); a
    batch whose every event was refused because its customer is paused or closed is a 402."""
    results = await ingest.submit(events)
    refused = batch_refusal(results)
    if refused is not None:
        raise refused
    return results_json(results)


def results_json(results: list[UsageResult]) -> bytes:
    """``EventBatchResult`` without its Nones, from plain dicts (a model per result cost
    more than the ledger work for a 1,000-event batch)."""
    out = []
    for r in results:
        item: dict[str, str] = {"id": r.id, "status": r.status}
        if r.cost is not None:
            item["cost"] = cached_str(r.cost)
        if r.balance_after is not None:
            item["balance_after"] = to_str(r.balance_after)
        if r.reason is not None:
            item["reason"] = r.reason
        out.append(item)
    return to_json({"results": out})


async def _event_batch(request: Request) -> EventBatch:
    """The body, parsed and validated by pydantic-core in one pass from the raw bytes (the
    hot path; FastAPI would decode the JSON to Python objects first and validate those)."""
    if not sent_json(request.scope):
        raise ApiError(415, "unsupported_media_type", NOT_JSON)
    body = await request.body()
    try:
        batch = EventBatch.model_validate_json(body)
    except ValidationError as err:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in err.errors()]
        raise RequestValidationError(errors) from None
    if (problem := unstorable(body, batch.events)) is not None:
        raise ApiError(422, "validation_error", problem)
    return batch


@router.get("/customers/{external_id}/balance", response_model=BalancePublic)
async def read_balance(external_id: ExternalId, request: Request) -> Response:
    """Available, held, debt and entitlement, with the active grants in burn-down order."""
    # Answered by ``api.hot_paths`` unless the hot path does not run (as for events).
    return Response(await balance_body(request.app.state.db, external_id), media_type=JSON)


async def balance_body(db: Database, external_id: str) -> bytes:
    """The customer's ``BalancePublic`` JSON (the route's and the hot path's); 404 if none."""
    found = await reads.balance(db, external_id)
    if found is None:
        raise customer_not_found(external_id)
    return balance_json(*found)


def balance_json(wallet: reads.WalletView, grants: list[GrantRow]) -> bytes:
    """``BalancePublic`` built as dicts, field for field (same keys, order and formats)."""
    return to_json(
        {
            "available": to_str(wallet.available),
            "held": to_str(wallet.held),
            "debt": to_str(wallet.debt),
            "entitled": wallet.entitled,
            "currency": wallet.currency,
            "grants": [
                {
                    "id": g.id,
                    "amount": to_str(g.amount),
                    "remaining": to_str(g.remaining),
                    "priority": g.priority,
                    "effective_at": g.effective_at,
                    "expires_at": g.expires_at,
                    "source": g.source,
                    "reason": g.reason,
                    "status": g.status,
                }
                for g in grants
            ],
        }
    )


@router.post(
    "/customers/{external_id}/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantPublic,
    responses={
        200: {
            "model": GrantPublic,
            "description": "Repeat of an Idempotency-Key: the grant made the first time",
        }
    },
)
async def create_grant(
    external_id: ExternalId,
    body: GrantCreate,
    response: Response,
    db: DbDep,
    # Stored as "api:<key>" in grants.reference (200 characters).
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=196)] = None,
) -> GrantPublic:
    """Promotional or adjustment credits. A grant pays any debt first."""
    outcome = await service.grant(
        db,
        external_id,
        GrantSpec(
            amount=body.amount,
            source=body.source,
            priority=body.priority,
            expires_at=body.expires_at,
            reason=body.reason,
            reference=f"api:{idempotency_key}" if idempotency_key else None,
            metadata=body.metadata,
        ),
    )
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return GrantPublic.of(outcome.grant, outcome.metadata)


@router.post(
    "/customers/{external_id}/holds",
    status_code=status.HTTP_201_CREATED,
    response_model=HoldPublic,
    responses={
        200: {
            "model": HoldPublic,
            "description": "Repeat of an idempotency key: the hold placed the first time",
        },
        400: {
            "content": ERROR_CONTENT,
            "description": "An idempotency key reused for a different request",
        },
        402: {"content": ERROR_CONTENT, "description": "Available balance does not cover the hold"},
    },
)
async def create_hold(
    external_id: ExternalId,
    body: HoldCreate,
    response: Response,
    db: DbDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=196)] = None,
) -> HoldPublic:
    """Reserve funds for work in flight; events naming ``hold_id`` settle against it.

    An ``Idempotency-Key`` header (or ``idempotency_key`` in the body) places one hold per
    key: a repeat returns it (200), the same key with a different request is a 400."""
    if (body.amount is None) == (body.event_type is None):
        raise ApiError(422, "validation_error", "give either amount or event_type (not both)")
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise ApiError(
            422, "validation_error", "the Idempotency-Key header and idempotency_key differ"
        )
    key = idempotency_key or body.idempotency_key
    placed, created = await service.place(
        db,
        external_id,
        HoldRequest(
            ttl_seconds=body.ttl_seconds,
            amount=body.amount,
            estimate=(body.event_type, body.properties) if body.event_type else None,
            description=body.description,
            key=f"api:{key}" if key else None,
        ),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return HoldPublic.of(placed, external_id)


@router.post("/holds/{hold_id}/release", response_model=HoldPublic)
async def release_hold(hold_id: HoldIdPath, db: DbDep, session: SessionDep) -> HoldPublic:
    released = await service.release_hold(db, hold_id)
    customer = await session.get(Customer, released.customer_id)
    assert customer is not None
    return HoldPublic.of(released, customer.external_id)


@router.get("/holds/{hold_id}", response_model=HoldPublic)
async def read_hold(hold_id: HoldIdPath, session: SessionDep) -> HoldPublic:
    found = await session.get(Hold, hold_id)
    if found is None:
        raise ApiError(404, "not_found", f"no hold {hold_id!r}")
    customer = await session.get(Customer, found.customer_id)
    assert customer is not None
    return HoldPublic.of(found, customer.external_id)


@router.get("/customers/{external_id}/ledger", response_model=LedgerPage)
async def read_ledger(
    stored: CustomerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    starting_after: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> LedgerPage:
    """Ledger entries, newest first; pass the last id as ``starting_after`` for the next page."""
    assert stored.customer.id is not None
    entries, has_more = await reads.ledger_page(session, stored.customer.id, limit, starting_after)
    return LedgerPage(
        data=[LedgerEntryPublic.of(e) for e in entries],
        has_more=has_more,
        next_starting_after=entries[-1].id if has_more and entries else None,
    )


@router.get("/customers/{external_id}/usage", response_model=UsageSummary)
async def read_usage(
    stored: CustomerDep,
    session: SessionDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    group_by: Annotated[list[str] | None, Query()] = None,
) -> UsageSummary:
    """Aggregated usage and real-time cost per meter and dimension (default: this period)."""
    customer = stored.customer
    plan = await plans.definition(session, customer.plan_code, customer.plan_version or 1)
    now = datetime.now(UTC)
    _, period_start, _ = period_bounds(customer.period_anchor, plan.period, now)
    start = _aware(start, "from") if start else period_start
    end = _aware(end, "to") if end else now + timedelta(minutes=5, microseconds=1)
    if end <= start:
        raise ApiError(422, "validation_error", "`to` must be after `from`")
    groups = await reads.usage_summary(session, stored, plan, start, end, group_by)
    return UsageSummary(
        customer=customer.external_id,
        currency=stored.wallet.currency,
        start=start,
        end=end,
        group_by=group_by or [],
        usage=[UsageLine.model_validate(g, from_attributes=True) for g in groups],
        total_cost=sum((g.cost for g in groups), Decimal(0)),
    )


def _aware(value: datetime, name: str) -> datetime:
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ApiError(422, "validation_error", f"`{name}` is out of range in UTC") from None
