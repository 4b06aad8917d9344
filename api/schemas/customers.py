"""Bodies of the customer routes: signup and the customer with its balance."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints, model_validator

from api.schemas.common import PlanCode, RequestBody, UtcDatetime
from api.schemas.metadata import MetadataPatch
from creditgate.ledger.customers import CustomerWithWallet
from creditgate.values.identifiers import STORABLE, ExternalId, PersonName
from creditgate.values.money import MoneyStr

Email = Annotated[EmailStr, Field(max_length=320)]


class CustomerCreate(RequestBody):
    external_id: ExternalId
    name: PersonName
    email: Email
    plan: PlanCode | None = None


class CustomerUpdate(RequestBody):
    """What ``PATCH`` may change; at least one field, and name and email never null."""

    name: PersonName | None = None
    email: Email | None = None
    metadata: MetadataPatch | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> "CustomerUpdate":
        if not self.model_fields_set:
            raise ValueError("give at least one of name, email or metadata")
        for field in ("name", "email"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class CustomerFilters(BaseModel):
    """``GET /v1/customers`` query: a page (``limit``, ``after``) and filters."""

    model_config = {"extra": "forbid"}

    limit: Annotated[int, Field(ge=1, le=100)] = 20
    after: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    status: Literal["active", "cut_off", "paused", "closing", "closed"] | None = None
    plan: PlanCode | None = None
    entitled: bool | None = None
    created_after: UtcDatetime | None = None
    created_before: UtcDatetime | None = None
    search: (
        Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=STORABLE)] | None
    ) = None


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
    status: Literal["active", "cut_off", "paused", "closing", "closed"]
    # Why an operator paused the customer (``status`` paused).
    paused_reason: str | None = None
    # Set once the account was asked to close (``status`` closing, then closed).
    closed_at: datetime | None = None
    stripe_customer_id: str | None
    workflow_id: str
    created_at: datetime
    balance: BalanceSummary
    metadata: dict[str, str]

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
            closed_at=c.closed_at,
            stripe_customer_id=c.stripe_customer_id,
            workflow_id=c.workflow_id,
            created_at=c.created_at,
            metadata=c.metadata_,
            balance=BalanceSummary(
                available=w.available,
                held=w.held,
                debt=w.debt,
                entitled=w.entitled,
                currency=w.currency,
            ),
        )


class CustomerPage(BaseModel):
    data: list[CustomerPublic]
    # Pass as ``after`` for the next page; null on the last page.
    next_cursor: str | None


class CustomerPending(BaseModel):
    """Signup accepted but not finished within the wait (Stripe or the worker is slow)."""

    external_id: str
    status: Literal["pending"] = "pending"
    workflow_id: str
