"""Bodies of the plan routes: a plan as received (amounts as decimal strings) and as stored."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, model_validator

from api.schemas.amounts import parse_amount
from creditgate.models import Plan
from creditgate.pricing.plan import PlanDefinition

PRICE_AMOUNTS = ("unit_amount", "package_size")
TIER_AMOUNTS = ("up_to", "unit_amount", "flat_amount")


def _amount_errors(data: Any) -> list[str]:
    """``"<path>: <problem>"`` for each plan amount that is not a plain decimal string (the
    model's lax Decimal would take floats, exponents and underscores)."""
    found: list[str] = []

    def visit(at: str, item: Any, fields: tuple[str, ...]) -> None:
        if not isinstance(item, dict):
            return
        for name in fields:
            if item.get(name) is not None:
                try:
                    parse_amount(item[name])
                except ValueError as err:
                    found.append(f"{at}{name}: {err}")

    if not isinstance(data, dict):
        return found
    visit("", data, ("spend_limit",))
    visit("credit_unit.", data.get("credit_unit"), ("price",))
    prices = data.get("prices")
    for i, price in enumerate(prices if isinstance(prices, list) else []):
        visit(f"prices[{i}].", price, PRICE_AMOUNTS)
        tiers = price.get("tiers") if isinstance(price, dict) else None
        for j, tier in enumerate(tiers if isinstance(tiers, list) else []):
            visit(f"prices[{i}].tiers[{j}].", tier, TIER_AMOUNTS)
    return found


# The domain's ``PlanDefinition`` (which forbids unknown fields itself), not ``RequestBody``.
class PlanBody(PlanDefinition):
    """A plan as the API receives it: amounts are plain decimal strings such as ``"0.05"``."""

    @model_validator(mode="before")
    @classmethod
    def _plain_amounts(cls, data: Any) -> Any:
        found = _amount_errors(data)
        if found:
            raise ValueError("; ".join(found))
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
