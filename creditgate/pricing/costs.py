"""What usage costs: debited in real time per event, and owed for a period's total.

Real time is defined on a running total: for every model but volume, the debit for ``q`` more
units after ``c`` is ``R(c + q) − R(c)`` where ``R`` is the quantized running total. Rounding
therefore never drifts: the debits of a period add up to ``R(period quantity)`` exactly,
however the usage was split into events.
"""

from decimal import Decimal

from creditgate.pricing.exact import (
    ZERO,
    ceil_div,
    divide_cost,
    exact,
    exact_product,
    floor_div,
    quantize_cost,
)
from creditgate.pricing.plan import Price, Tier
from creditgate.pricing.validation import PlanError


def realtime_cost(price: Price, quantity: Decimal, cumulative_before: Decimal) -> Decimal:
    """The debit now for ``quantity`` more units when ``cumulative_before`` units of this price
    were already recorded this period (sum and count meters only).

    per_unit ``q × unit_amount``; package pro rata ``q × unit_amount / package_size``;
    tiered_graduated the graduated increase, with a tier's flat amount debited when usage first
    enters that tier (the first tier's flat amount is left to the period close);
    tiered_volume the increase of the volume total, never negative (a drop into a cheaper tier
    is credited by the period close true-up).
    """
    _check_quantity("quantity", quantity)
    _check_quantity("cumulative_before", cumulative_before)
    if price.model == "per_unit" and not cumulative_before:
        # R(q) − R(0) = R(q): the common case, without the context switch (hot path).
        return quantize_cost(exact_product(quantity, _unit_amount(price)))
    with exact():
        after = cumulative_before + quantity
        if price.model == "tiered_volume":
            increase = _volume_total(price, after) - _volume_total(price, cumulative_before)
            return increase if increase > 0 else quantize_cost(ZERO)
        return _running_total(price, after) - _running_total(price, cumulative_before)


def period_amount(price: Price, quantity: Decimal) -> Decimal:
    """What a period's aggregated ``quantity`` of this price costs, with Stripe's semantics.

    per_unit ``q × unit_amount``; package ``ceil(q / package_size) × unit_amount`` (rounding
    "up") or ``floor`` ("down"); tiered_graduated the units in each tier at that tier's unit
    amount plus the flat amount of every tier reached (the first even at q = 0);
    tiered_volume all units at the unit amount of the tier q falls in, plus that tier's flat
    amount (the first tier at q = 0).
    """
    _check_quantity("quantity", quantity)
    with exact():
        if price.model == "per_unit":
            return quantize_cost(quantity * _unit_amount(price))
        if price.model == "package":
            size = _package_size(price)
            packages = (
                ceil_div(quantity, size) if price.rounding == "up" else floor_div(quantity, size)
            )
            return quantize_cost(packages * _unit_amount(price))
        if price.model == "tiered_graduated":
            return quantize_cost(_graduated(_tiers(price), quantity, first_flat=True))
        if price.model == "tiered_volume":
            return _volume_total(price, quantity)
    raise PlanError([f"model: unknown price model {price.model!r}"])


def _running_total(price: Price, quantity: Decimal) -> Decimal:
    """The quantized real-time total R(quantity) of a non-volume price."""
    if price.model == "per_unit":
        return quantize_cost(quantity * _unit_amount(price))
    if price.model == "package":
        return divide_cost(quantity * _unit_amount(price), _package_size(price))
    if price.model == "tiered_graduated":
        return quantize_cost(_graduated(_tiers(price), quantity, first_flat=False))
    raise PlanError([f"model: unknown price model {price.model!r}"])


def _graduated(tiers: list[Tier], quantity: Decimal, *, first_flat: bool) -> Decimal:
    """Σ units in each tier × its unit amount, plus the flat amount of each tier reached.

    Tier j > 0 is reached once the quantity exceeds tier j−1's ``up_to``; the first tier is
    always reached, and its flat amount is counted only if ``first_flat``.
    """
    total = ZERO
    lower = ZERO
    for j, tier in enumerate(tiers):
        if j > 0:
            if quantity <= lower:
                break
            total += tier.flat_amount
        elif first_flat:
            total += tier.flat_amount
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if upper > lower:
            total += (upper - lower) * tier.unit_amount
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total


def _volume_total(price: Price, quantity: Decimal) -> Decimal:
    """All units at the unit amount of the tier ``quantity`` falls in, plus its flat amount."""
    tiers = _tiers(price)
    tier = next((t for t in tiers if t.up_to is None or quantity <= t.up_to), tiers[-1])
    return quantize_cost(quantity * tier.unit_amount + tier.flat_amount)


def _check_quantity(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a finite Decimal >= 0, got {value!r}")


def _unit_amount(price: Price) -> Decimal:
    if price.unit_amount is None:
        raise PlanError([f"unit_amount: required for model '{price.model}'"])
    return price.unit_amount


def _package_size(price: Price) -> Decimal:
    if price.package_size is None or price.package_size <= 0:
        raise PlanError(["package_size: must be > 0 for model 'package'"])
    return price.package_size


def _tiers(price: Price) -> list[Tier]:
    if not price.tiers:
        raise PlanError([f"tiers: model '{price.model}' needs at least one tier"])
    return price.tiers
