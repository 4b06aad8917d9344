"""Payment activity inputs and results (plain pydantic, imported by workflows)."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field


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


class PurchaseRecord(BaseModel):
    """A purchase row as the workflows see it (``workflows.payment_models.PurchaseView``
    has the same fields; activities keep their own model so no class crosses the sandbox)."""

    id: str
    kind: str
    status: str
    amount: Decimal
    currency: str
    credits: Decimal
    payment_intent: str | None = None
    client_secret: str | None = None
    reason: str | None = None


class PurchaseRef(BaseModel):
    purchase_id: str


class SettledPayment(BaseModel):
    """A succeeded PaymentIntent's purchase, granted."""

    purchase: PurchaseRecord
    customer_workflow_id: str
    created: bool  # False when it had been granted already


class FailPurchaseInput(BaseModel):
    purchase_id: str
    reason: str


class GrantedPurchase(BaseModel):
    grant_id: int
    credits: Decimal
    created: bool


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


class AttachInput(BaseModel):
    external_id: str
    stripe_customer_id: str
    payment_method: str


class SaveAutoRechargeInput(BaseModel):
    external_id: str
    enabled: bool
    threshold: Decimal
    recharge_to: Decimal
    payment_method: str | None
    status: str
    disabled_reason: str | None = None


class RefundInput(BaseModel):
    payment_intent: str
    amount_refunded: int


class RefundResult(BaseModel):
    purchase_id: str
    credits: Decimal
    from_grant: Decimal
    charged: Decimal
    refunded_amount: Decimal
