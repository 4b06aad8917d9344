"""Operator updates on ``CustomerWorkflow`` (typed as JSON in the Temporal UI's "Send Update"
form, docs/operators.md) and the bodies of their activities."""

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from creditgate.values.identifiers import STORABLE
from creditgate.values.money import MoneyStr, parse_amount

Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=STORABLE)
]
Operator = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@+-]+$")
]


def parse_signed_amount(value: Any) -> Decimal:
    """A decimal string as ``parse_amount`` takes it, with an optional minus; never zero."""
    negative = isinstance(value, str) and value.startswith("-")
    amount = parse_amount(value[1:] if negative else value)
    if amount == 0:
        raise ValueError("an adjustment amount may not be zero")
    return -amount if negative else amount


SignedAmount = Annotated[MoneyStr, BeforeValidator(parse_signed_amount)]


class OperatorMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PauseRequest(OperatorMessage):
    reason: Reason
    operator: Operator


class ResumeRequest(OperatorMessage):
    operator: Operator
    reason: Reason | None = None


class AdjustRequest(OperatorMessage):
    amount: SignedAmount
    reason: Reason
    operator: Operator


class VoidGrantRequest(OperatorMessage):
    grant_id: Annotated[int, Field(strict=True, gt=0)]
    reason: Reason
    operator: Operator


class OperatorChange(OperatorMessage):
    """An operator activity's input: what to change, and the key that makes it happen once."""

    external_id: str
    action: Literal["pause", "resume", "adjust", "void_grant"]
    reason: str | None = None
    amount: MoneyStr | None = None
    grant_id: int | None = None
    reference: str | None = None


class OperatorResult(OperatorMessage):
    """What an operator update changed, and where the customer stands after it."""

    action: str
    status: str
    balance: MoneyStr
    entitled: bool
    amount: MoneyStr | None = None
    grant_id: int | None = None


class AuditRecord(OperatorMessage):
    actor: str
    action: str
    target: str
    request_id: str
    details: dict[str, Any]
