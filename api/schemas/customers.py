"""Bodies of the customer routes: signup and the customer with its balance."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field

from api.schemas.common import PlanCode, RequestBody
from creditgate.ledger.customers import CustomerWithWallet
from creditgate.values.identifiers import ExternalId, PersonName
from creditgate.values.money import MoneyStr


class CustomerCreate(RequestBody):
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
    status: Literal["active", "cut_off", "paused", "closed"]
    # Why an operator paused the customer (``status`` paused).
    paused_reason: str | None = None
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
            paused_reason=c.paused_reason,
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
