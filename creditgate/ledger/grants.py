"""Adding credit: a grant pays any debt first, then its remainder burns down later."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from creditgate.events import alerts
from creditgate.events.catalogue import EventType, GrantCreated
from creditgate.ledger import tables as t
from creditgate.ledger.accounts import ZERO, Account
from creditgate.ledger.errors import LedgerError
from creditgate.ledger.tables import GrantRow
from creditgate.values.money import to_str

# invoice: a payment collected for a statement's amount due (it pays the debt).
SOURCES = frozenset({"purchase", "recharge", "invoice", "promotional", "adjustment"})


@dataclass(frozen=True)
class GrantSpec:
    amount: Decimal
    source: str
    priority: int = 10
    expires_at: datetime | None = None
    reason: str | None = None
    # Business key: a second grant with the same reference returns the first.
    reference: str | None = None
    # The ledger entry's kind: a period close credits a negative true-up as ``true_up``.
    entry_kind: str = "grant"
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GrantOutcome:
    grant: GrantRow
    created: bool
    debt_paid: Decimal
    # Kept apart from ``GrantRow``, which the hot balance read builds column by column.
    metadata: dict[str, str] = field(default_factory=dict)


async def add_grant(account: Account, spec: GrantSpec) -> GrantOutcome:
    if spec.source not in SOURCES:
        raise LedgerError(f"unknown grant source {spec.source!r}")
    if spec.amount <= 0:
        raise LedgerError("a grant amount must be positive")
    if spec.expires_at is not None and spec.expires_at <= account.now:
        raise LedgerError("expires_at must be in the future")
    if spec.reference is not None:
        existing = (
            await account.conn.execute(
                select(t.grants).where(
                    t.grants.c.customer_id == account.customer_id,
                    t.grants.c.reference == spec.reference,
                )
            )
        ).first()
        if existing is not None:
            stored = dict(existing._mapping["metadata"] or {})
            return GrantOutcome(GrantRow.of(existing), False, ZERO, stored)

    debt_paid = min(account.debt, spec.amount)
    remaining = spec.amount - debt_paid
    values = {
        "customer_id": account.customer_id,
        "amount": spec.amount,
        "remaining": remaining,
        "priority": spec.priority,
        "effective_at": account.now,
        "expires_at": spec.expires_at,
        "source": spec.source,
        "reason": spec.reason,
        "reference": spec.reference,
        "status": "active" if remaining > 0 else "depleted",
        "expired_amount": ZERO,
        "created_at": account.now,
    }
    inserted = await account.conn.execute(
        t.grants.insert().returning(t.grants.c.id), values | {"metadata": spec.metadata}
    )
    fields = {k: v for k, v in values.items() if k != "customer_id"}
    grant = GrantRow(id=inserted.scalar_one(), **fields)  # type: ignore[arg-type]
    description = spec.reason or spec.source
    if debt_paid:
        description += f" (paid {to_str(debt_paid)} of debt first)"
    account.book(spec.entry_kind, spec.amount, grant_id=grant.id, description=description[:500])
    account.grant_added(grant)
    account.emit(
        EventType.grant_created,
        f"grant.created:{grant.id}",
        GrantCreated(
            grant_id=grant.id,
            amount=spec.amount,
            source=spec.source,
            reason=spec.reason,
            reference=spec.reference,
            expires_at=spec.expires_at,
            debt_paid=debt_paid,
        ),
    )
    if spec.source in alerts.BASE_SOURCES:
        await _resolve_alerts(account, spec.amount)
    if grant.expires_at is not None and remaining > 0:
        # The customer workflow keeps a durable timer per expiring grant.
        account.notify(
            "grant_added", {"grant_id": grant.id, "expires_at": grant.expires_at.isoformat()}
        )
    return GrantOutcome(grant, True, debt_paid, spec.metadata)


async def _resolve_alerts(account: Account, base: Decimal) -> None:
    """Percentage spend alerts refer to the last grant: resolve them against this one."""
    wallet = t.wallets.c
    rules = (
        await account.conn.execute(
            select(wallet.alert_rules).where(wallet.customer_id == account.customer_id)
        )
    ).scalar_one()
    if not alerts.has_percent(rules):
        return
    account.alert_amounts = alerts.resolve(rules, base)
    await account.conn.execute(
        t.wallets.update()
        .where(wallet.customer_id == account.customer_id)
        .values(alert_amounts=account.alert_amounts)
    )
