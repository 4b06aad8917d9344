"""Money in request bodies: decimal strings (or integers), never JSON floats."""

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from creditgate.money import SCALE

MAX_AMOUNT = Decimal(10) ** 15


def _parse(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValueError('amounts are decimal strings such as "10.00", not JSON numbers')
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value[:40]!r} is not a decimal amount") from None
        return parsed
    raise ValueError('amounts are decimal strings such as "10.00"')


def _bounded(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("amount must be a finite number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > SCALE:
        raise ValueError(f"amount has more than {SCALE} decimal places")
    if abs(value) >= MAX_AMOUNT:
        raise ValueError("amount is too large")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("amount must be greater than zero")
    return value


AmountIn = Annotated[Decimal, BeforeValidator(_parse), AfterValidator(_bounded)]
PositiveAmountIn = Annotated[
    Decimal, BeforeValidator(_parse), AfterValidator(_bounded), AfterValidator(_positive)
]
