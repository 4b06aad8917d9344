"""Stripe amounts: a Decimal amount rounded up to what Stripe can charge, in minor units."""

from decimal import ROUND_CEILING, Context, Decimal, InvalidOperation, Overflow

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
# Three-decimal currencies: Stripe wants the last minor digit to be 0 (multiples of 10).
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# ISK stays two-decimal in the API, but charges must be whole krónur (multiples of 100).
WHOLE_UNITS_IN_CENTS = frozenset({"ISK"})

_CONTEXT = Context(prec=100, rounding=ROUND_CEILING, traps=[InvalidOperation, Overflow])


def minor_unit_exponent(currency: str) -> int:
    """How many minor-unit digits Stripe's API uses for ``currency`` (0, 2 or 3)."""
    code = _code(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in Stripe's integer minor units of ``currency``, rounded up (never down), to
    a step Stripe accepts: 1 minor unit, 10 for three-decimal currencies, 100 for ISK.

    Charges are never negative: a negative amount is a ``ValueError``.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"amount must be a finite Decimal, got {amount!r}")
    if amount < 0:
        raise ValueError(f"amount must be >= 0, got {amount}")
    code = _code(currency)
    step = 100 if code in WHOLE_UNITS_IN_CENTS else 10 if code in THREE_DECIMAL else 1
    minor = amount.scaleb(minor_unit_exponent(code), context=_CONTEXT)
    steps = _CONTEXT.to_integral_value(_CONTEXT.divide(minor, step))
    return int(steps) * step


def _code(currency: str) -> str:
    code = currency.upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"{currency!r} is not a three-letter ISO currency code")
    return code
