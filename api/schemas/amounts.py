"""Money in request bodies: plain decimal strings such as ``"10.00"`` (``parse_amount``)."""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from creditgate.values.money import AMOUNT_PATTERN, parse_amount

__all__ = ["AmountIn", "PositiveAmountIn", "parse_amount"]


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("amount must be greater than zero")
    return value


_SCHEMA = WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["10.00"]})
# A non-negative amount (thresholds) and a positive one (everything that moves money).
AmountIn = Annotated[Decimal, BeforeValidator(parse_amount), _SCHEMA]
PositiveAmountIn = Annotated[
    Decimal, BeforeValidator(parse_amount), AfterValidator(_positive), _SCHEMA
]
