"""Semantic checks of a plan beyond its pydantic shape (``validate_plan``)."""

from decimal import Decimal

from creditgate.events.alerts import AlertThreshold
from creditgate.pricing.exact import MAX_QUANTITY, MAX_SCALE, decimal_places
from creditgate.pricing.plan import Meter, PlanDefinition, Price

TIERED_MODELS = frozenset({"tiered_graduated", "tiered_volume"})


class PlanError(ValueError):
    """A plan that parses but cannot be rated. The message names the field of each problem.

    ``errors`` holds every problem found, one ``"<field path>: <problem>"`` string each; the
    message is them joined with ``"; "``.
    """

    def __init__(self, errors: list[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(errors))


def validate_plan(plan: PlanDefinition) -> None:
    """Raise ``PlanError`` listing every semantic problem of ``plan``; return if none."""
    errors = _meter_errors(plan.meters)
    errors += _number_errors("spend_limit", plan.spend_limit, positive=False)
    if plan.credit_unit is not None:
        errors += _number_errors("credit_unit.price", plan.credit_unit.price, positive=True)
    errors += duplicate_alerts("alerts", plan.alerts)
    meters = {m.code: m for m in plan.meters}
    seen_filters: dict[tuple[str, frozenset[tuple[str, str]]], int] = {}
    for i, price in enumerate(plan.prices):
        at = f"prices[{i}]"
        meter = meters.get(price.meter)
        if meter is None:
            errors.append(f"{at}.meter: no meter '{price.meter}' in this plan")
        else:
            for name in price.filter:
                if name not in meter.group_by:
                    errors.append(
                        f"{at}.filter: key '{name}' is not in meter '{meter.code}' group_by"
                    )
        identity = (price.meter, frozenset(price.filter.items()))
        if identity in seen_filters:
            errors.append(
                f"{at}.filter: prices[{seen_filters[identity]}] already prices meter "
                f"'{price.meter}' with the same filter (ambiguous)"
            )
        else:
            seen_filters[identity] = i
        errors.extend(_price_errors(at, price))
    if errors:
        raise PlanError(errors)


def duplicate_alerts(at: str, thresholds: list[AlertThreshold]) -> list[str]:
    """Spend-alert thresholds repeated (each is checked on its own by its model)."""
    seen: set[AlertThreshold] = set()
    errors: list[str] = []
    for i, threshold in enumerate(thresholds):
        if threshold in seen:
            errors.append(f"{at}[{i}]: the same threshold is given twice")
        seen.add(threshold)
    return errors


def _meter_errors(meters: list[Meter]) -> list[str]:
    errors: list[str] = []
    codes: dict[str, int] = {}
    event_types: dict[str, str] = {}
    for i, meter in enumerate(meters):
        at = f"meters[{i}]"
        if meter.code in codes:
            errors.append(f"{at}.code: duplicate meter code '{meter.code}'")
        codes.setdefault(meter.code, i)
        if meter.event_type in event_types:
            errors.append(
                f"{at}.event_type: event type '{meter.event_type}' is already measured by "
                f"meter '{event_types[meter.event_type]}'"
            )
        event_types.setdefault(meter.event_type, meter.code)
        if meter.aggregation != "count" and meter.value_property is None:
            errors.append(f"{at}.value_property: required for aggregation '{meter.aggregation}'")
        seen: set[str] = set()
        for prop in meter.group_by:
            if prop in seen:
                errors.append(f"{at}.group_by: duplicate property '{prop}'")
            seen.add(prop)
    return errors


def _price_errors(at: str, price: Price) -> list[str]:
    errors: list[str] = []
    model = price.model
    errors += _number_errors(f"{at}.unit_amount", price.unit_amount, positive=False)
    errors += _number_errors(f"{at}.package_size", price.package_size, positive=True)
    if model in TIERED_MODELS:
        if price.unit_amount is not None:
            errors.append(f"{at}.unit_amount: not allowed for model '{model}' (set it per tier)")
        if price.package_size is not None:
            errors.append(f"{at}.package_size: not allowed for model '{model}'")
        errors += _tier_errors(at, price)
        return errors
    if price.unit_amount is None:
        errors.append(f"{at}.unit_amount: required for model '{model}'")
    if price.tiers is not None:
        errors.append(f"{at}.tiers: only tiered models take tiers")
    if model == "package":
        if price.package_size is None:
            errors.append(f"{at}.package_size: required for model 'package'")
    elif price.package_size is not None:
        errors.append(f"{at}.package_size: only the package model takes a package size")
    return errors


def _tier_errors(at: str, price: Price) -> list[str]:
    if not price.tiers:
        return [f"{at}.tiers: model '{price.model}' needs at least one tier"]
    errors: list[str] = []
    last = len(price.tiers) - 1
    previous: Decimal | None = None
    for j, tier in enumerate(price.tiers):
        tat = f"{at}.tiers[{j}]"
        errors += _number_errors(f"{tat}.unit_amount", tier.unit_amount, positive=False)
        errors += _number_errors(f"{tat}.flat_amount", tier.flat_amount, positive=False)
        if tier.up_to is None:
            if j != last:
                errors.append(f"{tat}.up_to: only the last tier may be open (null)")
            continue
        if j == last:
            errors.append(f"{tat}.up_to: the last tier must be open (null)")
        errors += _number_errors(f"{tat}.up_to", tier.up_to, positive=True)
        if previous is not None and tier.up_to <= previous:
            errors.append(f"{tat}.up_to: must be greater than the previous tier's up_to")
        previous = tier.up_to
    return errors


def _number_errors(at: str, value: Decimal | None, *, positive: bool) -> list[str]:
    if value is None:
        return []
    if not value.is_finite():
        return [f"{at}: must be a finite number"]
    if positive and value <= 0:
        return [f"{at}: must be > 0"]
    if value < 0:
        return [f"{at}: must be >= 0"]
    if value > MAX_QUANTITY:
        return [f"{at}: must be at most {MAX_QUANTITY:f}"]
    if decimal_places(value) > MAX_SCALE:
        return [f"{at}: must have at most {MAX_SCALE} decimal places"]
    return []
