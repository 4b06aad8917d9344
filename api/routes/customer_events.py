"""A customer's outbound events, pulled: ``GET /v1/customers/{external_id}/events``."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CustomerDep, DbDep
from api.schemas.common import ERRORS
from api.schemas.events import EventPage
from creditgate.events import store
from creditgate.events.envelope import envelope

router = APIRouter(prefix="/customers/{external_id}/events", tags=["events"], responses=ERRORS)
MAX_LIMIT = 500


@router.get("", response_model=EventPage)
async def list_events(
    stored: CustomerDep,
    db: DbDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> EventPage:
    """The customer's events with ``sequence > after``, oldest first."""
    found = await store.events_after(db, stored.customer.external_id, after, limit + 1)
    page = found[:limit]
    return EventPage(
        events=[envelope(event) for event in page],
        next_after=page[-1].sequence if page else after,
        has_more=len(found) > limit,
    )
