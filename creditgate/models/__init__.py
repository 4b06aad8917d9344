"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``."""

from creditgate.models.access import ApiKeyRecord, AuditEntry, KeyScope
from creditgate.models.closure import ClosureRefund
from creditgate.models.customer import Customer, CustomerStatus, Wallet
from creditgate.models.event import CustomerEvent
from creditgate.models.ledger import (
    Grant,
    Hold,
    LedgerEntry,
    OutboxMessage,
    UsageCounter,
    UsageEvent,
)
from creditgate.models.payment import AutoRecharge, Purchase, PurchaseIdempotencyKey
from creditgate.models.plan import Plan
from creditgate.models.plan_migration import PlanMigration, PlanMigrationMove
from creditgate.models.statement import Statement
from creditgate.models.stripe_event import StripeEvent
from creditgate.models.webhook import WebhookCursor, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKeyRecord",
    "AuditEntry",
    "AutoRecharge",
    "ClosureRefund",
    "Customer",
    "CustomerEvent",
    "CustomerStatus",
    "Grant",
    "Hold",
    "KeyScope",
    "LedgerEntry",
    "OutboxMessage",
    "Plan",
    "PlanMigration",
    "PlanMigrationMove",
    "Purchase",
    "PurchaseIdempotencyKey",
    "Statement",
    "StripeEvent",
    "UsageCounter",
    "UsageEvent",
    "Wallet",
    "WebhookCursor",
    "WebhookDelivery",
    "WebhookEndpoint",
]
