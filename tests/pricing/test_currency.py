"""to_minor_units: Stripe amounts, rounded up to what Stripe accepts."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.pricing.currency import minor_unit_exponent
from creditgate.pricing.rating import to_minor_units
from tests.pricing.strategies import decimals


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("10", "USD", 1000),
        ("10", "usd", 1000),
        ("0.06", "USD", 6),
        ("0.000000000000000001", "USD", 1),  # any fraction of a cent is a whole cent
        ("0.00375", "EUR", 1),
        ("9.991", "CAD", 1000),
        ("0", "USD", 0),
        ("500", "JPY", 500),
        ("499.01", "JPY", 500),
        ("1000.5", "KRW", 1001),
        ("5.124", "KWD", 5130),  # three-decimal: Stripe wants the last digit 0
        ("5.12", "BHD", 5120),
        ("40.10", "ISK", 4100),  # ISK: two decimals in the API, whole krónur only
        ("40", "ISK", 4000),
        ("12.345", "HUF", 1235),
    ],
)
def test_to_minor_units(amount: str, currency: str, minor: int) -> None:
    result = to_minor_units(Decimal(amount), currency)
    assert type(result) is int
    assert result == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("-0.01", "USD"), ("NaN", "USD"), ("Infinity", "USD"), ("1", "US"), ("1", "credits")],
)
def test_to_minor_units_refuses(amount: str, currency: str) -> None:
    with pytest.raises(ValueError):
        to_minor_units(Decimal(amount), currency)


STEPS = {"USD": 1, "JPY": 1, "KWD": 10, "ISK": 100, "EUR": 1, "VND": 1, "OMR": 10}


@settings(deadline=None)
@given(decimals(10**9, 18), st.sampled_from(sorted(STEPS)))
def test_rounds_up_by_less_than_one_step(amount: Decimal, currency: str) -> None:
    minor = to_minor_units(amount, currency)
    charged = Decimal(minor).scaleb(-minor_unit_exponent(currency))
    step = Decimal(STEPS[currency]).scaleb(-minor_unit_exponent(currency))
    assert minor % STEPS[currency] == 0
    assert amount <= charged < amount + step
