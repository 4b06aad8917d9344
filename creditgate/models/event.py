from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from creditgate.models.common import timestamp_field
from creditgate.models.ledger import BigId


class CustomerEvent(SQLModel, table=True):
    """One fact the product is told about a customer (the event catalogue in docs/events.md).

    ``sequence`` counts a customer's events from 1 without gaps (``customers.last_event_sequence``
    is bumped in the same transaction); ``key`` is the business key of the state change that
    caused it, so recording the same change twice (an activity retried) keeps one event."""

    __tablename__ = "customer_events"
    __table_args__ = (
        UniqueConstraint("customer_id", "sequence", name="uq_customer_events_sequence"),
        UniqueConstraint("customer_id", "key", name="uq_customer_events_key"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    event_id: str = Field(max_length=40, unique=True)
    customer_id: int = Field(foreign_key="customers.id")
    external_id: str = Field(max_length=200)
    sequence: int
    type: str = Field(max_length=40)
    key: str = Field(max_length=200)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = timestamp_field()
