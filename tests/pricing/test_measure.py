"""Measuring events (quantities, dimensions, distinct values) and aggregating them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.pricing.plan import Meter
from creditgate.pricing.rating import MAX_QUANTITY, Measurement, RejectedEvent, aggregate, measure
from tests.pricing.strategies import decimals
from tests.support.plans import IMAGES, TOKENS, d

USERS = Meter(code="users", event_type="active", aggregation="unique_count", value_property="user")
SEATS = Meter(code="seats", event_type="seats", aggregation="max", value_property="n")


def test_max_quantity() -> None:
    assert Decimal(10**15) == MAX_QUANTITY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1500, "1500"),
        ("1500", "1500"),
        ("0.5", "0.5"),
        (Decimal("2.50"), "2.5"),
        (0.1, "0.1"),  # float via its shortest repr, never its binary expansion
        (1e-05, "0.00001"),
        ("1e3", "1000"),
        (0, "0"),
        ("-0", "0"),
        (10**15, "1000000000000000"),
        ("0.000000000000000001", "0.000000000000000001"),
        ("1.5000000000000000000000", "1.5"),  # trailing zeros beyond 18 places are fine
    ],
)
def test_sum_quantity(value: Any, expected: str) -> None:
    m = measure(TOKENS, {"count": value, "model": "gpt-4o"})
    assert m == Measurement(d(expected), {"model": "gpt-4o"}, None)
    # canonical: plain notation, no trailing zeros
    assert format(m.quantity, "f") == expected
    exponent = m.quantity.as_tuple().exponent
    assert isinstance(exponent, int) and exponent <= 0  # never 1E+3


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({}, "property 'count' is missing"),
        ({"count": None}, "property 'count' is missing"),
        ({"count": True}, "property 'count' must be a number, not a boolean"),
        ({"count": "abc"}, "property 'count' is not a number"),
        ({"count": "1_000"}, "property 'count' is not a number"),
        ({"count": " 15"}, "property 'count' is not a number"),
        ({"count": ""}, "property 'count' is not a number"),
        ({"count": "NaN"}, "property 'count' is not a number"),
        ({"count": "Infinity"}, "property 'count' is not a number"),
        ({"count": "1e99999999999999999999"}, "property 'count' is not a number"),
        ({"count": float("nan")}, "property 'count' must be a finite number"),
        ({"count": float("inf")}, "property 'count' must be a finite number"),
        ({"count": Decimal("sNaN")}, "property 'count' must be a finite number"),
        ({"count": -1}, "property 'count' is negative"),
        ({"count": "-0.5"}, "property 'count' is negative"),
        ({"count": 10**15 + 1}, "property 'count' is huge (more than 1000000000000000)"),
        ({"count": "1e16"}, "property 'count' is huge (more than 1000000000000000)"),
        ({"count": "0.0000000000000000001"}, "property 'count' has more than 18 decimal places"),
        ({"count": [1]}, "property 'count' must be a number"),
        ({"count": {"n": 1}}, "property 'count' must be a number"),
        ({"count": 1, "model": ["a"]}, "property 'model' must be a string or a number"),
        ({"count": 1, "model": {"a": 1}}, "property 'model' must be a string or a number"),
        ({"count": 1, "model": "x" * 501}, "property 'model' is longer than 500 characters"),
    ],
)
def test_rejected(properties: dict[str, Any], reason: str) -> None:
    with pytest.raises(RejectedEvent) as caught:
        measure(TOKENS, properties)
    assert caught.value.reason == reason
    assert str(caught.value) == reason
    assert isinstance(caught.value, ValueError)


def test_dimensions() -> None:
    m = measure(TOKENS, {"count": 1, "model": 4, "token_type": True, "other": "ignored"})
    assert m.dimensions == {"model": "4", "token_type": "true"}
    assert measure(TOKENS, {"count": 1, "token_type": False}).dimensions == {"token_type": "false"}
    assert measure(TOKENS, {"count": 1, "model": Decimal("1.50")}).dimensions == {"model": "1.50"}
    assert measure(TOKENS, {"count": 1, "model": None}).dimensions == {}


def test_count_measures_one_and_ignores_values() -> None:
    assert measure(IMAGES, {"count": "not looked at"}) == Measurement(d("1"), {}, None)


def test_unique_count() -> None:
    assert measure(USERS, {"user": "u_1"}) == Measurement(d("1"), {}, "u_1")
    assert measure(USERS, {"user": 42}).distinct_value == "42"
    assert measure(USERS, {"user": 0.5}).distinct_value == "0.5"
    assert measure(USERS, {"user": "x" * 500}).distinct_value == "x" * 500
    for bad in ({}, {"user": None}, {"user": ["u"]}, {"user": "x" * 501}):
        with pytest.raises(RejectedEvent):
            measure(USERS, bad)


def test_max_meter_measures_the_value() -> None:
    assert measure(SEATS, {"n": "7"}).quantity == d("7")


T0 = datetime(2026, 11, 21, 10, tzinfo=UTC)


def samples(*spec: tuple[str, str | None, int]) -> list[tuple[Decimal, str | None, datetime]]:
    return [(d(q), v, T0 + timedelta(seconds=s)) for q, v, s in spec]


def test_aggregate() -> None:
    data = samples(("3", None, 5), ("1.5", None, 1), ("2", None, 9), ("4", None, 9), ("0", None, 2))
    assert aggregate("sum", data) == d("10.5")
    assert aggregate("count", samples(("1", None, 0), ("1", None, 0))) == d("2")
    assert aggregate("max", data) == d("4")
    assert aggregate("last", data) == d("4")  # latest timestamp; on a tie the later sample
    assert aggregate("last", list(reversed(data))) == d("2")
    distinct = samples(("1", "a", 0), ("1", "b", 0), ("1", "a", 0), ("1", None, 0))
    assert aggregate("unique_count", distinct) == d("2")


@pytest.mark.parametrize("aggregation", ["sum", "count", "max", "last", "unique_count"])
def test_aggregate_empty(aggregation: Any) -> None:
    assert aggregate(aggregation, []) == 0


@settings(deadline=None)
@given(decimals(10**15, 18))
def test_quantities_round_trip(value: Decimal) -> None:
    for given_as in (value, format(value, "f"), str(value)):
        assert measure(TOKENS, {"count": given_as}).quantity == value
    if value == value.to_integral_value():
        assert measure(TOKENS, {"count": int(value)}).quantity == value


@settings(deadline=None)
@given(st.floats(min_value=0, allow_nan=False, allow_infinity=False))
def test_floats_go_through_their_repr(value: float) -> None:
    try:
        quantity = measure(TOKENS, {"count": value}).quantity
    except RejectedEvent as rejected:
        assert value > 10**15 or "decimal places" in rejected.reason
    else:
        assert quantity == Decimal(str(value))
