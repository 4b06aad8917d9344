"""Payments: purchases and auto-recharge attempts (one row per PaymentIntent), and the
auto-recharge settings the customer workflow keeps in step with its own state."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.models.common import metadata_field, money_field, timestamp_field


class Purchase(SQLModel, table=True):
    """Credits bought with one Stripe PaymentIntent; granted once, only when it succeeded.

    ``kind`` is ``purchase`` (``POST .../purchases``) or ``recharge`` (one auto-recharge
    attempt). ``id`` is the grant's reference, so a purchase maps to at most one grant.
    """

    __tablename__ = "purchases"
    __table_args__ = (
        Index("ix_purchases_customer_created", "customer_id", "created_at"),
        Index("ix_purchases_payment_intent", "payment_intent", unique=True),
    )

    id: str = Field(max_length=64, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    kind: str = Field(default="purchase", sa_type=String(20))
    # pending | granted | failed
    status: str = Field(default="pending", sa_type=String(20))
    amount: Decimal = money_field()  # charged, in ``currency``
    currency: str = Field(max_length=3)
    credits: Decimal = money_field()  # granted, in the wallet's unit
    payment_method: str | None = Field(default=None, max_length=100)
    payment_intent: str | None = Field(default=None, max_length=100)
    client_secret: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=500)
    grant_id: int | None = None
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Credits taken back by refunds so far (charge.refunded is cumulative).
    clawed_back: Decimal = money_field()
    refunded_amount: Decimal = money_field()
    workflow_id: str = Field(max_length=300)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    metadata_: dict[str, str] = metadata_field()


class AutoRecharge(SQLModel, table=True):
    """What ``PUT .../auto-recharge`` set; ``status`` says whether it is on, and why not."""

    __tablename__ = "auto_recharges"

    customer_id: int = Field(foreign_key="customers.id", primary_key=True)
    enabled: bool = False
    threshold: Decimal = money_field()
    recharge_to: Decimal = money_field()
    payment_method: str | None = Field(default=None, max_length=100)
    # enabled | disabled (by the PUT) | failed (disabled after the last declined attempt)
    status: str = Field(default="disabled", sa_type=String(20))
    disabled_reason: str | None = Field(default=None, max_length=500)
    last_recharge_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = timestamp_field()


class PurchaseIdempotencyKey(SQLModel, table=True):
    """An ``Idempotency-Key`` of ``POST .../purchases``: bound to a hash of the request body
    and to the purchase it made, kept at least ``IDEMPOTENCY_KEY_DAYS`` days."""

    __tablename__ = "purchase_idempotency_keys"
    __table_args__ = (Index("ix_purchase_idempotency_keys_created", "created_at"),)

    customer_id: int = Field(foreign_key="customers.id", primary_key=True)
    key: str = Field(max_length=200, primary_key=True)
    request_hash: str = Field(max_length=64)
    purchase_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = timestamp_field()


__all__ = ["AutoRecharge", "Purchase", "PurchaseIdempotencyKey"]
