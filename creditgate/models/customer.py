from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, String
from sqlmodel import Field, SQLModel

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.models.common import metadata_field, money_field, timestamp_field
from creditgate.values.money import Money


class CustomerStatus(StrEnum):
    active = "active"
    cut_off = "cut_off"
    # Cut off by an operator whatever the balance (``paused_reason`` says why).
    paused = "paused"
    # An account closure is running: usage, holds, purchases and grants are refused.
    closing = "closing"
    closed = "closed"


class CustomerBase(SQLModel):
    external_id: str = Field(max_length=200, unique=True, index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)


class Customer(CustomerBase, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    plan_code: str = Field(default="default", max_length=100)
    plan_version: int | None = None
    # Set by a plan migration with effective next_period; the period close applies it.
    next_plan_version: int | None = None
    # Set with next_plan_version by a plan change to another plan code (None: same code).
    next_plan_code: str | None = Field(default=None, max_length=100)
    status: CustomerStatus = Field(default=CustomerStatus.active, sa_type=String(20))
    stripe_customer_id: str | None = Field(default=None, max_length=100)
    paused_reason: str | None = Field(default=None, max_length=500)
    # Why and when the account was asked to close, and when the closure finished.
    closure_reason: str | None = Field(default=None, max_length=500)
    closure_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    workflow_id: str = Field(max_length=300)
    # The saved card (attached to the Stripe customer) for off-session charges.
    payment_method: str | None = Field(default=None, max_length=100)
    # Billing periods are anchored here (signup time unless migrated).
    period_anchor: datetime = timestamp_field()
    # The sequence number of the customer's last event (``customer_events``).
    last_event_sequence: int = 0
    created_at: datetime = timestamp_field()
    metadata_: dict[str, str] = metadata_field()


class Wallet(SQLModel, table=True):
    __tablename__ = "wallets"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", unique=True, index=True)
    currency: str = Field(default="USD", max_length=20)
    # balance = Σ ledger entries (grants, debits, expiries); available = balance - held.
    # A negative balance is debt: usage that already happened is always recorded.
    balance: Decimal = money_field()
    held: Decimal = money_field()
    entitled: bool = False
    # Auto-recharge threshold (set by PUT .../auto-recharge); a debit that takes available from
    # above it to at or below it writes one ``threshold`` outbox message.
    recharge_threshold: Decimal | None = Field(default=None, sa_type=Money)
    # How far below zero the balance may go while the customer stays entitled: 0 on prepaid
    # plans, the spend limit on arrears plans (None: no limit). Dunning failure sets it to 0.
    # ``register_customer`` always sets it (None would not survive a non-None default).
    credit_limit: Decimal | None = Field(default=None, sa_type=Money)
    # Spend alerts (``PUT .../alerts``; the plan's default copied at signup) as given, and the
    # amounts they resolve to, comma-separated, read by the hot transaction with the wallet
    # (``creditgate.events.alerts``).
    alert_rules: list[dict[str, str]] | None = Field(default=None, sa_type=JSON)
    alert_amounts: str | None = Field(default=None, max_length=400)
    updated_at: datetime = timestamp_field()

    @property
    def available(self) -> Decimal:
        return available_of(self.balance, self.held)

    @property
    def debt(self) -> Decimal:
        return debt_of(self.balance)


def available_of(balance: Decimal, held: Decimal) -> Decimal:
    """available = Σ remaining of unexpired grants − debt − active holds; the
    balance is already Σ remaining − debt."""
    return balance - held


def debt_of(balance: Decimal) -> Decimal:
    """Usage that already happened beyond the credits: a negative balance."""
    return -balance if balance < 0 else Decimal(0)
