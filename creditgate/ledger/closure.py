"""Closing an account, step by step (``workflows/customer_closure.py`` runs the steps; each is
one ledger transaction with the customer's row locked, and each can run again).

``begin`` marks the customer ``closing``: from that commit on, usage, holds, purchases and
grants are refused (only in-flight payments still grant). ``take_back`` decides the refund
of one purchase's unspent credits and takes them back, writing the refund row that keys the
Stripe refund; ``forfeit`` voids what is left; ``finish`` marks the customer ``closed``.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import insert, select, update

from creditgate.events.catalogue import CustomerClosed, EventType
from creditgate.infra.db import Database
from creditgate.ledger import service
from creditgate.ledger import tables as t
from creditgate.ledger.accounts import ZERO, Account, active_holds, close_hold, expire_due
from creditgate.ledger.clawback import claw_back
from creditgate.ledger.errors import Conflict, NotFound
from creditgate.models import AutoRecharge, ClosureRefund, Purchase
from creditgate.pricing.currency import minor_unit_exponent
from creditgate.values.money import to_str

CLOSING = "closing"
CLOSED = "closed"
# Purchases whose unspent credits go back to the card (an invoice only ever paid debt).
REFUNDABLE_KINDS = ("purchase", "recharge")

refunds = ClosureRefund.__table__  # type: ignore[attr-defined]
purchases = Purchase.__table__  # type: ignore[attr-defined]
auto_recharges = AutoRecharge.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Started:
    requested_at: datetime
    balance: Decimal


@dataclass(frozen=True)
class HoldsLeft:
    count: int
    latest_expiry: datetime | None


@dataclass(frozen=True)
class Finished:
    closed_at: datetime
    balance: Decimal


async def begin(db: Database, external_id: str, reason: str) -> Started:
    """Refuse new usage, holds, purchases and grants from now on, and switch auto-recharge
    off. Running it again on a closing customer changes nothing (a retried activity)."""

    async def work(account: Account) -> Started:
        c = t.customers.c
        if account.status == CLOSED:
            raise Conflict("the account is closed")
        if account.status != CLOSING:
            account.status = CLOSING
            await account.conn.execute(
                update(t.customers)
                .where(c.id == account.customer_id)
                .values(closure_reason=reason, closure_requested_at=account.now)
            )
            await account.conn.execute(
                update(t.wallets)
                .where(t.wallets.c.customer_id == account.customer_id)
                .values(recharge_threshold=None)
            )
            await account.conn.execute(
                update(auto_recharges)
                .where(auto_recharges.c.customer_id == account.customer_id)
                .values(enabled=False, status="disabled", disabled_reason="account closing")
            )
        requested = (
            await account.conn.execute(
                select(c.closure_requested_at).where(c.id == account.customer_id)
            )
        ).scalar_one()
        return Started(requested or account.now, account.balance)

    return await service.in_account(db, work, external_id=external_id)


async def settle_holds(db: Database, external_id: str, *, release: bool) -> HoldsLeft:
    """Expire holds past their TTL (and release the rest when ``release``); what is left."""

    async def work(account: Account) -> HoldsLeft:
        await expire_due(account)
        holds = await active_holds(account)
        if release:
            for hold in holds:
                close_hold(account, hold, "released")
            holds = []
        return HoldsLeft(len(holds), max((h.expires_at for h in holds), default=None))

    return await service.in_account(db, work, external_id=external_id)


async def refundable(db: Database, external_id: str) -> list[str]:
    """Paid purchases whose grant still has credits and that have no refund row yet."""
    p, g, c = purchases.c, t.grants.c, t.customers.c
    query = (
        select(p.id)
        .join(t.customers, c.id == p.customer_id)
        .join(t.grants, g.id == p.grant_id)
        .outerjoin(refunds, refunds.c.purchase_id == p.id)
        .where(
            c.external_id == external_id,
            p.kind.in_(REFUNDABLE_KINDS),
            g.status == "active",
            g.remaining > 0,
            refunds.c.purchase_id.is_(None),
        )
        .order_by(p.created_at, p.id)
    )
    async with db.read_engine.connect() as conn:
        return [row[0] for row in await conn.execute(query)]


async def take_back(db: Database, purchase_id: str) -> ClosureRefund:
    """Take back a purchase's unspent credits and decide the money they are worth (rounded
    down to the currency's minor unit), in one transaction that writes the ``pending`` refund
    row; a second call returns that row."""
    async with db.read_engine.connect() as conn:
        found = (await conn.execute(select(purchases).where(purchases.c.id == purchase_id))).first()
    if found is None:
        raise NotFound(f"no purchase {purchase_id!r}")
    purchase = Purchase.model_validate(found._mapping)

    async def work(account: Account) -> ClosureRefund:
        existing = await _refund_row(account, purchase_id)
        if existing is not None:
            return existing
        await expire_due(account)
        grant = next((g for g in await account.active_grants() if g.id == purchase.grant_id), None)
        credits = grant.remaining if grant is not None else ZERO
        step = Decimal(1).scaleb(-minor_unit_exponent(purchase.currency))
        amount = (credits * purchase.amount / purchase.credits).quantize(step, ROUND_DOWN)
        if amount <= 0:
            credits = ZERO  # worth less than a cent: forfeited with the rest
        elif grant is not None:
            description = (
                f"account closure: refund of {purchase.kind} {purchase.id}: "
                f"{to_str(amount)} {purchase.currency}"
            )
            await claw_back(account, grant.id, credits, description)
            await account.conn.execute(
                update(purchases)
                .where(purchases.c.id == purchase.id)
                .values(
                    refunded_amount=purchases.c.refunded_amount + amount,
                    clawed_back=purchases.c.clawed_back + credits,
                    updated_at=account.now,
                )
            )
        row = ClosureRefund(
            purchase_id=purchase.id,
            customer_id=account.customer_id,
            payment_intent=purchase.payment_intent or "",
            amount=amount,
            currency=purchase.currency,
            credits=credits,
            status="pending" if amount > 0 else "not_needed",
            created_at=account.now,
            updated_at=account.now,
        )
        await account.conn.execute(insert(refunds).values(**row.model_dump()))
        return row

    return await service.in_account(db, work, customer_id=purchase.customer_id)


async def _refund_row(account: Account, purchase_id: str) -> ClosureRefund | None:
    row = (
        await account.conn.execute(select(refunds).where(refunds.c.purchase_id == purchase_id))
    ).first()
    return None if row is None else ClosureRefund.model_validate(row._mapping)


async def refund_done(
    db: Database, purchase_id: str, *, stripe_refund_id: str | None, failure: str | None
) -> None:
    """Record Stripe's answer: the refund id, or why it refused (finance refunds by hand)."""
    async with db.write() as conn:
        await conn.execute(
            update(refunds)
            .where(refunds.c.purchase_id == purchase_id)
            .values(
                status="failed" if failure else "succeeded",
                stripe_refund_id=stripe_refund_id,
                failure=failure[:500] if failure else None,
            )
        )


