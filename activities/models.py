"""Activity inputs and results (plain pydantic, imported by workflows)."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


class CreateStripeCustomerInput(BaseModel):
    external_id: str
    name: str
    email: str
    idempotency_key: str


class RegisterCustomerInput(BaseModel):
    external_id: str
    name: str
    email: str
    plan: str
    stripe_customer_id: str
    workflow_id: str


class RegisteredCustomer(BaseModel):
    customer_id: int
    status: Literal["active", "cut_off", "closed"]
    entitled: bool


class ExpireGrantsInput(BaseModel):
    external_id: str
    # The grants the workflow's timer found due; every other due grant expires too.
    grant_ids: list[int] = Field(default_factory=list)


class ExpiredGrant(BaseModel):
    grant_id: int
    amount: Decimal  # what was left of the grant and is now lost
    expires_at: datetime | None


class ExpireGrantsResult(BaseModel):
    # Grants now expired: by this call, or (for the ids asked about) by an earlier ledger
    # transaction that expired them on its way.
    expired: list[ExpiredGrant] = Field(default_factory=list)
    # Ids asked about that are still active and not yet due by the database's clock.
    pending: list[int] = Field(default_factory=list)
