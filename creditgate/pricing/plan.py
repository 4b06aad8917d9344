"""The plan contract (``POST /v1/plans``): meters, prices, billing period (immutable versions)."""

from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from creditgate.events.alerts import MAX_ALERTS, AlertThreshold
from creditgate.values.identifiers import STORABLE
from creditgate.values.money import AMOUNT_PATTERN

Code = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9_-]+$")]
PropertyName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
]
Aggregation = Literal["sum", "count", "max", "last", "unique_count"]
PriceModel = Literal["per_unit", "package", "tiered_graduated", "tiered_volume"]
# Decimal amounts arrive as JSON strings (the API refuses anything but plain decimal text,
# ``money.parse_amount``); their bounds are ``validate_plan``'s.
Amount = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["0.05"]}),
]
# The longest period: ten years (later dates would approach the end of ``datetime``).
MAX_PERIOD = {"second": 10 * 366 * 86400, "day": 10 * 366, "month": 120}

REALTIME_AGGREGATIONS = frozenset({"sum", "count"})

if TYPE_CHECKING:
    from creditgate.pricing.rating import ChoiceKey, PriceChoice


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Meter(_Model):
    code: Code
    event_type: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=STORABLE)]
    aggregation: Aggregation = "sum"
    # The event property holding the value (required for every aggregation but count).
    value_property: PropertyName | None = None
    group_by: list[PropertyName] = Field(default_factory=list, max_length=10)


class Tier(_Model):
    up_to: Amount | None  # None: the last, open-ended tier
    unit_amount: Amount = Decimal(0)
    flat_amount: Amount = Decimal(0)


class Price(_Model):
    meter: Code
    model: PriceModel
    unit_amount: Amount | None = None
    package_size: Amount | None = None
    # Real time debits packages pro rata; the period close rounds the quantity to whole
    # packages this way (Stripe's transform_quantity.round).
    rounding: Literal["up", "down"] = "up"
    tiers: list[Tier] | None = None
    # Dimension values this price applies to, e.g. {"model": "gpt-4o"}; keys ⊆ meter.group_by.
    filter: dict[PropertyName, Annotated[str, StringConstraints(pattern=STORABLE)]] = Field(
        default_factory=dict, max_length=10
    )


class Period(_Model):
    every: Annotated[int, Field(ge=1, le=MAX_PERIOD["second"])] = 1
    unit: Literal["second", "day", "month"] = "month"

    @model_validator(mode="after")
    def _bounded(self) -> "Period":
        if self.every > MAX_PERIOD[self.unit]:
            raise ValueError(f"every: at most {MAX_PERIOD[self.unit]} {self.unit}s (ten years)")
        return self


class CreditUnit(_Model):
    """Balances kept in a named credit unit, sold at ``price`` (in the plan's currency) each."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[a-z_]+$")]
    price: Amount  # bounds: ``validate_plan``


class PlanDefinition(_Model):
    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=STORABLE)]
    currency: Annotated[
        str, StringConstraints(min_length=3, max_length=20, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    ] = "USD"
    meters: list[Meter] = Field(default_factory=list, max_length=100)
    prices: list[Price] = Field(default_factory=list, max_length=500)
    billing: Literal["prepaid", "arrears"] = "prepaid"
    period: Period = Period()
    grace_seconds: Annotated[int, Field(ge=0, le=31 * 86400)] = 3600
    # Arrears plans: usage beyond this much owed cuts the customer off (none: no limit).
    spend_limit: Amount | None = None  # bounds: ``validate_plan``
    # Prices and balances in credits instead of money (purchases then name credits).
    credit_unit: CreditUnit | None = None
    # Purchased and recharged credits expire this long after they are granted (none if unset).
    credit_lifetime: Period | None = None
    # Spend alerts a customer on this plan starts with (``PUT .../alerts`` replaces them).
    alerts: list[AlertThreshold] = Field(default_factory=list, max_length=MAX_ALERTS)

    # Per-event lookups of the hot path, made once per (immutable, cached) plan version.
    @cached_property
    def meter_by_event_type(self) -> dict[str, Meter]:
        """Each event type's meter (a valid plan has at most one)."""
        found: dict[str, Meter] = {}
        for meter in self.meters:
            found.setdefault(meter.event_type, meter)
        return found

    @cached_property
    def price_choices(self) -> "dict[ChoiceKey, PriceChoice | None]":
        """``rating.select_price``'s answers so far, by meter and dimensions."""
        return {}

    @property
    def wallet_unit(self) -> str:
        """What the wallet counts: the credit unit's name, or the currency."""
        return self.credit_unit.name if self.credit_unit else self.currency

    @property
    def credit_price(self) -> Decimal:
        """Money per unit of balance: 1 for money plans."""
        return self.credit_unit.price if self.credit_unit else Decimal(1)
