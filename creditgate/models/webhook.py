"""Outbound webhooks: endpoints, one delivery per (endpoint, event), and the dispatcher's
per-customer cursor (docs/decisions.md, "Outbound webhooks")."""

from datetime import datetime

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.models.common import timestamp_field
from creditgate.models.ledger import BigId


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(max_length=40, unique=True)
    url: str = Field(max_length=2048)
    description: str = Field(default="", max_length=500)
    event_types: list[str] = Field(default_factory=list, sa_type=JSON)
    # Standard Webhooks secrets (``whsec_…``); the previous one also signs until it expires.
    secret: str = Field(max_length=100, repr=False)
    previous_secret: str | None = Field(default=None, max_length=100, repr=False)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enabled: bool = True
    # operator | gone (the endpoint answered 410)
    disabled_reason: str | None = Field(default=None, max_length=20)
    # Set when a delivery's last attempt failed; cleared once no delivery is failed.
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Events with a larger customer_events.id are sent (those before the endpoint are not).
    after_event: int = Field(default=0, sa_type=BigId)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_pk", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_stream", "endpoint_id", "customer_id", "status", "sequence"),
        Index("ix_webhook_deliveries_kick", "needs_kick"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    delivery_id: str = Field(max_length=40, unique=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id")
    event_pk: int = Field(sa_type=BigId, foreign_key="customer_events.id")
    event_id: str = Field(max_length=40)
    event_type: str = Field(max_length=40)
    customer_id: int = Field(foreign_key="customers.id")
    external_id: str = Field(max_length=200)
    sequence: int
    # pending | succeeded | failed
    status: str = Field(default="pending", sa_type=String(20))
    # Bumped when an operator retries or replays it: an attempt still in flight for an older
    # generation cannot mark the new one done.
    generation: int = 0
    # The (endpoint, customer) workflow must be signalled: set with the row, cleared once sent.
    needs_kick: bool = True
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = timestamp_field()


class WebhookCursor(SQLModel, table=True):
    """The last sequence of the customer's events the dispatcher fanned out to endpoints."""

    __tablename__ = "webhook_cursors"

    customer_id: int = Field(
        foreign_key="customers.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    dispatched_sequence: int = 0
