"""Rating: which meter an event feeds, which price applies, and what it costs.

Pure functions over ``Decimal`` (never float), no I/O. This module is the interface the
ledger, the period close and the API use; the work is split over the sibling modules and
re-exported here.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from creditgate.pricing.costs import period_amount, realtime_cost
from creditgate.pricing.currency import to_minor_units
from creditgate.pricing.exact import MAX_QUANTITY, quantize_cost
from creditgate.pricing.measure import Measurement, RejectedEvent, aggregate, measure
from creditgate.pricing.plan import Meter, PlanDefinition, Price
from creditgate.pricing.validation import PlanError, validate_plan

__all__ = [
    "MAX_QUANTITY",
    "Measurement",
    "PlanError",
    "PriceChoice",
    "RejectedEvent",
    "aggregate",
    "measure",
    "meter_for",
    "period_amount",
    "quantize_cost",
    "realtime_cost",
    "select_price",
    "to_minor_units",
    "validate_plan",
]


@dataclass(frozen=True)
class PriceChoice:
    index: int  # position in plan.prices: the price's identity within a plan version
    price: Price


ChoiceKey = tuple[str, tuple[tuple[str, str], ...]]


_MAX_CHOICES = 4096  # dimension combinations remembered per plan


def meter_for(plan: PlanDefinition, event_type: str) -> Meter | None:
    """The meter measuring ``event_type`` (at most one in a valid plan), or None."""
    return plan.meter_by_event_type.get(event_type)


def select_price(
    plan: PlanDefinition, meter: Meter, dimensions: Mapping[str, str]
) -> PriceChoice | None:
    """The price of ``meter`` whose filter matches ``dimensions`` most specifically.

    A price matches when every key of its filter is present in ``dimensions`` with the same
    value (an empty filter matches everything). The match with the most filter keys wins; of
    equally specific matches the first declared wins. None: the usage is recorded at zero cost.
    """
    choices = plan.price_choices
    key = (meter.code, tuple(dimensions.items()))
    try:
        return choices[key]
    except KeyError:
        pass
    if len(choices) >= _MAX_CHOICES:
        choices.clear()
    choice = choices[key] = _select_price(plan, meter, dimensions)
    return choice


def _select_price(
    plan: PlanDefinition, meter: Meter, dimensions: Mapping[str, str]
) -> PriceChoice | None:
    code = meter.code
    best, best_size = -1, -1
    for index, price in enumerate(plan.prices):
        if price.meter != code or len(price.filter) <= best_size:
            continue
        for key, value in price.filter.items():
            if dimensions.get(key) != value:
                break
        else:
            best, best_size = index, len(price.filter)
    return None if best < 0 else PriceChoice(best, plan.prices[best])
