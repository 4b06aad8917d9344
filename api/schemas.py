"""Request and response bodies of the public API."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from creditgate.customers import CustomerWithWallet
from creditgate.identifiers import ExternalId, PersonName
from creditgate.money import MoneyStr

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PlanCode = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9_-]+$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CustomerCreate(StrictModel):
    external_id: ExternalId
    name: PersonName
    email: Annotated[EmailStr, Field(max_length=320)]
    plan: PlanCode | None = None


class BalanceSummary(BaseModel):
    available: MoneyStr
    held: MoneyStr
    debt: MoneyStr
    entitled: bool
    currency: str


class CustomerPublic(BaseModel):
    external_id: str
    name: str
    email: str
    plan: str
    status: Literal["active", "cut_off", "closed"]
    stripe_customer_id: str | None
    workflow_id: str
    created_at: datetime
    balance: BalanceSummary

    @classmethod
    def of(cls, stored: CustomerWithWallet) -> "CustomerPublic":
        c, w = stored.customer, stored.wallet
        return cls(
            external_id=c.external_id,
            name=c.name,
            email=c.email,
            plan=c.plan_code,
            status=c.status,
            stripe_customer_id=c.stripe_customer_id,
            workflow_id=c.workflow_id,
            created_at=c.created_at,
            balance=BalanceSummary(
                available=w.available,
                held=w.held,
                debt=w.debt,
                entitled=w.entitled,
                currency=w.currency,
            ),
        )


class CustomerPending(BaseModel):
    """Signup accepted but not finished within the wait (Stripe or the worker is slow)."""

    external_id: str
    status: Literal["pending"] = "pending"
    workflow_id: str
