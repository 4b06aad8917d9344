"""Purchases, saved cards and auto-recharge settings in the database.

Every function is idempotent: activities call them at least once. A purchase row moves
``pending`` → ``granted`` or ``failed`` and never back; its grant is written in the same
ledger transaction that marks it granted, with the purchase id as the grant's reference.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from creditgate.infra.db import Database
from creditgate.ledger import service
from creditgate.ledger.accounts import Account
from creditgate.ledger.clawback import ClawbackOutcome, claw_back
from creditgate.ledger.errors import NotFound
from creditgate.ledger.grants import GrantSpec, add_grant
from creditgate.models import AutoRecharge, Customer, Purchase, Wallet
from creditgate.pricing.currency import minor_unit_exponent
from creditgate.values.money import normalize, to_str

PURCHASE_PRIORITY = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


async def get_purchase(db: Database, purchase_id: str) -> Purchase | None:
    async with db.session() as session:
        return await session.get(Purchase, purchase_id)


async def find_by_payment_intent(db: Database, payment_intent: str) -> Purchase | None:
    async with db.session() as session:
        return (
            await session.exec(select(Purchase).where(Purchase.payment_intent == payment_intent))
        ).first()


async def purchase_of_intent(
    db: Database, payment_intent: str, named: str | None
) -> Purchase | None:
    """The purchase a PaymentIntent pays: by its recorded id, else the one its metadata
    names (a crash between creating it and recording it leaves the purchase without it)."""
    found = await find_by_payment_intent(db, payment_intent)
    if found is not None or named is None:
        return found
    purchase = await get_purchase(db, named)
    if purchase is None or purchase.payment_intent not in (None, payment_intent):
        return None
    await record_intent(db, purchase.id, payment_intent, purchase.client_secret)
    return await get_purchase(db, named)


async def open_purchase(db: Database, purchase: Purchase) -> Purchase:
    """Insert the pending purchase unless it exists (a retried activity)."""
    try:
        async with db.transaction() as session:
            customer = (
                await session.exec(select(Customer).where(Customer.id == purchase.customer_id))
            ).first()
            if customer is None:
                raise NotFound(f"no customer with id {purchase.customer_id}")
            session.add(purchase)
    except IntegrityError:
        pass
    stored = await get_purchase(db, purchase.id)
    assert stored is not None
    return stored


async def customer_id_of(db: Database, external_id: str) -> int:
    async with db.session() as session:
        customer_id = (
            await session.exec(select(Customer.id).where(Customer.external_id == external_id))
        ).first()
    if customer_id is None:
        raise NotFound(f"no customer with external_id {external_id!r}")
    return customer_id


async def record_intent(
    db: Database, purchase_id: str, payment_intent: str, client_secret: str | None
) -> None:
    async with db.transaction() as session:
        await session.exec(
            update(Purchase)
            .where(col(Purchase.id) == purchase_id)
            .values(payment_intent=payment_intent, client_secret=client_secret, updated_at=utcnow())
        )


async def fail_purchase(db: Database, purchase_id: str, reason: str) -> Purchase:
    """Mark a pending purchase failed; a granted one stays granted."""
    async with db.transaction() as session:
        await session.exec(
            update(Purchase)
            .where(col(Purchase.id) == purchase_id, col(Purchase.status) == "pending")
            .values(status="failed", reason=reason[:500], updated_at=utcnow())
        )
    stored = await get_purchase(db, purchase_id)
    assert stored is not None
    return stored


@dataclass(frozen=True)
class Granted:
    grant_id: int
    credits: Decimal
    created: bool  # False when an earlier attempt had granted it already
    balance: Decimal


async def grant_purchase(db: Database, purchase_id: str) -> Granted:
    """Grant a paid purchase's credits once, and mark it granted in the same transaction."""
    purchase = await get_purchase(db, purchase_id)
    if purchase is None:
        raise NotFound(f"no purchase {purchase_id!r}")

    async def work(account: Account) -> Granted:
        spec = GrantSpec(
            amount=purchase.credits,
            source=purchase.kind,  # purchase | recharge
            priority=PURCHASE_PRIORITY,
            expires_at=purchase.expires_at
            if purchase.expires_at and purchase.expires_at > account.now
            else None,
            reason=f"{purchase.kind} {purchase.id} ({to_str(purchase.amount)} {purchase.currency})",
            reference=purchase.id,
        )
        outcome = await add_grant(account, spec)
        await account.conn.execute(
            update(Purchase)
            .where(col(Purchase.id) == purchase.id)
            .values(
                status="granted", grant_id=outcome.grant.id, reason=None, updated_at=account.now
            )
        )
        return Granted(outcome.grant.id, purchase.credits, outcome.created, account.balance)

    return await service.in_account(db, work, customer_id=purchase.customer_id)


