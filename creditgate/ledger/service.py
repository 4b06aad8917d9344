"""Ledger operations, each one database transaction (the API and activities call these)."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate import plans
from creditgate.db import Database
from creditgate.ledger.accounts import Account, expire_due, expire_holds, lock_account
from creditgate.ledger.errors import LedgerError, NotFound
from creditgate.ledger.grants import GrantOutcome, GrantSpec, add_grant
from creditgate.ledger.holds import place_hold, release
from creditgate.ledger.usage import UsageIn, UsageResult, record_usage, rejected
from creditgate.models import Grant, Hold
from creditgate.pricing import rating
from creditgate.pricing.plan import PlanDefinition

DEFAULT_BACKDATING = timedelta(days=35)


def utcnow() -> datetime:
    return datetime.now(UTC)


async def ingest(
    db: Database, events: Sequence[UsageIn], backdating: timedelta = DEFAULT_BACKDATING
) -> list[UsageResult]:
    """Rate and debit a batch: one transaction per customer in it; results in input order."""
    now = utcnow()
    by_customer: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        by_customer.setdefault(event.customer, []).append(index)
    results: list[UsageResult | None] = [None] * len(events)
    for external_id, indexes in by_customer.items():
        batch = [events[i] for i in indexes]
        async with db.transaction() as session:
            account = await lock_account(session, now, external_id=external_id)
            if account is None:
                out = [rejected(e, f"unknown customer {external_id!r}") for e in batch]
            else:
                await expire_due(account)
                plan = await _plan_of(account)
                version = account.customer.plan_version or 1
                out = await record_usage(account, plan, version, batch, backdating)
                account.finish()
        for i, result in zip(indexes, out, strict=True):
            results[i] = result
    return [r for r in results if r is not None]


async def _plan_of(account: Account) -> PlanDefinition:
    customer = account.customer
    return await plans.definition(account.session, customer.plan_code, customer.plan_version or 1)


async def grant(db: Database, external_id: str, spec: GrantSpec) -> GrantOutcome:
    async with db.transaction() as session:
        account = await _lock(session, external_id)
        await expire_due(account)
        outcome = await add_grant(account, spec)
        account.finish()
    return outcome


async def hold(
    db: Database,
    external_id: str,
    *,
    amount: Decimal | None = None,
    estimate: tuple[str, dict[str, object]] | None = None,
    ttl_seconds: int,
    description: str | None = None,
) -> Hold:
    """Place a hold for ``amount``, or for the real-time price of an example event."""
    async with db.transaction() as session:
        account = await _lock(session, external_id)
        await expire_due(account)
        if amount is None:
            assert estimate is not None
            amount = await _estimate(account, *estimate)
        placed = place_hold(account, amount, ttl_seconds, description)
        account.finish()
    return placed


async def _estimate(account: Account, event_type: str, properties: dict[str, object]) -> Decimal:
    plan = await _plan_of(account)
    meter = rating.meter_for(plan, event_type)
    if meter is None:
        raise LedgerError(f"unknown event type {event_type!r} for this plan")
    try:
        measurement = rating.measure(meter, properties)
    except rating.RejectedEvent as err:
        raise LedgerError(err.reason) from err
    choice = rating.select_price(plan, meter, measurement.dimensions)
    if choice is None:
        raise LedgerError("no price applies to this event; hold an amount instead")
    # Worst case for tiers is the first unit's tier; a hold is an upper estimate.
    return rating.realtime_cost(choice.price, measurement.quantity, Decimal(0))


async def release_hold(db: Database, hold_id: str) -> Hold:
    now = utcnow()
    async with db.transaction() as session:
        found = await session.get(Hold, hold_id)
        if found is None:
            raise NotFound(f"no hold {hold_id!r}")
        account = await lock_account(session, now, customer_id=found.customer_id)
        assert account is not None
        await session.refresh(found)
        await expire_due(account)
        result = release(account, found)
        account.finish()
    return result


async def expire(db: Database, external_id: str) -> list[Grant]:
    """Expire due grants and holds of one customer (the workflow's expiry timer calls this)."""
    async with db.transaction() as session:
        account = await _lock(session, external_id)
        expired = await expire_due(account)
        account.finish()
    return expired


async def sweep_expired_holds(db: Database, limit: int = 100) -> int:
    """Release holds past their TTL (the relay runs this), so held funds come back on time."""
    now = utcnow()
    async with db.session() as session:
        rows = await session.exec(
            select(Hold.customer_id)
            .where(Hold.status == "active", col(Hold.expires_at) <= now)
            .distinct()
            .limit(limit)
        )
        customer_ids = list(rows.all())
    for customer_id in customer_ids:
        async with db.transaction() as session:
            account = await lock_account(session, now, customer_id=customer_id)
            if account is not None:
                await expire_due(account)
                if account.wallet.held == 0:
                    # expire_due skips holds when nothing is held, but a hold fully settled
                    # by usage is still active (remaining 0) until its TTL: close it here, or
                    # the sweep finds this customer again forever.
                    await expire_holds(account)
                account.finish()
    return len(customer_ids)


async def _lock(session: AsyncSession, external_id: str) -> Account:
    account = await lock_account(session, utcnow(), external_id=external_id)
    if account is None:
        raise NotFound(f"no customer with external_id {external_id!r}")
    return account
