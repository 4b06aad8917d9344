"""Plans: meters and prices, in immutable versions."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from api.deps import DbDep, SessionDep
from api.schemas import PlanCode
from creditgate import plans
from creditgate.models import Plan
from creditgate.pricing.plan import PlanDefinition

router = APIRouter(prefix="/plans", tags=["plans"])


class PlanPublic(BaseModel):
    code: str
    version: int
    name: str
    currency: str
    created_at: datetime
    meters: list[dict[str, Any]]
    prices: list[dict[str, Any]]
    billing: str
    period: dict[str, Any]
    grace_seconds: int

    @classmethod
    def of(cls, plan: Plan) -> "PlanPublic":
        definition = dict(plan.definition)
        definition.pop("code", None)
        definition.pop("name", None)
        definition.pop("currency", None)
        return cls(
            code=plan.code,
            version=plan.version,
            name=plan.name,
            currency=plan.currency,
            created_at=plan.created_at,
            **definition,
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create_plan(body: PlanDefinition, db: DbDep) -> PlanPublic:
    """Create version 1 of a plan (409 if the code exists: add a version instead)."""
    return PlanPublic.of(await plans.create_plan(db, body))


@router.get("/{code}", response_model=PlanPublic)
async def read_plan(
    code: PlanCode,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> PlanPublic:
    """The latest version, or ``?version=N``."""
    return PlanPublic.of(await plans.get_plan(session, code, version))


@router.post("/{code}/versions", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create_version(code: PlanCode, body: PlanDefinition, db: DbDep) -> PlanPublic:
    """A new immutable version; existing customers stay on theirs until migrated."""
    return PlanPublic.of(await plans.add_version(db, code, body))
