"""Operator controls' bodies: corrections, voided grants, pause and resume."""

from pydantic import BaseModel

from api.schemas.common import RequestBody
from creditgate.values.money import MoneyStr
from messages.operator import Reason, SignedAmount


class AdjustmentCreate(RequestBody):
    # Positive: a credit (a grant with source ``adjustment``); negative: a debit.
    amount: SignedAmount
    reason: Reason


class ReasonBody(RequestBody):
    reason: Reason


class ResumeBody(RequestBody):
    reason: Reason | None = None


class AdjustmentPublic(BaseModel):
    amount: MoneyStr
    balance: MoneyStr
    # The credit's grant (a debit has none).
    grant_id: int | None


class VoidedGrantPublic(BaseModel):
    grant_id: int
    forfeited: MoneyStr
    balance: MoneyStr


class CustomerStatusPublic(BaseModel):
    status: str
    balance: MoneyStr
    entitled: bool
    paused_reason: str | None
