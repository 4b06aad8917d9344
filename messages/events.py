"""Recording an outbound event from a workflow (the catalogue is in docs/events.md)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class RecordEventInput(BaseModel):
    external_id: str
    type: str
    # The business key of the state change (``purchase.succeeded:{purchase_id}``): recording
    # the same change again returns the event already recorded.
    key: str
    data: dict[str, Any]
    created_at: datetime


class RecordedEvent(BaseModel):
    event_id: str
    sequence: int
