"""Exact money: ``Decimal`` in Python, NUMERIC in PostgreSQL, text in SQLite.

SQLite has no exact decimal type (SQLAlchemy's Numeric goes through float there), so amounts
are stored as canonical decimal strings. Arithmetic always happens in Python on ``Decimal``.
"""

import decimal
import re
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from pydantic import PlainSerializer
from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# 38 digits with 18 after the point: rates such as 0.0000025 per token stay exact.
SCALE = 18
PRECISION = 38
QUANTUM = Decimal(1).scaleb(-SCALE)
# Enough digits that no sum of stored amounts is ever rounded by the context (the default
# 28 would round a 38-digit NUMERIC). Set for this thread and every thread started later.
CONTEXT = decimal.Context(
    prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation]
)
decimal.DefaultContext.prec = CONTEXT.prec
decimal.getcontext().prec = CONTEXT.prec


_ZERO = Decimal(0)
_ONE = Decimal(1)


def _reduced(value: Decimal) -> Decimal:
    """Quantized to the stored scale, trailing zeros dropped (whole numbers may read 1E+2)."""
    q = value.quantize(QUANTUM, context=CONTEXT)
    return q.normalize(CONTEXT) if q else _ZERO


def normalize(value: Decimal) -> Decimal:
    """Quantize to the stored scale and drop trailing zeros for display."""
    n = _reduced(value)
    # normalize() writes whole numbers with a positive exponent (1E+2): keep them plain.
    return n.quantize(_ONE, context=CONTEXT) if n == n.to_integral_value() else n


def to_str(value: Decimal) -> str:
    """``normalize(value)`` as plain decimal text ("f" writes 1E+2 as 100)."""
    return format(_reduced(value), "f")


# -- amounts from clients ---------------------------------------------------------------------
# Plain decimal strings only: no JSON numbers (floats lose cents), no exponents
# ("1e999999999" costs minutes to expand and overflows NUMERIC), no underscores, signs, spaces
# or "-0". The pattern bounds the digits, so an accepted amount fits the ledger's columns with
# room for sums.
# Whole digits an amount may have: below 10^15, as the ledger's sums must stay below 10^20.
INTEGER_DIGITS = 15
MAX_AMOUNT = Decimal(10) ** INTEGER_DIGITS
AMOUNT_PATTERN = rf"^(0|[1-9][0-9]{{0,{INTEGER_DIGITS - 1}}})(\.[0-9]{{1,{SCALE}}})?$"
_PLAIN = re.compile(AMOUNT_PATTERN)
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
EXAMPLE = '"10.00"'


def parse_amount(value: Any) -> Decimal:
    """``value`` as a Decimal if it is a plain non-negative decimal string within the bounds;
    otherwise a ``ValueError`` that says what is wrong with it."""
    if not isinstance(value, str):
        raise ValueError(f"amounts are decimal strings such as {EXAMPLE}, not JSON numbers")
    if _PLAIN.fullmatch(value):
        return Decimal(value)
    if len(value) > 60 or not _DECIMAL.fullmatch(value):
        raise ValueError(f"{value[:40]!r} is not a decimal amount such as {EXAMPLE}")
    if value.startswith("-"):
        raise ValueError("amount must not be negative")
    whole, _, fraction = value.partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        raise ValueError(f"{value[:40]!r} has leading zeros")
    if len(fraction) > SCALE:
        raise ValueError(f"amount has more than {SCALE} decimal places")
    raise ValueError(f"amount is too large (at most {INTEGER_DIGITS} digits before the point)")


# For amounts that repeat (an event type's cost): a hit costs a third of ``to_str``.
cached_str = lru_cache(maxsize=4096)(to_str)


# Amounts in JSON are decimal strings; inputs may be strings or ints (floats are refused
# by the API models, see ``api.schemas.amounts``).
MoneyStr = Annotated[Decimal, PlainSerializer(to_str, return_type=str, when_used="json")]


class Money(TypeDecorator[Decimal]):
    impl = Numeric(PRECISION, SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(PRECISION, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        if dialect.name == "sqlite":
            return to_str(dec)
        # NUMERIC(38, 18) takes the Decimal as it is; amounts are already at most 18 places
        # (costs are quantized by pricing, inputs are validated), so nothing rounds here.
        return dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return normalize(Decimal(str(value)))
