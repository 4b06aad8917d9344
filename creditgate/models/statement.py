"""Statements: one immutable, numbered statement per closed billing period."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.models.common import money_field, timestamp_field


class Statement(SQLModel, table=True):
    """What a period close wrote. Reconciles: opening_balance + grants − usage_debited −
    expired + adjustments − true_up = closing_balance, over the ledger entries after the
    previous statement's last one up to this one's true-up (``first_entry_id``..
    ``last_entry_id``). ``usage`` is the period's usage (events by timestamp in the period and
    received before the freeze, plus late events of earlier periods received since the last
    freeze) rated under the plan: realtime_debits + true_up = Σ usage amounts (invariant 7).
    """

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("customer_id", "number", name="uq_statements_customer_number"),
        UniqueConstraint("customer_id", "period_index", name="uq_statements_customer_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    number: int
    period_index: int
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)
    frozen_at: datetime = Field(sa_type=UTCDateTime)
    plan_code: str = Field(max_length=100)
    plan_version: int
    billing: str = Field(default="prepaid", sa_type=String(20))
    unit: str = Field(max_length=20)  # the wallet's: balances and usage amounts
    currency: str = Field(max_length=20)  # money: what amount_due is charged in
    opening_balance: Decimal = money_field()
    grants: Decimal = money_field()
    usage_debited: Decimal = money_field()
    expired: Decimal = money_field()
    adjustments: Decimal = money_field()
    realtime_debits: Decimal = money_field()
    true_up: Decimal = money_field()
    closing_balance: Decimal = money_field()
    amount_due: Decimal = money_field()
    usage: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    late_events: int = 0
    first_entry_id: int | None = None
    last_entry_id: int | None = None
    # none (nothing due) | pending | paid | failed | below_minimum (carried to the next one)
    payment_status: str = Field(default="none", sa_type=String(20))
    payment_intent: str | None = Field(default=None, max_length=100)
    created_at: datetime = timestamp_field()
