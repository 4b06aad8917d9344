"""Purchase messages: the ``purchase`` update, the purchase workflow's input, and
the payment activities' inputs and results."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

PurchaseStatus = Literal["pending", "granted", "failed"]
PurchaseKind = Literal["purchase", "recharge", "invoice"]


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
    """A purchase row, as the payment activities read it and the workflows keep it.

    ``invoice`` purchases (a statement's collection attempts) come from the period workflow.
    """

    id: str
    kind: PurchaseKind = "purchase"
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


class OpenPurchaseInput(BaseModel):
    purchase_id: str
    kind: str  # purchase | recharge
    external_id: str
    amount: Decimal
    currency: str
    credits: Decimal
    payment_method: str | None
    expires_at: datetime | None
    workflow_id: str


class CreateIntentInput(BaseModel):
    purchase_id: str
    kind: str
    external_id: str
    stripe_customer_id: str
    amount: Decimal
    currency: str
    payment_method: str | None
    attach_payment_method: bool
    off_session: bool
    idempotency_key: str
    workflow_id: str
    # More PaymentIntent metadata, e.g. the statement an invoice collects.
    extra_metadata: dict[str, str] = Field(default_factory=dict)


class IntentView(BaseModel):
    id: str
    status: str
    client_secret: str | None = None
    failure: str | None = None  # Stripe's last payment error, "message (code)"


class PurchaseRef(BaseModel):
    purchase_id: str


class FailPurchaseInput(BaseModel):
    purchase_id: str
    reason: str


class GrantedPurchase(BaseModel):
    grant_id: int
    credits: Decimal
    created: bool


class RefundInput(BaseModel):
    payment_intent: str
    amount_refunded: int


class RefundResult(BaseModel):
    purchase_id: str
    credits: Decimal
    from_grant: Decimal
    charged: Decimal
    refunded_amount: Decimal
