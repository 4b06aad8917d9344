"""Request and response bodies of the public API."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from creditgate.ledger.customers import CustomerWithWallet
from creditgate.pricing.plan import Code
from creditgate.values.identifiers import ExternalId, PersonName
from creditgate.values.money import MoneyStr

PlanCode = Code
# Ids the API made (``hold_…``, ``pur_…``, ``rch_…``, ``mig_…``), as path parameters: anything
# else is a 422 before it reaches a query (PostgreSQL refuses NUL in text with an error).
_MADE_ID = r"^[A-Za-z0-9_-]+$"
HoldIdPath = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=_MADE_ID)]
PurchaseIdPath = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_MADE_ID)]
MigrationIdPath = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=_MADE_ID)]


# Every failure: ``{"error": {"type", "message", ...}}`` (``api.errors``), as JSON also where
# the route answers HTML, so the schema is written out rather than taken from a model.
ERROR_CONTENT = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        }
    }
}
# Declared on every router: the error shape of each failure the routes can answer.
ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"content": ERROR_CONTENT, "description": "The request is refused (nothing changed)"},
    503: {"content": ERROR_CONTENT, "description": "The database or Temporal is unavailable"},
}


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
