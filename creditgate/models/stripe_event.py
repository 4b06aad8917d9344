from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.models.common import timestamp_field


class StripeEvent(SQLModel, table=True):
    """Every Stripe event received, once (the id is Stripe's ``evt_...``): a duplicate or
    replayed delivery finds its row and changes nothing."""

    __tablename__ = "stripe_events"

    id: str = Field(max_length=255, primary_key=True)
    type: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)  # Stripe's ``created``
    received_at: datetime = timestamp_field()
    payload: dict[str, Any] = Field(sa_type=JSON)
    # Set once the event has been routed to its workflow (types Creditgate acts on).
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
