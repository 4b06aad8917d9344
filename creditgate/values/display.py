"""Amounts as people read them ("$6.00", "1.234,56 €", "1,250 credits"), for HTML and PDF.

The API's JSON keeps exact decimal strings; only documents meant for people use this. The
display rule (docs/decisions.md): money to its currency's minor units, credits to at most two
places with trailing zeros dropped; an amount that would then read as zero but is not shows
its first two significant digits instead; zero never carries a sign.
"""

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    list_currencies,
)

from creditgate.values.money import SCALE, normalize

DEFAULT_LOCALE = "en_US"
CREDIT_PLACES = 2
SIGNIFICANT_DIGITS = 2  # shown of an amount too small for the usual places
_CURRENCIES = frozenset(list_currencies())


def parse_locale(value: str) -> Locale:
    """A CLDR locale ("en_US", "de", "fr-CA"); a ``ValueError`` that names it if unknown."""
    try:
        return _parse(value.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            f"unknown locale {value!r}: use a CLDR locale such as en_US or de_DE"
        ) from None


@lru_cache(maxsize=64)
def _parse(value: str) -> Locale:
    return Locale.parse(value)


def is_currency(unit: str) -> bool:
    """Whether ``unit`` is an ISO 4217 currency code (in any case)."""
    return len(unit) == 3 and unit.upper() in _CURRENCIES


def format_amount(
    amount: Decimal,
    unit: str,
    locale: str = DEFAULT_LOCALE,
    *,
    credits: bool = False,
    symbol: bool = True,
) -> str:
    """``amount`` of ``unit``: a currency code unless ``credits`` says it names a credit unit
    (a unit that is no currency code is always one). ``symbol=False`` writes the currency's
    code where the locale puts its symbol ("USD 6.00", for fonts without "₹")."""
    where = parse_locale(locale)
    if credits or not is_currency(unit):
        shown = format_decimal(
            rounded(amount, CREDIT_PLACES), locale=where, decimal_quantization=False
        )
        return f"{shown} {unit.replace('_', ' ')}"
    code = unit.upper()
    return format_currency(
        rounded(amount, get_currency_precision(code)),
        code,
        format=_pattern(where, code, symbol),
        locale=where,
        decimal_quantization=False,
    )


def _pattern(locale: Locale, code: str, symbol: bool) -> str | None:
    standard = locale.currency_formats.get("standard")
    if standard is None:
        return None
    # In a CLDR pattern "¤" is the currency's symbol and "¤¤" its ISO code.
    sign = "¤" if symbol else "¤¤"
    pattern = str(standard.pattern).replace("¤", sign)
    shown = get_currency_symbol(code, locale) if symbol else code
    if shown[-1:].isalpha():
        # CLDR's currency spacing, which Babel leaves out: "CHF 6.00", not "CHF6.00".
        pattern = re.sub(rf"{sign}(?=[#0])", sign + "\u00a0", pattern)
    return pattern


def format_quantity(quantity: Decimal, locale: str = DEFAULT_LOCALE) -> str:
    """A metered quantity, exact, with the locale's separators ("1,500", "2,5")."""
    where = parse_locale(locale)
    return format_decimal(normalize(quantity), locale=where, decimal_quantization=False)


def format_moment(moment: datetime, locale: str = DEFAULT_LOCALE) -> str:
    """A date and time to the second, in UTC, written the locale's way."""
    shown = format_datetime(moment, "medium", tzinfo=UTC, locale=parse_locale(locale))
    return f"{shown} UTC"


def rounded(amount: Decimal, places: int) -> Decimal:
    """``amount`` to ``places`` decimals, trailing zeros dropped; if that would be zero but
    ``amount`` is not, to its first two significant digits instead. Never −0."""
    value = normalize(amount)
    if value.is_zero():
        return Decimal(0)
    shown = _at(value, places)
    if shown.is_zero():
        first = value.adjusted()  # the exponent of the first significant digit
        shown = _at(value, min(SCALE, SIGNIFICANT_DIGITS - 1 - first))
    return normalize(shown) if not shown.is_zero() else Decimal(0)


def _at(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
