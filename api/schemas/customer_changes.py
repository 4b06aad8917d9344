"""Bodies of a customer's plan change."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import PlanCode, RequestBody


class PlanChangeCreate(RequestBody):
    plan: PlanCode
    version: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] | None = None
    effective: Literal["now", "next_period"] = "next_period"


class PlanChangePublic(BaseModel):
    plan: str
    version: int
    effective: Literal["now", "next_period"]
    takes_effect_at: str | None
    period_index: int | None
