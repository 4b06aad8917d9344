"""Billing period messages: the customer's schedule, PeriodCloseWorkflow's input and
outcome, and the period activities' inputs and results."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel


class BillingState(BaseModel):
    """The customer's billing periods (from the plan at signup)."""

    anchor: datetime
    every: int
    unit: str  # second | day | month
    grace_seconds: int
    billing: str  # prepaid | arrears
    next_index: int  # the next period to close
    closing: int | None = None  # the period whose PeriodCloseWorkflow is running
    # Period ``first_index`` starts at ``anchor`` (a plan change ``now`` re-anchors there, so
    # period numbers keep counting up).
    first_index: int = 0


class PeriodCloseInput(BaseModel):
    external_id: str
    period_index: int
    period_start: datetime
    period_end: datetime
    grace_seconds: int
    # An early close (plan change ``now``): the next period starts at ``period_end``.
    reanchor: bool = False


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


class BillingSchedule(BaseModel):
    anchor: datetime
    every: int
    unit: str  # second | day | month
    grace_seconds: int
    billing: str  # prepaid | arrears
    current_index: int  # the period open now


class ClosePeriodInput(BaseModel):
    external_id: str
    period_index: int
    period_start: datetime
    period_end: datetime
    reanchor: bool = False


class StatementSummary(BaseModel):
    statement_id: int
    number: int
    amount_due: Decimal
    currency: str
    closing_balance: Decimal
    payment_status: str


class InvoiceInput(BaseModel):
    statement_id: int
    purchase_id: str  # made once per attempt by the workflow (unique across databases)
    workflow_id: str


class InvoiceTicket(BaseModel):
    """One collection attempt (its purchase row, kind ``invoice``, is open and pending), for
    what is still owed now."""

    purchase_id: str
    amount: Decimal
    currency: str
    stripe_customer_id: str
    payment_method: str | None
    # Set when nothing is left to charge (the debt was paid some other way since the close):
    # no purchase row was opened and this is how the statement's collection ended (``paid``,
    # or ``below_minimum`` when less than Stripe's minimum charge is left). Optional: results
    # recorded before it existed must still decode on replay.
    settled: str | None = None


class StatementPaymentOutcome(BaseModel):
    """How a statement's collection ended, to record on its row (not the API's
    ``StatementPayment``, which is how a statement reads)."""

    statement_id: int
    status: str  # paid | failed | below_minimum
    payment_intent: str | None = None


class NonPayment(BaseModel):
    external_id: str
    statement_number: int
    reason: str
