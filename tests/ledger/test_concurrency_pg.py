"""Concurrency: many clients on one wallet, racing holds, and lock waits (PostgreSQL; the hold
race also on a SQLite file). Synchronisation is by the database itself, never by sleeping."""

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.checks.ledger import check
from creditgate.ledger import service
from creditgate.ledger.errors import InsufficientFunds
from creditgate.ledger.tables import HoldRow
from creditgate.ledger.usage import EventIn, UsageResult
from creditgate.models import CustomerStatus, Hold, LedgerEntry
from tests.ledger.support import Ledger, migrated_ledger
from tests.support.plans import CALL_PRICE
from tests.support.waiting import eventually

D = Decimal
CLIENTS = 32
EVENTS_PER_CLIENT = 200
REPEAT_SHARE = 0.10
BATCH = 20


@pytest.fixture
async def pg_ledger(pg_url: str) -> AsyncIterator[Ledger]:
    # One connection per concurrent client (and then some) so none waits for the pool.
    async with migrated_ledger(pg_url, customers=2, pool_size=40, max_overflow=80) as made:
        yield made


@pytest.fixture
async def sqlite_ledger(sqlite_url: str) -> AsyncIterator[Ledger]:
    async with migrated_ledger(sqlite_url, customers=1) as made:
        yield made


def client_plans(seed: int = 7) -> list[list[str]]:
    """Each client's 200 ids: 180 of its own, 20 repeats of ids any client sends."""
    rng = random.Random(seed)
    fresh_per_client = EVENTS_PER_CLIENT - int(EVENTS_PER_CLIENT * REPEAT_SHARE)
    own = [[f"c{c}-e{i}" for i in range(fresh_per_client)] for c in range(CLIENTS)]
    everyone = [event_id for ids in own for event_id in ids]
    plans = []
    for c in range(CLIENTS):
        ids = own[c] + rng.sample(everyone, EVENTS_PER_CLIENT - fresh_per_client)
        rng.shuffle(ids)
        plans.append(ids)
    return plans


async def send(ledger: Ledger, ids: list[str], singles: int) -> list[UsageResult]:
    """The first ``singles`` ids one call each, the rest in batches of ``BATCH``."""
    results: list[UsageResult] = []

    def event(event_id: str) -> EventIn:
        return EventIn(id=event_id, customer=ledger.customer, event_type="api_call")

    for event_id in ids[:singles]:
        results += await service.ingest(ledger.db, [event(event_id)])
    rest = ids[singles:]
    for start in range(0, len(rest), BATCH):
        results += await service.ingest(ledger.db, [event(i) for i in rest[start : start + BATCH]])
    return results


async def test_many_clients_one_wallet_debit_each_id_once(pg_ledger: Ledger) -> None:
    ledger = pg_ledger
    # 5,760 distinct calls cost 57.60: the wallet crosses the threshold and zero on the way.
    await ledger.grant("50.00")
    await ledger.set_recharge_threshold(D("10"))
    plans = client_plans()
    distinct = {event_id for ids in plans for event_id in ids}
    assert len(distinct) == CLIENTS * (EVENTS_PER_CLIENT - EVENTS_PER_CLIENT // 10)

    gate = asyncio.Event()

    async def client(number: int) -> list[UsageResult]:
        await gate.wait()  # all start together
        return await send(ledger, plans[number], singles=number % 4 * 5)

    tasks = [asyncio.create_task(client(c)) for c in range(CLIENTS)]
    gate.set()
    results = [r for batch in await asyncio.gather(*tasks) for r in batch]

    assert len(results) == CLIENTS * EVENTS_PER_CLIENT
    statuses = Counter(r.status for r in results)
    assert statuses["rejected"] == 0
    assert statuses["debited"] == len(distinct)
    assert statuses["duplicate"] == len(results) - len(distinct)
    debited_ids = [r.id for r in results if r.status == "debited"]
    assert sorted(debited_ids) == sorted(distinct)
    assert all(r.cost == CALL_PRICE for r in results)

    entries = await ledger.entries()
    per_event = Counter(e.event_id for e in entries if e.kind == "debit")
    assert set(per_event) == distinct
    assert set(per_event.values()) == {1}
    total_cost = -sum((e.amount for e in entries if e.kind == "debit"), D(0))
    assert total_cost == len(distinct) * CALL_PRICE
    customer, wallet = await ledger.account()
    assert wallet.balance == sum((e.amount for e in entries), D(0))
    assert wallet.balance == D("50.00") - len(distinct) * CALL_PRICE
    # Each transaction continued from the previous one's balance.
    assert [e.balance_after for e in entries] == _running(e.amount for e in entries)
    # One lifecycle message per crossing, not one per event.
    assert wallet.debt == D("7.60") and not wallet.entitled
    assert customer.status == CustomerStatus.cut_off
    assert Counter(await ledger.outbox()) == {"restored": 1, "threshold": 1, "zero": 1}
    assert await check(ledger.db) == []


def _running(amounts: Iterable[Decimal]) -> list[Decimal]:
    total, out = D(0), []
    for amount in amounts:
        total += amount
        out.append(total)
    return out


async def hold_race(ledger: Ledger, holds: int = 100) -> None:
    await ledger.grant("10.00")
    gate = asyncio.Event()

    async def one() -> HoldRow | None:
        await gate.wait()
        try:
            return await service.hold(ledger.db, ledger.customer, amount=D("1.00"), ttl_seconds=600)
        except InsufficientFunds:
            return None

    tasks = [asyncio.create_task(one()) for _ in range(holds)]
    gate.set()
    outcomes = await asyncio.gather(*tasks)
    placed = [h for h in outcomes if h is not None]
    assert len(placed) == 10
    assert outcomes.count(None) == holds - 10
    wallet = await ledger.wallet()
    assert wallet.held == D("10.00")
    assert wallet.available == D(0)
    assert wallet.balance == D("10.00")
    async with ledger.db.session() as session:
        active = (
            await session.exec(
                select(func.count()).select_from(Hold).where(Hold.status == "active")
            )
        ).one()
    assert active == 10
    assert await check(ledger.db) == []


async def test_concurrent_holds_never_exceed_available_pg(pg_ledger: Ledger) -> None:
    await hold_race(pg_ledger)


async def test_concurrent_holds_never_exceed_available_sqlite(sqlite_ledger: Ledger) -> None:
    await hold_race(sqlite_ledger)


# -- what a transaction sees after waiting for the wallet lock ---------------------------------


async def lock_waiters(ledger: Ledger) -> int:
    async with ledger.db.session() as session:
        result = await (await session.connection()).execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        )
        return int(result.scalar_one())


