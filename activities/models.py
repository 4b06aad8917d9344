"""Activity inputs and results (plain pydantic, imported by workflows)."""

from typing import Literal

from pydantic import BaseModel


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
