"""Purchase and auto-recharge messages: plain pydantic models, safe inside the sandbox."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

PurchaseStatus = Literal["pending", "granted", "failed"]
AutoRechargeStatus = Literal["enabled", "disabled", "failed"]
RechargeResult = Literal["succeeded", "failed", "not_needed"]


class PaymentPolicy(BaseModel):
    """Limits and schedules from the API's settings, passed with each request (workflow code
    cannot read the environment)."""

    purchase_min: Decimal = Decimal("0.50")
    purchase_max: Decimal = Decimal("10000")
    recharge_max: Decimal = Decimal("10000")
    poll_seconds: float = 15.0
    poll_max_seconds: float = 600.0
    timeout_seconds: float = 86400.0
    retry_delays: list[float] = Field(default_factory=lambda: [1200.0, 2400.0])


class PurchaseRequest(BaseModel):
    """The ``purchase`` update: the API has priced it under the customer's plan."""

    request_id: str  # the POST's Idempotency-Key, or a fresh id
    amount: Decimal  # money to charge, whole minor units of ``currency``
    currency: str
    credits: Decimal  # what the wallet gains
    payment_method: str | None = None
    expires_at: datetime | None = None
    policy: PaymentPolicy = Field(default_factory=PaymentPolicy)


class PurchaseView(BaseModel):
    id: str
    kind: Literal["purchase", "recharge"] = "purchase"
    status: PurchaseStatus
    amount: Decimal
    currency: str
    credits: Decimal
    payment_intent: str | None = None
    client_secret: str | None = None
    reason: str | None = None


class PurchaseAnswer(BaseModel):
    purchase: PurchaseView
    created: bool  # False when the request id was seen before


class PurchaseInput(BaseModel):
    purchase_id: str
    external_id: str
    stripe_customer_id: str
    amount: Decimal
    currency: str
    credits: Decimal
    payment_method: str | None
    attach_payment_method: bool  # a card named in the request, not yet the customer's
    expires_at: datetime | None
    idempotency_key: str
    policy: PaymentPolicy


class PaymentEvent(BaseModel):
    """A Stripe webhook about a PaymentIntent, signalled by the API (at least once)."""

    event_id: str
    type: str
    payment_intent: str


class PurchaseProgress(BaseModel):
    """Child → customer workflow: where a purchase stands now."""

    message_id: str
    purchase: PurchaseView


class RefundNotice(BaseModel):
    """``charge.refunded``: ``amount_refunded`` is the charge's cumulative total, minor units."""

    event_id: str
    payment_intent: str
    amount_refunded: int


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


class PeriodCloseInput(BaseModel):
    external_id: str
    period_index: int
    period_start: datetime
    period_end: datetime
    grace_seconds: int


class PeriodClosed(BaseModel):
    """Period close → customer workflow: the statement, and whether its amount was paid."""

    message_id: str
    period_index: int
    number: int
    amount_due: Decimal
    currency: str
    # none (nothing due) | paid | below_minimum (carried as debt) | unpaid (dunning ran out)
    collection: str
    reason: str | None = None


class PaymentMethodRequest(BaseModel):
    payment_method: str
