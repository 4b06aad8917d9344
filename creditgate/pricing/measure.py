"""Turning an event's properties into a measurement, and aggregating measurements."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from creditgate.pricing.exact import (
    MAX_QUANTITY,
    MAX_SCALE,
    ZERO,
    canonical,
    decimal_places,
    exact,
)
from creditgate.pricing.plan import Aggregation, Meter

MAX_TEXT = 500  # longest unique_count value or dimension value, in characters
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ONE = Decimal(1)


class RejectedEvent(ValueError):
    """An event that cannot be rated; ``reason`` is a short human-readable string."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(slots=True)
class Measurement:
    quantity: Decimal  # sum/max/last: the value; count and unique_count: 1
    dimensions: dict[str, str]  # the meter's group_by values present on the event
    distinct_value: str | None  # unique_count: the value as a string; otherwise None


def measure(meter: Meter, properties: Mapping[str, Any]) -> Measurement:
    """Measure one event for ``meter``; raise ``RejectedEvent`` if it cannot be rated."""
    dimensions = _dimensions(meter, properties)
    if meter.aggregation == "count":
        return Measurement(_ONE, dimensions, None)
    name = meter.value_property
    if name is None:  # validate_plan refuses this
        raise RejectedEvent(f"meter '{meter.code}' has no value_property")
    value = properties.get(name)
    if value is None:
        raise RejectedEvent(f"property '{name}' is missing")
    if meter.aggregation == "unique_count":
        return Measurement(_ONE, dimensions, _scalar_text(name, value))
    return Measurement(parse_quantity(name, value), dimensions, None)


def parse_quantity(name: str, value: Any) -> Decimal:
    """A non-negative, bounded quantity with at most 18 decimal places, in canonical form."""
    if isinstance(value, bool):
        raise RejectedEvent(f"property '{name}' must be a number, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise RejectedEvent(f"property '{name}' is negative")
        if value > MAX_QUANTITY:
            raise RejectedEvent(f"property '{name}' is huge (more than {MAX_QUANTITY:f})")
        return Decimal(value)  # the common case, already canonical
    if isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        if len(value) > 100 or not _NUMBER.fullmatch(value):
            raise RejectedEvent(f"property '{name}' is not a number")
        try:
            number = Decimal(value)
        except InvalidOperation:  # an exponent beyond the decimal module's range
            raise RejectedEvent(f"property '{name}' is not a number") from None
    else:
        raise RejectedEvent(f"property '{name}' must be a number")
    if not number.is_finite():
        raise RejectedEvent(f"property '{name}' must be a finite number")
    if number < 0:
        raise RejectedEvent(f"property '{name}' is negative")
    if number > MAX_QUANTITY:
        raise RejectedEvent(f"property '{name}' is huge (more than {MAX_QUANTITY:f})")
    if decimal_places(number) > MAX_SCALE:
        raise RejectedEvent(f"property '{name}' has more than {MAX_SCALE} decimal places")
    return canonical(number)


def _dimensions(meter: Meter, properties: Mapping[str, Any]) -> dict[str, str]:
    dimensions: dict[str, str] = {}
    for name in meter.group_by:
        value = properties.get(name)
        if value is not None:  # missing (or null): simply absent
            dimensions[name] = _scalar_text(name, value)
    return dimensions


def _scalar_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int):
        text = str(value)
    elif isinstance(value, float | Decimal):
        number = Decimal(str(value)) if isinstance(value, float) else value
        if not number.is_finite():
            raise RejectedEvent(f"property '{name}' must be a finite number")
        text = str(number)
    else:
        raise RejectedEvent(f"property '{name}' must be a string or a number")
    if len(text) > MAX_TEXT:
        raise RejectedEvent(f"property '{name}' is longer than {MAX_TEXT} characters")
    return text


def aggregate(
    aggregation: Aggregation, samples: Iterable[tuple[Decimal, str | None, datetime]]
) -> Decimal:
    """The period's quantity of one price from its samples ``(quantity, distinct, timestamp)``.

    sum and count: Σ quantity; max: the largest (0 if none); last: the quantity with the latest
    timestamp (on a tie the later sample); unique_count: how many distinct values.
    """
    if aggregation in ("sum", "count"):
        total = ZERO
        with exact():
            for quantity, _, _ in samples:
                total = total + quantity
        return total
    if aggregation == "max":
        return max((quantity for quantity, _, _ in samples), default=ZERO)
    if aggregation == "last":
        latest: tuple[datetime, Decimal] | None = None
        for quantity, _, timestamp in samples:
            if latest is None or timestamp >= latest[0]:
                latest = (timestamp, quantity)
        return ZERO if latest is None else latest[1]
    if aggregation == "unique_count":
        return Decimal(len({value for _, value, _ in samples if value is not None}))
    raise ValueError(f"unknown aggregation {aggregation!r}")
