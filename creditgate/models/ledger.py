"""The ledger: grants (lots of credit), append-only entries, usage events, holds, outbox."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.models.common import metadata_field, money_field, timestamp_field

# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Grant(SQLModel, table=True):
    """A lot of credits. Burn-down: smallest priority, then earliest expiry, then oldest."""

    __tablename__ = "grants"
    __table_args__ = (
        UniqueConstraint("customer_id", "reference", name="uq_grants_customer_reference"),
        Index("ix_grants_customer_status", "customer_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    amount: Decimal = money_field()
    remaining: Decimal = money_field()
    priority: int = 10
    effective_at: datetime = timestamp_field()
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # purchase | recharge | promotional | adjustment
    source: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    # Business key (purchase id, recharge attempt, request idempotency key): one grant per key.
    reference: str | None = Field(default=None, max_length=200)
    # active | expired | voided
    status: str = Field(default="active", sa_type=String(20))
    expired_amount: Decimal = money_field()
    created_at: datetime = timestamp_field()
    metadata_: dict[str, str] = metadata_field()


class LedgerEntry(SQLModel, table=True):
    """Append-only. For every wallet, balance = Σ amount (invariant 2)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_customer_id", "customer_id", "id"),
        # Partial: only the few entries with a key (an adjustment's) are indexed, so a usage
        # debit writes no more index entries than before.
        Index(
            "uq_ledger_customer_reference",
            "customer_id",
            "reference",
            unique=True,
            sqlite_where=text("reference IS NOT NULL"),
            postgresql_where=text("reference IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    # customers.id, without a FOREIGN KEY (migration 0008): written under the customer's lock.
    customer_id: int
    # grant | debit | expiry | clawback | adjustment | true_up
    kind: str = Field(sa_type=String(20))
    amount: Decimal = money_field()
    balance_after: Decimal = money_field()
    grant_id: int | None = None
    event_id: str | None = Field(default=None, max_length=200)
    hold_id: str | None = Field(default=None, max_length=40)
    # For debits: how the amount burned down, [{"grant_id": 1, "amount": "0.5"}, ...]; the
    # part no grant covered became debt.
    allocations: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    description: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp_field()
    # An adjustment's key (an operator update's or an Idempotency-Key): one entry per key.
    reference: str | None = Field(default=None, max_length=200)


class UsageEvent(SQLModel, table=True):
    """One accepted usage event; ``(customer_id, event_id)`` is the idempotency key, forever."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("customer_id", "event_id", name="uq_usage_events_customer_event"),
        Index("ix_usage_customer_meter_time", "customer_id", "meter_code", "timestamp"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    # customers.id, without a FOREIGN KEY (migration 0008): written under the customer's lock.
    customer_id: int
    event_id: str = Field(max_length=200)
    event_type: str = Field(max_length=100)
    timestamp: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = timestamp_field()
    meter_code: str | None = Field(default=None, max_length=100)
    # The meter's group-by values, e.g. {"model": "gpt-4o", "token_type": "input"}.
    dimensions: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    quantity: Decimal = money_field()
    # The distinct value a unique_count meter counts.
    distinct_value: str | None = Field(default=None, max_length=500)
    cost: Decimal = money_field()
    price_index: int | None = None
    plan_version: int | None = None
    hold_id: str | None = Field(default=None, max_length=40)
    properties: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class UsageCounter(SQLModel, table=True):
    """Cumulative quantity per price in a period (graduated/volume tiers rate against it)."""

    __tablename__ = "usage_counters"

    customer_id: int = Field(foreign_key="customers.id", primary_key=True)
    period_start: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    price_key: str = Field(max_length=200, primary_key=True)
    quantity: Decimal = money_field()


class Hold(SQLModel, table=True):
    """Funds reserved for work in flight; counts against available until settled or released."""

    __tablename__ = "holds"
    __table_args__ = (
        Index("ix_holds_customer_status", "customer_id", "status"),
        Index("uq_holds_customer_idempotency_key", "customer_id", "idempotency_key", unique=True),
    )

    id: str = Field(max_length=40, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    amount: Decimal = money_field()
    remaining: Decimal = money_field()
    # active | released | expired | settled
    status: str = Field(default="active", sa_type=String(20))
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = timestamp_field()
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    description: str | None = Field(default=None, max_length=500)
    # One hold per (customer, key): a request placed again returns the first hold.
    idempotency_key: str | None = Field(default=None, sa_type=String(200))
    # Digest of what the request asked for, to refuse a key reused for another request.
    request_hash: str | None = Field(default=None, sa_type=String(64))


class OutboxMessage(SQLModel, table=True):
    """Written in the ledger transaction; the worker's relay signals the customer workflow."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "id"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    message_id: str = Field(max_length=100, unique=True)
    customer_id: int = Field(foreign_key="customers.id")
    workflow_id: str = Field(max_length=300)
    # zero | restored | threshold | balance_low | grant_added | paused | resumed |
    # profile_changed (the customer PATCH route writes it, not the ledger)
    kind: str = Field(sa_type=String(30))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = timestamp_field()
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    # A relay is signalling the row until then (another relay leaves it alone).
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set after too many failed attempts: dead-lettered until an operator retries it
    # (``creditgate outbox retry``); ``creditgate check`` reports it.
    dead_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
