"""Customer workflow messages: profile, state, signup, ledger notices, and the
customer activities' inputs and results."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from messages.closure import ClosureState
from messages.events import RecordEventInput
from messages.period import BillingState
from messages.purchase import PurchaseView
from messages.recharge import AutoRechargeState

CustomerLifecycle = Literal["pending", "active", "cut_off", "paused", "closing", "closed"]


# How many processed message ids and timeline entries a run carries into the next one.
MAX_PROCESSED_IDS = 2000


MAX_TIMELINE = 200


# Purchases the state keeps (for the update answering a retried POST, and for operators).
MAX_PURCHASES = 50


# Outbound events waiting for the main loop to record them (more means the database is down
# for long: the oldest are dropped rather than the state growing without bound).
MAX_PENDING_EVENTS = 500


class CustomerProfile(BaseModel):
    external_id: str
    name: str
    email: str
    plan: str = "default"


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    message: str


class CustomerState(BaseModel):
    """Everything the customer workflow knows; carried whole across continue-as-new."""

    profile: CustomerProfile
    status: CustomerLifecycle = "pending"
    entitled: bool = False
    # The balance as the last ledger notice or operator update reported it (shown in the UI).
    balance: str | None = None
    stripe_customer_id: str | None = None
    # Business idempotency keys, made once with workflow.uuid4() and kept here, so a retried
    # or continued-as-new workflow reuses them.
    idempotency_keys: dict[str, str] = Field(default_factory=dict)
    registered: bool = False
    signup_acknowledged: bool = False
    processed_message_ids: list[str] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    # Grants with an expiry the ledger told us about (``grant_added``): grant id → expires_at.
    # The main loop keeps a durable timer for the earliest one.
    grant_expiries: dict[int, datetime] = Field(default_factory=dict)
    # The saved card for off-session charges (attached to the Stripe customer).
    payment_method: str | None = None
    auto_recharge: AutoRechargeState = Field(default_factory=AutoRechargeState)
    # Threshold notices handled: one arriving while the settings are saved still recharges.
    threshold_crossings: int = 0
    # Recent purchases by id, and the purchase each POST's request id made.
    purchases: dict[str, PurchaseView] = Field(default_factory=dict)
    purchase_requests: dict[str, str] = Field(default_factory=dict)
    billing: BillingState | None = None
    statements_closed: int = 0
    run_number: int = 1
    # Outbound events its handlers decided on, recorded in order by the main loop.
    pending_events: list[RecordEventInput] = Field(default_factory=list)
    # An account closure under way (or done: the workflow completes after it).
    closure: ClosureState | None = None


class CustomerWorkflowInput(BaseModel):
    profile: CustomerProfile
    state: CustomerState | None = None


class SignupResult(BaseModel):
    """Answer to the ``signup`` update: ``created`` is true for the first caller only."""

    created: bool
    state: CustomerState


class LedgerNotice(BaseModel):
    """One outbox row, signalled by the relay (at least once; ``message_id`` de-duplicates).

    ``kind`` is ``zero``, ``restored``, ``threshold``, ``balance_low``, ``grant_added``,
    ``paused``, ``resumed`` or ``profile_changed`` (written by the customer PATCH route); it
    stays a plain string so a kind this code does not know yet is ignored, never a failed
    signal.
    """

    message_id: str
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class CreateStripeCustomerInput(BaseModel):
    external_id: str
    name: str
    email: str
    idempotency_key: str


class RegisterCustomerInput(BaseModel):
    external_id: str
    name: str
    email: str
    plan: str
    stripe_customer_id: str
    workflow_id: str


class RegisteredCustomer(BaseModel):
    customer_id: int
    status: Literal["active", "cut_off", "paused", "closed"]
    entitled: bool


class ExpireGrantsInput(BaseModel):
    external_id: str
    # The grants the workflow's timer found due; every other due grant expires too.
    grant_ids: list[int] = Field(default_factory=list)


class ExpiredGrant(BaseModel):
    grant_id: int
    amount: Decimal  # what was left of the grant and is now lost
    expires_at: datetime | None


class ExpireGrantsResult(BaseModel):
    # Grants now expired: by this call, or (for the ids asked about) by an earlier ledger
    # transaction that expired them on its way.
    expired: list[ExpiredGrant] = Field(default_factory=list)
    # Ids asked about that are still active and not yet due by the database's clock.
    pending: list[int] = Field(default_factory=list)


class PaymentMethodRequest(BaseModel):
    payment_method: str


class AttachInput(BaseModel):
    external_id: str
    stripe_customer_id: str
    payment_method: str
