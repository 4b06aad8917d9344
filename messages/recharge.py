"""Auto-recharge messages: settings and state, RechargeWorkflow's input and outcome,
and the recharge activities' inputs and results."""

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from messages.purchase import PaymentPolicy, PurchaseView

AutoRechargeStatus = Literal["enabled", "disabled", "failed"]


RechargeResult = Literal["succeeded", "failed", "not_needed"]


class AutoRechargeRequest(BaseModel):
    enabled: bool
    threshold: Decimal
    recharge_to: Decimal
    payment_method: str | None = None
    policy: PaymentPolicy = Field(default_factory=PaymentPolicy)


class AutoRechargeState(BaseModel):
    enabled: bool = False
    threshold: Decimal = Decimal(0)
    recharge_to: Decimal = Decimal(0)
    payment_method: str | None = None
    status: AutoRechargeStatus = "disabled"
    disabled_reason: str | None = None
    retry_delays: list[float] = Field(default_factory=lambda: [1200.0, 2400.0])
    # The recharge workflow's id while one runs (at most one per customer).
    in_flight: str | None = None
    # A crossing seen while a recharge ran, or an enable below the threshold: start one.
    wanted: bool = False


class RechargeInput(BaseModel):
    recharge_id: str
    external_id: str
    stripe_customer_id: str
    payment_method: str
    threshold: Decimal
    recharge_to: Decimal
    retry_delays: list[float]


class RechargeOutcome(BaseModel):
    message_id: str
    recharge_id: str
    status: RechargeResult
    attempts: int
    reason: str | None = None
    purchase: PurchaseView | None = None


class PrepareRechargeInput(BaseModel):
    purchase_id: str
    external_id: str
    threshold: Decimal
    recharge_to: Decimal
    payment_method: str
    workflow_id: str


class RechargeTicket(BaseModel):
    """What one recharge attempt charges (its purchase row is open, ``pending``)."""

    purchase_id: str
    amount: Decimal
    currency: str
    credits: Decimal
    available: Decimal
    # The customer's saved card now (it may have changed since the start). Optional: results
    # recorded before it existed must still decode on replay.
    payment_method: str | None = None


class SaveAutoRechargeInput(BaseModel):
    external_id: str
    enabled: bool
    threshold: Decimal
    recharge_to: Decimal
    payment_method: str | None
    status: str
    disabled_reason: str | None = None


class RechargeState(BaseModel):
    """What RechargeWorkflow's ``state`` query answers."""

    attempt: int = 0
    # Stripe idempotency keys, one per attempt, made once here.
    idempotency_keys: dict[int, str] = Field(default_factory=dict)
    last_reason: str | None = None
    outcome: RechargeOutcome | None = None
