"""A customer's outbound events, pulled: ``GET /v1/customers/{external_id}/events``."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import DbDep
from api.schemas import ERRORS
from creditgate.events import store
from creditgate.events.envelope import envelope
from creditgate.payments.store import customer_id_of
from creditgate.values.identifiers import ExternalId

router = APIRouter(prefix="/customers/{external_id}/events", tags=["events"], responses=ERRORS)
MAX_LIMIT = 500


class EventPage(BaseModel):
    # Envelopes (docs/events.md), in sequence order.
    events: list[dict[str, Any]]
    # Pass as ``after`` for the next page: the last sequence returned (or ``after`` when
    # there was none), so a poller never skips or repeats an event.
    next_after: int
    has_more: bool


@router.get("", response_model=EventPage)
async def list_events(
    external_id: ExternalId,
    db: DbDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> EventPage:
    """The customer's events with ``sequence > after``, oldest first."""
    await customer_id_of(db, external_id)
    found = await store.events_after(db, external_id, after, limit + 1)
    page = found[:limit]
    return EventPage(
        events=[envelope(event) for event in page],
        next_after=page[-1].sequence if page else after,
        has_more=len(found) > limit,
    )
