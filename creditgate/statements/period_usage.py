"""Rating a period's recorded usage under a plan version (pure: the close, the upcoming
preview and plan simulations all use it)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from creditgate.ledger import tables as t
from creditgate.pricing import rating
from creditgate.pricing.plan import PlanDefinition
from creditgate.values.money import to_str

ZERO = Decimal(0)


@dataclass(frozen=True)
class Sample:
    """One recorded usage event, as rating needs it."""

    meter_code: str | None
    event_type: str
    dimensions: dict[str, str]
    quantity: Decimal
    distinct_value: str | None
    timestamp: datetime
    cost: Decimal  # what it was debited in real time


# The usage_events columns a Sample is read from: select these, then ``recorded_samples``.
SAMPLE_COLUMNS = tuple(t.usage_events.c[name] for name in Sample.__dataclass_fields__)


def recorded_samples(rows: Iterable[Any]) -> list[Sample]:
    """Usage event rows as they were recorded (meter, dimensions and quantity of their plan
    version); the rows need ``SAMPLE_COLUMNS``."""
    return [
        Sample(
            r.meter_code,
            r.event_type,
            r.dimensions or {},
            r.quantity,
            r.distinct_value,
            r.timestamp,
            r.cost,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class UsageLine:
    meter: str
    dimensions: dict[str, str]  # the price's filter; an unpriced line's own dimensions
    aggregation: str
    quantity: Decimal
    amount: Decimal
    events: int
    price_index: int | None

    def as_json(self) -> dict[str, object]:
        return {
            "meter": self.meter,
            "dimensions": self.dimensions,
            "aggregation": self.aggregation,
            "quantity": to_str(self.quantity),
            "amount": to_str(self.amount),
            "events": self.events,
            "price_index": self.price_index,
        }


@dataclass(frozen=True)
class RatedPeriod:
    lines: list[UsageLine]
    total: Decimal  # Σ line amounts: what the plan says the period's usage costs
    realtime: Decimal  # Σ real-time debits of the same events

    @property
    def true_up(self) -> Decimal:
        return self.total - self.realtime


GroupKey = tuple[str, int | None, tuple[tuple[str, str], ...]]


def _order(item: tuple[GroupKey, list[Sample]]) -> tuple[str, int, tuple[tuple[str, str], ...]]:
    (meter, index, dims), _ = item
    return meter, -1 if index is None else index, dims


def rate_period(plan: PlanDefinition, samples: Iterable[Sample]) -> RatedPeriod:
    """Each price of the plan rates the aggregate of the events it matches (its meter's
    aggregation over the period, Stripe's tier and package semantics), also when it matched
    none; usage no price matches is listed at 0."""
    groups: dict[GroupKey, list[Sample]] = {}
    meters = {m.code: m for m in plan.meters}
    realtime = ZERO
    for sample in samples:
        realtime += sample.cost
        meter = meters.get(sample.meter_code or "") or rating.meter_for(plan, sample.event_type)
        choice = rating.select_price(plan, meter, sample.dimensions) if meter else None
        key: GroupKey
        if meter is None or choice is None:
            key = (
                sample.meter_code or sample.event_type,
                None,
                tuple(sorted(sample.dimensions.items())),
            )
        else:
            key = (meter.code, choice.index, tuple(sorted(choice.price.filter.items())))
        groups.setdefault(key, []).append(sample)
    used = {price_index for _, price_index, _ in groups}
    for unused, price in enumerate(plan.prices):
        # A price no event reached still costs what it costs at zero (the first tier's flat
        # amount); one that costs nothing at zero is left off the statement.
        if unused not in used and rating.period_amount(price, ZERO):
            groups[(price.meter, unused, tuple(sorted(price.filter.items())))] = []
    lines = []
    for (meter_code, index, dims), members in sorted(groups.items(), key=_order):
        meter = meters.get(meter_code)
        aggregation = meter.aggregation if meter else "sum"
        quantity = rating.aggregate(
            aggregation, ((s.quantity, s.distinct_value, s.timestamp) for s in members)
        )
        amount = rating.period_amount(plan.prices[index], quantity) if index is not None else ZERO
        lines.append(
            UsageLine(meter_code, dict(dims), aggregation, quantity, amount, len(members), index)
        )
    return RatedPeriod(lines, sum((line.amount for line in lines), ZERO), realtime)