async def list_refunds(db: Database, customer_id: int) -> list[ClosureRefund]:
    query = (
        select(refunds)
        .where(refunds.c.customer_id == customer_id)
        .order_by(refunds.c.created_at, refunds.c.purchase_id)
    )
    async with db.read_engine.connect() as conn:
        return [ClosureRefund.model_validate(r._mapping) for r in await conn.execute(query)]


async def forfeit(db: Database, external_id: str) -> Decimal:
    """Void every grant that still has credits (promotional credit, adjustments, a refund's
    sub-cent remainder); returns the credits forfeited by this call."""

    async def work(account: Account) -> Decimal:
        await expire_due(account)
        total = ZERO
        for grant in list(await account.active_grants()):
            lost = grant.remaining
            grant.remaining = ZERO
            grant.status = "voided"
            account.grant_changed(grant)
            if lost > 0:
                total += lost
                account.book(
                    "void", -lost, grant_id=grant.id, description="forfeited: account closed"
                )
        return total

    return await service.in_account(db, work, external_id=external_id)


async def finish(db: Database, external_id: str, forfeited: Decimal) -> Finished:
    """Mark the customer ``closed`` (no saved card), with the ``customer.closed`` event."""

    async def work(account: Account) -> Finished:
        c = t.customers.c
        if account.status not in (CLOSING, CLOSED):
            raise Conflict(f"the account is {account.status}, not closing")
        stored = (
            await account.conn.execute(
                select(c.closure_reason, c.closed_at).where(c.id == account.customer_id)
            )
        ).one()
        if account.status == CLOSED:
            return Finished(stored.closed_at or account.now, account.balance)
        account.status = CLOSED
        await account.conn.execute(
            update(t.customers)
            .where(c.id == account.customer_id)
            .values(closed_at=account.now, payment_method=None)
        )
        account.emit(
            EventType.customer_closed,
            "customer.closed",
            CustomerClosed(
                reason=stored.closure_reason or "",
                forfeited=forfeited,
                balance=account.balance,
            ),
        )
        return Finished(account.now, account.balance)

    return await service.in_account(db, work, external_id=external_id)
