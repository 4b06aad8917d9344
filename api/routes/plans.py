"""Plans: meters and prices, in immutable versions."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, model_validator

from api.deps import DbDep, SessionDep
from api.schemas import PlanCode
from creditgate import plans
from creditgate.models import Plan
from creditgate.pricing.plan import PlanDefinition

router = APIRouter(prefix="/plans", tags=["plans"])


def _number_amounts(data: Any) -> list[str]:
    """Paths of plan amounts sent as JSON floats or booleans (lax Decimal would take them)."""
    found: list[str] = []

    def visit(at: str, item: Any, fields: tuple[str, ...]) -> None:
        if isinstance(item, dict):
            for name in fields:
                if isinstance(item.get(name), (float, bool)):
                    found.append(f"{at}.{name}")

    prices = data.get("prices") if isinstance(data, dict) else None
    for i, price in enumerate(prices if isinstance(prices, list) else []):
        visit(f"prices[{i}]", price, ("unit_amount", "package_size"))
        tiers = price.get("tiers") if isinstance(price, dict) else None
        for j, tier in enumerate(tiers if isinstance(tiers, list) else []):
            visit(f"prices[{i}].tiers[{j}]", tier, ("up_to", "unit_amount", "flat_amount"))
    return found


class PlanBody(PlanDefinition):
    """A plan as the API receives it: amounts are decimal strings (or integers), never floats."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_number_amounts(cls, data: Any) -> Any:
        found = _number_amounts(data)
        if found:
            raise ValueError(
                f'{", ".join(found)}: amounts are decimal strings such as "0.05", not JSON numbers'
            )
        return data


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
async def create_plan(body: PlanBody, db: DbDep) -> PlanPublic:
    """Create version 1 of a plan (409 if the code exists: add a version instead)."""
    return PlanPublic.of(await plans.create_plan(db, body))


@router.get("/{code}", response_model=PlanPublic)
async def read_plan(
    code: PlanCode,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> PlanPublic:
    """The latest version, or ``?version=N``."""
    return PlanPublic.of(await plans.get_plan(session, code, version))


@router.post("/{code}/versions", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create_version(code: PlanCode, body: PlanBody, db: DbDep) -> PlanPublic:
    """A new immutable version; existing customers stay on theirs until migrated."""
    return PlanPublic.of(await plans.add_version(db, code, body))
