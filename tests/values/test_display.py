"""Amounts, quantities and times as statements show them to people."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from creditgate.values.display import format_amount, format_moment, format_quantity, parse_locale

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "unit", "locale", "shown"),
    [
        ("6", "USD", "en_US", "$6.00"),
        ("0.04", "CAD", "en_US", "CA$0.04"),
        ("500", "JPY", "en_US", "¥500"),  # zero-decimal: no minor units
        ("499.6", "JPY", "en_US", "¥500"),
        ("1234.56", "EUR", "de", f"1.234,56{NBSP}€"),
        ("1234.56", "EUR", "en_US", "€1,234.56"),
        ("-5", "USD", "en_US", "-$5.00"),
        ("-1234.5", "EUR", "de_DE", f"-1.234,50{NBSP}€"),
        ("6", "usd", "en_US", "$6.00"),  # a code in any case is the currency
        ("1.005", "USD", "en_US", "$1.01"),  # half up, as people round
        ("1.86375", "USD", "en_US", "$1.86"),
    ],
)
def test_money_is_written_per_currency_and_locale(
    amount: str, unit: str, locale: str, shown: str
) -> None:
    assert format_amount(Decimal(amount), unit, locale) == shown


@pytest.mark.parametrize(
    ("amount", "unit", "locale", "shown"),
    [
        ("1250", "credits", "en_US", "1,250 credits"),
        ("12.5", "tokens", "en_US", "12.5 tokens"),
        ("12.5", "tokens", "de", "12,5 tokens"),
        ("1249.625", "credits", "en_US", "1,249.63 credits"),  # at most two places
        ("3600", "gpu_seconds", "en_US", "3,600 gpu seconds"),
        ("-2.50", "credits", "en_US", "-2.5 credits"),
    ],
)
def test_credits_are_written_in_their_unit(amount: str, unit: str, locale: str, shown: str) -> None:
    assert format_amount(Decimal(amount), unit, locale) == shown


def test_a_credit_unit_named_like_a_currency_stays_credits_when_said_so() -> None:
    assert format_amount(Decimal(5), "cup", credits=True) == "5 cup"
    assert format_amount(Decimal(5), "CUP", "en_US") == f"CUP{NBSP}5.00"


@pytest.mark.parametrize(
    ("amount", "unit", "shown"),
    [
        ("0", "USD", "$0.00"),
        ("-0", "USD", "$0.00"),
        ("-0.000", "USD", "$0.00"),
        ("-0", "JPY", "¥0"),
        ("-0", "credits", "0 credits"),
    ],
)
def test_zero_never_carries_a_sign(amount: str, unit: str, shown: str) -> None:
    assert format_amount(Decimal(amount), unit) == shown


@pytest.mark.parametrize(
    ("amount", "unit", "shown"),
    [
        ("0.00375", "USD", "$0.0038"),  # 1,500 tokens at 0.0000025
        ("0.0000025", "USD", "$0.0000025"),
        ("0.000000000000000001", "USD", "$0.000000000000000001"),  # the ledger's smallest
        ("-0.001", "USD", "-$0.001"),
        ("0.4", "JPY", "¥0.4"),
        ("0.004", "credits", "0.004 credits"),
        ("0.005", "USD", "$0.01"),  # rounds to a cent: shown at cents
    ],
)
def test_a_tiny_cost_shows_its_first_significant_digits_instead_of_zero(
    amount: str, unit: str, shown: str
) -> None:
    assert format_amount(Decimal(amount), unit) == shown


def test_a_currency_symbol_can_give_way_to_its_code() -> None:
    assert format_amount(Decimal(6), "INR", "en_US") == "₹6.00"
    assert format_amount(Decimal(6), "INR", "en_US", symbol=False) == f"INR{NBSP}6.00"
    assert format_amount(Decimal(6), "EUR", "de", symbol=False) == f"6,00{NBSP}EUR"


def test_quantities_are_exact_with_the_locales_separators() -> None:
    assert format_quantity(Decimal(1500)) == "1,500"
    assert format_quantity(Decimal("2.000000000000000001"), "de") == "2,000000000000000001"
    assert format_quantity(Decimal("1E+3"), "de") == "1.000"


def test_times_are_to_the_second_in_utc() -> None:
    moment = datetime(2026, 3, 1, 14, 5, 9, tzinfo=UTC)
    assert format_moment(moment) == "Mar 1, 2026, 2:05:09\u202fPM UTC"
    assert format_moment(moment, "de_DE") == "01.03.2026, 14:05:09 UTC"


@pytest.mark.parametrize("value", ["en_US", "de", "de-DE", "fr_CA", " ja "])
def test_known_locales_are_accepted(value: str) -> None:
    assert str(parse_locale(value)) == value.strip().replace("-", "_")


@pytest.mark.parametrize("value", ["xx_YY", "", "english", "../de", "qq"])
def test_unknown_locales_are_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match="unknown locale"):
        parse_locale(value)
