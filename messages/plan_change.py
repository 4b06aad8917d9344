"""Plan change messages: the ``change_plan`` update on CustomerWorkflow and its activity."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

PlanChangeEffective = Literal["now", "next_period"]


class PlanChangeRequest(BaseModel):
    """``change_plan`` update payload, e.g. from the Temporal UI:
    ``{"plan": "pro", "version": 2, "effective": "now", "operator": "alice"}``;
    ``version`` defaults to the plan's latest."""

    plan: str
    version: int | None = None
    effective: PlanChangeEffective = "next_period"
    # Who sent it from the Temporal UI (its audit log actor is ``operator:<name>``); the API
    # sends the name of its key as ``api_key`` instead (its audit log has the request).
    operator: str | None = None
    api_key: str | None = None


class SchedulePlanInput(BaseModel):
    external_id: str
    plan: str
    version: int | None = None


class ScheduledPlan(BaseModel):
    """The plan the next period close moves the customer to (validated and stored)."""

    plan: str
    version: int


class PlanChangeResult(BaseModel):
    plan: str
    version: int
    effective: PlanChangeEffective
    # When the new plan takes effect: the early close (``now``) or the end of the open period.
    takes_effect_at: datetime | None = None
    period_index: int | None = None  # the period whose close applies the change
