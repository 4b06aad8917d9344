from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from creditgate.models.common import money_field, timestamp_field


class CustomerStatus(StrEnum):
    active = "active"
    cut_off = "cut_off"
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
    status: CustomerStatus = Field(default=CustomerStatus.active, sa_type=String(20))
    stripe_customer_id: str | None = Field(default=None, max_length=100)
    workflow_id: str = Field(max_length=300)
    created_at: datetime = timestamp_field()


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
    updated_at: datetime = timestamp_field()

    @property
    def available(self) -> Decimal:
        return max(self.balance, Decimal(0)) - self.held

    @property
    def debt(self) -> Decimal:
        return -self.balance if self.balance < 0 else Decimal(0)
