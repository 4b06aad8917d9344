"""Account closure: the refund of each purchase's unspent credits, one row per purchase."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from creditgate.models.common import money_field, timestamp_field


class ClosureRefund(SQLModel, table=True):
    """Written (``pending``) in the ledger transaction that takes the credits back, before
    Stripe is asked: the purchase id is the key, so a closure resumed after a crash refunds
    the amount it decided the first time, once."""

    __tablename__ = "closure_refunds"

    purchase_id: str = Field(max_length=64, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    payment_intent: str = Field(max_length=100)
    amount: Decimal = money_field()  # money back to the card
    currency: str = Field(max_length=20)
    credits: Decimal = money_field()  # unspent credits taken back
    # pending | succeeded | failed
    status: str = Field(default="pending", sa_type=String(20))
    stripe_refund_id: str | None = Field(default=None, max_length=100)
    failure: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
