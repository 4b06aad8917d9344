"""The event catalogue: every event type and the shape of its ``data`` (docs/events.md).

Money is exact, written as decimal strings; times are ISO 8601 UTC. ``data`` carries what a
receiver needs without calling back. Plain pydantic models, so workflow code can build them.
"""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, PlainSerializer

from creditgate.values.money import to_str

Money = Annotated[Decimal, PlainSerializer(to_str, return_type=str, when_used="json")]


class EventType(StrEnum):
    customer_created = "customer.created"
    customer_cut_off = "customer.cut_off"
    customer_restored = "customer.restored"
    customer_closed = "customer.closed"
    balance_low = "balance.low"
    grant_created = "grant.created"
    grant_expired = "grant.expired"
    purchase_succeeded = "purchase.succeeded"
    purchase_failed = "purchase.failed"
    purchase_refunded = "purchase.refunded"
    auto_recharge_succeeded = "auto_recharge.succeeded"
    auto_recharge_failed = "auto_recharge.failed"
    auto_recharge_disabled = "auto_recharge.disabled"
    statement_closed = "statement.closed"
    statement_payment_failed = "statement.payment_failed"
    statement_paid = "statement.paid"
    plan_migration_completed = "plan_migration.completed"


class EventData(BaseModel):
    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class LedgerEntryRef(EventData):
    """The ledger entry that moved the balance across (``kind``: debit, grant, expiry…;
    ``event_id``, ``grant_id`` or ``hold_id`` say what it was for)."""

    kind: str
    amount: Money
    balance_after: Money
    event_id: str | None = None
    grant_id: int | None = None
    hold_id: str | None = None


class Balance(EventData):
    """The wallet as the ledger transaction that crossed left it."""

    available: Money
    held: Money
    debt: Money
    entitled: bool
    entry: LedgerEntryRef | None = None


class CustomerCreated(EventData):
    name: str
    email: str
    plan: str
    status: str
    entitled: bool


class CustomerClosed(EventData):
    """The account closure finished: unspent purchased credits were refunded (each as its
    own ``purchase.refunded``), the rest forfeited, the card detached."""

    reason: str
    forfeited: Money  # credits voided by the closure (promotional and remainders)
    balance: Money  # the final balance: zero, or what is still owed (negative)


class CustomerCutOff(Balance):
    pass


class CustomerRestored(Balance):
    pass


class BalanceLow(Balance):
    threshold: Money  # the alert amount crossed downward


class GrantCreated(EventData):
    grant_id: int
    amount: Money
    source: str  # purchase | recharge | invoice | promotional | adjustment
    reason: str | None
    reference: str | None
    expires_at: datetime | None
    debt_paid: Money  # taken first to pay debt; the rest is spendable


class GrantExpired(EventData):
    grant_id: int
    amount: Money
    expired_amount: Money  # what was left unspent and is lost
    expires_at: datetime | None


class Purchase(EventData):
    purchase_id: str
    amount: Money
    currency: str
    credits: Money
    payment_intent: str | None


class PurchaseSucceeded(Purchase):
    pass


class PurchaseFailed(Purchase):
    reason: str | None


class PurchaseRefunded(EventData):
    purchase_id: str
    refunded_amount: Money  # the charge's refunded total so far, in money
    credits: Money  # credits taken back in total
    charged: Money  # of them, already spent: charged as debt


class AutoRechargeSucceeded(Purchase):
    recharge_id: str
    attempt: int


class AutoRechargeFailed(EventData):
    """One attempt declined; ``next_attempt_at`` is None after the last."""

    recharge_id: str
    attempt: int
    attempts: int
    reason: str | None
    next_attempt_at: datetime | None


class AutoRechargeDisabled(EventData):
    recharge_id: str
    attempts: int
    reason: str


class Statement(EventData):
    statement_id: int
    number: int
    amount_due: Money
    currency: str


class StatementClosed(Statement):
    period_index: int
    period_start: datetime
    period_end: datetime
    closing_balance: Money
    payment_status: str  # none | pending (collection starts) | paid | ...


class StatementPaymentFailed(Statement):
    attempt: int
    reason: str
    next_attempt_at: datetime | None  # None: dunning is over (the customer is cut off)


class StatementPaid(Statement):
    payment_intent: str | None


class PlanMigrationCompleted(EventData):
    migration_id: str
    plan: str
    from_version: int
    to_version: int
    effective: str  # now | next_period (then the plan changes as the period closes)


DATA: dict[EventType, type[EventData]] = {
    EventType.customer_created: CustomerCreated,
    EventType.customer_cut_off: CustomerCutOff,
    EventType.customer_restored: CustomerRestored,
    EventType.customer_closed: CustomerClosed,
    EventType.balance_low: BalanceLow,
    EventType.grant_created: GrantCreated,
    EventType.grant_expired: GrantExpired,
    EventType.purchase_succeeded: PurchaseSucceeded,
    EventType.purchase_failed: PurchaseFailed,
    EventType.purchase_refunded: PurchaseRefunded,
    EventType.auto_recharge_succeeded: AutoRechargeSucceeded,
    EventType.auto_recharge_failed: AutoRechargeFailed,
    EventType.auto_recharge_disabled: AutoRechargeDisabled,
    EventType.statement_closed: StatementClosed,
    EventType.statement_payment_failed: StatementPaymentFailed,
    EventType.statement_paid: StatementPaid,
    EventType.plan_migration_completed: PlanMigrationCompleted,
}
