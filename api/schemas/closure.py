"""Bodies of an account closure."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from api.schemas.common import RequestBody
from creditgate.models import ClosureRefund
from creditgate.values.money import MoneyStr
from messages.operator import Reason


class ClosureCreate(RequestBody):
    reason: Reason
    # wait: for open holds to be captured or to expire; release: release them at once
    holds: Literal["wait", "release"] = "wait"


class ClosureRefundPublic(BaseModel):
    purchase_id: str
    payment_intent: str
    amount: MoneyStr  # money back to the card
    currency: str
    credits: MoneyStr  # the unspent credits it refunds
    # pending | succeeded | failed (Stripe refused: refund it by hand) | not_needed (worth
    # less than the currency's smallest unit: forfeited)
    status: str
    stripe_refund_id: str | None
    failure: str | None

    @classmethod
    def of(cls, row: ClosureRefund) -> "ClosureRefundPublic":
        return cls.model_validate(row.model_dump())


class ClosurePublic(BaseModel):
    external_id: str
    status: Literal["closing", "closed"]
    reason: str
    requested_at: datetime
    closed_at: datetime | None
    refunds: list[ClosureRefundPublic]
    # The final statement (the period closed early by the closure), once it exists.
    final_statement: int | None
