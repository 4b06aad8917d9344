"""Ledger operations, each one database transaction (the API and activities call these)."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from creditgate.infra.db import Database
from creditgate.ledger import pg
from creditgate.ledger import tables as t
from creditgate.ledger.accounts import (
    Account,
    expire_due,
    expire_holds,
    lock_account,
    lock_accounts,
    utcnow,
)
from creditgate.ledger.errors import Conflict, LedgerError, NotFound
from creditgate.ledger.grants import GrantOutcome, GrantSpec, add_grant
from creditgate.ledger.holds import (
    HoldRequest,
    new_hold_key,
    place_hold,
    placed_before,
    release,
)
from creditgate.ledger.pausing import REFUSED_STATUSES, refusal, refuse_usage
from creditgate.ledger.retry import on_dead_connection
from creditgate.ledger.tables import GrantRow, HoldRow
from creditgate.ledger.usage import (
    EventIn,
    UsageResult,
    price_event,
    record_usage,
    rejected,
)
from creditgate.plans import catalog as plans
from creditgate.pricing import rating
from creditgate.pricing.plan import PlanDefinition

DEFAULT_BACKDATING = timedelta(days=35)
T = TypeVar("T")


async def ingest(
    db: Database, events: Sequence[EventIn], backdating: timedelta = DEFAULT_BACKDATING
) -> list[UsageResult]:
    """Rate and debit a batch in one transaction (every customer in it locked, in id order);
    results in input order."""
    now = utcnow()
    by_customer: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        by_customer.setdefault(event.customer, []).append(index)

    async def debit() -> list[UsageResult]:
        results: list[UsageResult | None] = [None] * len(events)
        async with db.write() if db.is_sqlite else pg.transaction(db) as conn:
            accounts, seen = await lock_accounts(conn, now, [(e.customer, e.id) for e in events])
            for external_id, indexes in by_customer.items():
                batch = [events[i] for i in indexes]
                account = accounts.get(external_id)
                if account is None:
                    out = [rejected(e, f"unknown customer {external_id!r}") for e in batch]
                elif account.status in REFUSED_STATUSES:
                    out = await _refused(account, batch, seen)
                else:
                    await expire_due(account)
                    plan = await _plan_of(conn, account)
                    out = await record_usage(
                        account, plan, batch, backdating, seen.get(account.customer_id, {})
                    )
                    account.finish()
                for i, result in zip(indexes, out, strict=True):
                    results[i] = result
            if accounts:
                await next(iter(accounts.values())).writes.flush(conn)
        return [r for r in results if r is not None]

    return await on_dead_connection(debit)


async def _refused(
    account: Account, batch: list[EventIn], seen: dict[int, dict[str, Decimal]]
) -> list[UsageResult]:
    """A paused, closing or closed customer's new events are rejected saying why; repeats
    of events recorded before are still answered ``duplicate``."""
    why = await refusal(account)
    recorded = seen.get(account.customer_id, {})
    return [
        UsageResult(e.id, "duplicate", recorded[e.id], account.balance)
        if e.id in recorded
        else rejected(e, why)
        for e in batch
    ]


async def _plan_of(conn: AsyncConnection, account: Account) -> PlanDefinition:
    return await plans.cached_definition(conn, account.plan_code, account.plan_version)


async def in_account(
    db: Database,
    work: Callable[[Account], Awaitable[T]],
    *,
    external_id: str | None = None,
    customer_id: int | None = None,
) -> T:
    """Run ``work`` on one customer's locked account in one transaction, then write what it
    booked; the whole transaction runs again if its connection turned out to be dead."""

    async def attempt() -> T:
        async with db.write() as conn:
            account = await lock_account(
                conn, utcnow(), external_id=external_id, customer_id=customer_id
            )
            if account is None:
                raise NotFound(f"no customer with external_id {external_id!r}")
            result = await work(account)
            await account.commit()
            return result

    return await on_dead_connection(attempt)


async def grant(db: Database, external_id: str, spec: GrantSpec) -> GrantOutcome:
    """A grant through the API (payments grant through ``creditgate.payments.store``)."""

    async def work(account: Account) -> GrantOutcome:
        if account.status in ("closing", "closed"):
            raise Conflict(f"the customer's account is {account.status}: no new grants")
        await expire_due(account)
        return await add_grant(account, spec)

    return await in_account(db, work, external_id=external_id)


async def hold(
    db: Database,
    external_id: str,
    *,
    amount: Decimal | None = None,
    estimate: tuple[str, dict[str, object]] | None = None,
    ttl_seconds: int,
    description: str | None = None,
    idempotency_key: str | None = None,
) -> HoldRow:
    """Place a hold for ``amount``, or for the real-time price of an example event."""
    request = HoldRequest(ttl_seconds, amount, estimate, description, idempotency_key)
    return (await place(db, external_id, request))[0]


async def place(db: Database, external_id: str, request: HoldRequest) -> tuple[HoldRow, bool]:
    """Place a hold for ``request.amount``, or for the real-time price of an example event;
    with whether it was placed now (False: the request's key placed it before).

    A request without a key gets one of its own, so running the transaction again after a
    lost COMMIT reply finds the hold the first run placed instead of placing a second."""
    keyed = request if request.key is not None else replace(request, key=new_hold_key())

    async def work(account: Account) -> tuple[HoldRow, bool]:
        await refuse_usage(account)
        await expire_due(account)
        before = await placed_before(account, keyed)
        if before is not None:
            return before, False
        reserve = keyed.amount
        if reserve is None:
            assert keyed.estimate is not None
            reserve = await _estimate(account, *keyed.estimate)
        return await place_hold(account, reserve, keyed), True

    placed, created = await in_account(db, work, external_id=external_id)
    if request.key is None:
        # The key was the ledger's own: a retry that found the hold still placed it once.
        created = True
    return placed, created


async def _estimate(account: Account, event_type: str, properties: dict[str, object]) -> Decimal:
    plan = await _plan_of(account.conn, account)
    probe = EventIn(
        id="hold-estimate",
        customer=account.external_id,
        event_type=event_type,
        properties=dict(properties),
    )
    try:
        cost, priced = await price_event(account, plan, probe)
    except rating.RejectedEvent as err:
        raise LedgerError(err.reason) from err
    if not priced:
        raise LedgerError("no real-time price applies to this event; hold an amount instead")
    # Priced from the period's running total, as the event itself would be debited now.
    return cost


async def release_hold(db: Database, hold_id: str) -> HoldRow:
    async with db.read_engine.connect() as conn:
        owner = (
            await conn.execute(select(t.holds.c.customer_id).where(t.holds.c.id == hold_id))
        ).scalar_one_or_none()
    if owner is None:
        raise NotFound(f"no hold {hold_id!r}")

    async def work(account: Account) -> HoldRow:
        await expire_due(account)
        row = (await account.conn.execute(select(t.holds).where(t.holds.c.id == hold_id))).one()
        return release(account, account.writes.holds.get(hold_id) or HoldRow.of(row))

    return await in_account(db, work, customer_id=owner)


async def expire(db: Database, external_id: str) -> list[GrantRow]:
    """Expire due grants and holds of one customer (the workflow's expiry timer calls this)."""
    return await in_account(db, expire_due, external_id=external_id)


async def sweep_expired_holds(db: Database, limit: int = 100) -> int:
    """Release holds past their TTL (the relay runs this), so held funds come back on time."""
    async with db.read_engine.connect() as conn:
        rows = await conn.execute(
            select(t.holds.c.customer_id)
            .where(t.holds.c.status == "active", t.holds.c.expires_at <= utcnow())
            .distinct()
            .limit(limit)
        )
        customer_ids = [r[0] for r in rows]

    async def work(account: Account) -> None:
        await expire_due(account)
        if account.held == 0:
            # Holds fully used by events still count as active until their TTL.
            await expire_holds(account)

    for customer_id in customer_ids:
        await in_account(db, work, customer_id=customer_id)
    return len(customer_ids)
