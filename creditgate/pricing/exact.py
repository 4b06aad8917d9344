"""Exact decimal arithmetic for rating: explicit contexts, the cost rounding rule, bounds.

Nothing here depends on the thread's decimal context: every operation that could round runs
under a context defined in this module.
"""

from contextlib import AbstractContextManager
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

# The ledger stores NUMERIC(38,18): costs are rounded to 18 decimal places, half up.
COST_SCALE = 18
COST_QUANTUM = Decimal(1).scaleb(-COST_SCALE)
# Quantities and plan numbers (amounts, package sizes, tier bounds) are bounded so that every
# product and sum below stays far inside the exact context's precision.
MAX_QUANTITY = Decimal(10) ** 15
MAX_SCALE = COST_SCALE

# Additions, subtractions and multiplications of bounded inputs are exact: the Inexact trap
# turns any accidental rounding into an error instead of a silently wrong amount.
_EXACT = Context(
    prec=200,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
# Rounds to the cost quantum; the precision only has to hold the rounded result.
_ROUNDING = Context(prec=100, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Overflow])

ZERO = Decimal(0)


def exact() -> AbstractContextManager[Context]:
    """Run the block's Decimal operators under the exact (Inexact-trapping) context."""
    return localcontext(_EXACT)


def exact_product(a: Decimal, b: Decimal) -> Decimal:
    """``a × b`` under the exact context (one operation: no context switch)."""
    return _EXACT.multiply(a, b)


def quantize_cost(amount: Decimal) -> Decimal:
    """The rounding rule for costs: 18 decimal places, ROUND_HALF_UP."""
    return amount.quantize(COST_QUANTUM, context=_ROUNDING)


def divide_cost(numerator: Decimal, denominator: Decimal) -> Decimal:
    """``numerator / denominator`` rounded half up to the cost quantum, exactly.

    Done as an integer division with remainder, so no intermediate rounding can make a
    half-way case go the wrong way. Both operands must be ≥ 0 and the denominator > 0.
    """
    if numerator < 0 or denominator <= 0:
        raise ValueError("divide_cost needs numerator >= 0 and denominator > 0")
    scaled = numerator.scaleb(COST_SCALE, context=_EXACT)
    quotient, remainder = _EXACT.divmod(scaled, denominator)
    if _EXACT.multiply(remainder, 2) >= denominator:
        quotient = _EXACT.add(quotient, 1)
    return quantize_cost(quotient.scaleb(-COST_SCALE, context=_EXACT))


def ceil_div(numerator: Decimal, denominator: Decimal) -> Decimal:
    """The smallest integer ≥ numerator / denominator (both ≥ 0, denominator > 0)."""
    quotient, remainder = _EXACT.divmod(numerator, denominator)
    return _EXACT.add(quotient, 1) if remainder else quotient


def floor_div(numerator: Decimal, denominator: Decimal) -> Decimal:
    """The largest integer ≤ numerator / denominator (both ≥ 0, denominator > 0)."""
    return _EXACT.divide_int(numerator, denominator)


def decimal_places(value: Decimal) -> int:
    """How many digits after the point the value needs (trailing zeros do not count)."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # NaN / Infinity
        raise ValueError("not a finite number")
    if exponent >= 0 or value.is_zero():
        return 0
    digits = value.as_tuple().digits
    trailing = 0
    for digit in reversed(digits):
        if digit != 0 or trailing >= -exponent:
            break
        trailing += 1
    return -exponent - trailing


def canonical(value: Decimal) -> Decimal:
    """A finite bounded value in plain notation without trailing zeros (``1E+3`` → ``1000``)."""
    places = decimal_places(value)
    result = value.quantize(Decimal(1).scaleb(-places), context=_EXACT)
    return result.copy_abs() if result.is_zero() else result