@dataclass(frozen=True)
class Refunded:
    purchase_id: str
    clawback: ClawbackOutcome
    refunded_amount: Decimal


async def refund_purchase(db: Database, payment_intent: str, amount_refunded: int) -> Refunded:
    """Stripe's ``charge.refunded`` carries the charge's cumulative ``amount_refunded`` (minor
    units): claw back the credits for the part not clawed back yet. Any order, any repeat."""
    purchase = await find_by_payment_intent(db, payment_intent)
    if purchase is None:
        raise NotFound(f"no purchase paid by {payment_intent!r}")

    async def work(account: Account) -> Refunded:
        stored = (
            await account.conn.execute(
                sa_select(
                    col(Purchase.clawed_back), col(Purchase.refunded_amount), col(Purchase.grant_id)
                ).where(col(Purchase.id) == purchase.id)
            )
        ).one()
        refunded = Decimal(amount_refunded).scaleb(-minor_unit_exponent(purchase.currency))
        refunded = min(refunded, purchase.amount)
        if refunded <= stored.refunded_amount or stored.grant_id is None:
            return Refunded(purchase.id, ClawbackOutcome(*(Decimal(0),) * 3), refunded)
        target = normalize(purchase.credits * refunded / purchase.amount)
        outcome = await claw_back(
            account,
            stored.grant_id,
            target - stored.clawed_back,
            f"refund of {purchase.kind} {purchase.id}: {to_str(refunded)} {purchase.currency}",
        )
        await account.conn.execute(
            update(Purchase)
            .where(col(Purchase.id) == purchase.id)
            .values(clawed_back=target, refunded_amount=refunded, updated_at=account.now)
        )
        return Refunded(purchase.id, outcome, refunded)

    return await service.in_account(db, work, customer_id=purchase.customer_id)


async def save_payment_method(db: Database, external_id: str, payment_method: str) -> None:
    async with db.transaction() as session:
        await session.exec(
            update(Customer)
            .where(col(Customer.external_id) == external_id)
            .values(payment_method=payment_method)
        )


async def save_auto_recharge(db: Database, external_id: str, settings: AutoRecharge) -> Decimal:
    """Store the settings and arm (or disarm) the ledger's threshold; return available now."""
    customer_id = await customer_id_of(db, external_id)
    async with db.transaction() as session:
        stored = await session.get(AutoRecharge, customer_id)
        values = settings.model_dump(exclude={"customer_id"})
        values["updated_at"] = utcnow()
        if stored is None:
            session.add(AutoRecharge(customer_id=customer_id, **values))
        else:
            for key, value in values.items():
                setattr(stored, key, value)
            session.add(stored)
        await session.exec(
            update(Wallet)
            .where(col(Wallet.customer_id) == customer_id)
            .values(recharge_threshold=settings.threshold if settings.enabled else None)
        )
        wallet = (await session.exec(select(Wallet).where(Wallet.customer_id == customer_id))).one()
        return wallet.available


async def get_auto_recharge(db: Database, external_id: str) -> AutoRecharge | None:
    customer_id = await customer_id_of(db, external_id)
    async with db.session() as session:
        return await session.get(AutoRecharge, customer_id)


async def list_purchases(db: Database, customer_id: int, limit: int = 100) -> list[Purchase]:
    async with db.session() as session:
        rows = await session.exec(
            select(Purchase)
            .where(Purchase.customer_id == customer_id)
            .order_by(col(Purchase.created_at).desc())
            .limit(limit)
        )
        return list(rows.all())


async def workflow_of(db: Database, customer_id: int) -> str:
    async with db.session() as session:
        customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}")
    return customer.workflow_id