async def lock_wallet(session: AsyncSession, customer_id: int | None) -> None:
    connection = await session.connection()
    await connection.execute(
        text("SELECT id FROM wallets WHERE customer_id = :c FOR UPDATE"), {"c": customer_id}
    )


async def test_status_follows_the_wallet_after_a_lock_wait(pg_ledger: Ledger) -> None:
    """A cut-off and a grant queue for the wallet lock; the grant runs after the cut-off
    committed and must see the customer it cut off (not the row from before its wait)."""
    ledger = pg_ledger
    await ledger.grant("0.01")
    customer = await ledger.customer_row()
    async with ledger.db.transaction() as blocker:
        await lock_wallet(blocker, customer.id)
        cut = asyncio.create_task(ledger.calls("last_cent"))
        await eventually(lambda: lock_waiters(ledger), lambda n: n >= 1, what="ingest waiting")
        restore = asyncio.create_task(ledger.grant("1"))
        await eventually(lambda: lock_waiters(ledger), lambda n: n >= 2, what="grant waiting")
    assert await cut == ["debited"]
    await restore

    customer, wallet = await ledger.account()
    assert wallet.balance == D(1)
    assert wallet.entitled
    assert customer.status == CustomerStatus.active
    assert (await ledger.outbox())[-2:] == ["zero", "restored"]
    assert await check(ledger.db) == []


async def test_cut_off_after_a_lock_wait_behind_a_restore(pg_ledger: Ledger) -> None:
    """The other order: a restoring grant commits while a cutting debit waits."""
    ledger = pg_ledger
    await ledger.grant("0.01")
    assert await ledger.calls("to_zero") == ["debited"]
    assert (await ledger.customer_row()).status == CustomerStatus.cut_off
    customer = await ledger.customer_row()
    async with ledger.db.transaction() as blocker:
        await lock_wallet(blocker, customer.id)
        restore = asyncio.create_task(ledger.grant("0.01"))
        await eventually(lambda: lock_waiters(ledger), lambda n: n >= 1, what="grant waiting")
        cut = asyncio.create_task(ledger.calls("again"))
        await eventually(lambda: lock_waiters(ledger), lambda n: n >= 2, what="ingest waiting")
    await restore
    assert await cut == ["debited"]

    customer, wallet = await ledger.account()
    assert wallet.balance == D(0)
    assert not wallet.entitled
    assert customer.status == CustomerStatus.cut_off
    assert await check(ledger.db) == []


async def test_debits_stay_ordered_under_contention(pg_ledger: Ledger) -> None:
    """Two customers at once: each wallet's entries chain, and nothing crosses wallets."""
    ledger = pg_ledger
    for who in ledger.customers:
        await ledger.grant("5", external_id=who)

    async def burst(who: str, prefix: str) -> None:
        for n in range(10):
            await ledger.calls(*(f"{prefix}{n}-{i}" for i in range(5)), external_id=who)

    await asyncio.gather(*(burst(who, f"{who}-{k}-") for who in ledger.customers for k in range(4)))
    for who in ledger.customers:
        assert (await ledger.wallet(who)).balance == D("5") - 200 * CALL_PRICE
    async with ledger.db.session() as session:
        debits = (
            await session.exec(
                select(func.count())
                .select_from(LedgerEntry)
                .where(col(LedgerEntry.kind) == "debit")
            )
        ).one()
    assert debits == 400
    assert await check(ledger.db) == []
