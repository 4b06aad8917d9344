"""The page of a customer's events (``GET /v1/customers/{external_id}/events``)."""

from typing import Any

from pydantic import BaseModel


class EventPage(BaseModel):
    # Envelopes (docs/events.md), in sequence order.
    events: list[dict[str, Any]]
    # Pass as ``after`` for the next page: the last sequence returned (or ``after`` when
    # there was none), so a poller never skips or repeats an event.
    next_after: int
    has_more: bool
