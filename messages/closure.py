"""Account closure: the ``close_account`` update on ``CustomerWorkflow``, where the closure
stands (carried across runs in ``CustomerState.closure``), and its activities' messages."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from creditgate.values.money import MoneyStr
from messages.operator import Operator, Reason

# The steps in order; the workflow completes after ``done``.
ClosureStep = Literal["payments", "holds", "statement", "refunds", "forfeit", "card", "done"]


class CloseAccountRequest(BaseModel):
    """Typed as JSON in the Temporal UI's Send Update form (docs/operators.md), with
    ``operator``; the API sends the name of its key as ``api_key`` instead (the API's audit
    log has the request already)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Reason
    operator: Operator | None = None
    api_key: str | None = None
    # wait: for open holds to be captured or expire; release: release them at once
    holds: Literal["wait", "release"] = "wait"

    @model_validator(mode="after")
    def _who(self) -> "CloseAccountRequest":
        if (self.operator is None) == (self.api_key is None):
            raise ValueError("name the operator closing the account")
        return self


class ClosureRefundView(BaseModel):
    purchase_id: str
    amount: MoneyStr
    currency: str
    credits: MoneyStr
    status: str  # pending | succeeded | failed | not_needed
    stripe_refund_id: str | None = None
    failure: str | None = None


class ClosureState(BaseModel):
    reason: str
    requested_by: str
    requested_at: datetime
    step: ClosureStep = "payments"
    # Holds still open are released once this passes (None: wait for each to end).
    holds_deadline: datetime | None = None
    # When the ``holds`` step looks at the open holds again.
    next_check: datetime | None = None
    final_period: int | None = None
    refunds: list[ClosureRefundView] = []
    forfeited: MoneyStr = Decimal(0)
    closed_at: datetime | None = None


class BeginClosureInput(BaseModel):
    external_id: str
    reason: str


class SettleHoldsInput(BaseModel):
    external_id: str
    release: bool


class HoldsLeft(BaseModel):
    count: int
    latest_expiry: datetime | None


class ClosureRefundInput(BaseModel):
    external_id: str
    purchase_id: str


class DetachCardInput(BaseModel):
    stripe_customer_id: str
    payment_method: str | None


class FinishClosureInput(BaseModel):
    external_id: str
    forfeited: MoneyStr


class ClosureFinished(BaseModel):
    closed_at: datetime
    balance: MoneyStr
