"""The event types an endpoint may subscribe to: the catalogue of docs/events.md.

Kept here in one place so that it can become ``frozenset(EventType)`` of
``creditgate.events.catalogue`` once that module exists."""

ALL_TYPES = "*"

EVENT_TYPES: frozenset[str] = frozenset(
    {
        "customer.created",
        "customer.cut_off",
        "customer.restored",
        "balance.low",
        "grant.created",
        "grant.expired",
        "purchase.succeeded",
        "purchase.failed",
        "purchase.refunded",
        "auto_recharge.succeeded",
        "auto_recharge.failed",
        "auto_recharge.disabled",
        "statement.closed",
        "statement.payment_failed",
        "statement.paid",
        "plan_migration.completed",
    }
)


def unknown(types: list[str]) -> list[str]:
    return [t for t in types if t != ALL_TYPES and t not in EVENT_TYPES]


def subscribed(event_types: list[str], event_type: str) -> bool:
    return ALL_TYPES in event_types or event_type in event_types
