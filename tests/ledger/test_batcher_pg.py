"""Group commit on PostgreSQL: concurrent requests sharing ledger transactions give every
request its own correct results, debit each id once, and cannot deadlock."""

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, func, select

from creditgate.checks.ledger import check
from creditgate.ledger import service
from creditgate.ledger.batcher import IngestBatcher
from creditgate.ledger.usage import EventIn, UsageResult
from creditgate.models import LedgerEntry
from tests.ledger.support import Ledger, migrated_ledger
from tests.support.plans import CALL_PRICE

REQUESTS = 400
CUSTOMERS = 6


@pytest.fixture
async def ledger(pg_url: str) -> AsyncIterator[Ledger]:
    async with migrated_ledger(pg_url, CUSTOMERS, pool_size=20, max_overflow=20) as made:
        yield made


async def test_concurrent_requests_share_transactions_correctly(ledger: Ledger) -> None:
    for customer in ledger.customers:
        await ledger.grant("100.00", customer)
    rng = random.Random(3)
    # Requests of 1–5 events over several customers each, with ids repeated across requests
    # (another request's, or one already sent), in random arrival order.
    requests: list[list[EventIn]] = []
    for r in range(REQUESTS):
        events = []
        for k in range(rng.randint(1, 5)):
            customer = rng.choice(ledger.customers)
            event_id = f"r{r}-{k}" if rng.random() > 0.2 else f"r{rng.randrange(REQUESTS)}-0"
            events.append(EventIn(id=event_id, customer=customer, event_type="api_call"))
        requests.append(events)
    batcher = IngestBatcher(ledger.db, concurrency=4)

    answers = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit(events) for events in requests)), timeout=120
    )

    debited: Counter[tuple[str, str]] = Counter()
    for events, results in zip(requests, answers, strict=True):
        assert [r.id for r in results] == [e.id for e in events]
        for event, result in zip(events, results, strict=True):
            assert result.status in ("debited", "duplicate"), result
            assert result.cost == CALL_PRICE
            if result.status == "debited":
                debited[(event.customer, event.id)] += 1
    assert set(debited.values()) == {1}
    distinct = {(e.customer, e.id) for events in requests for e in events}
    assert set(debited) == distinct

    for customer in ledger.customers:
        ours = sum(1 for c, _ in distinct if c == customer)
        wallet = await ledger.wallet(customer)
        assert wallet.balance == Decimal("100.00") - ours * CALL_PRICE
    async with ledger.db.session() as session:
        debits = (
            await session.exec(
                select(func.count())
                .select_from(LedgerEntry)
                .where(col(LedgerEntry.kind) == "debit")
            )
        ).one()
    assert debits == len(distinct)
    assert await check(ledger.db) == []


async def test_rejections_stay_per_event_inside_a_shared_batch(ledger: Ledger) -> None:
    await ledger.grant("1.00")
    batcher = IngestBatcher(ledger.db)
    ok: list[UsageResult] = await batcher.submit(
        [EventIn(id="fine", customer=ledger.customer, event_type="api_call")]
    )
    assert ok[0].status == "debited"
    # An unknown customer is a per-event rejection, not a failure of the batch.
    mixed = await asyncio.gather(
        batcher.submit([EventIn(id="x", customer="nobody", event_type="api_call")]),
        batcher.submit([EventIn(id="y", customer=ledger.customer, event_type="api_call")]),
    )
    assert mixed[0][0].status == "rejected" and "unknown customer" in (mixed[0][0].reason or "")
    assert mixed[1][0].status == "debited"
    assert await check(ledger.db) == []


@pytest.mark.parametrize("transactions", [1, 3])
async def test_no_more_transactions_in_flight_than_configured(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, transactions: int
) -> None:
    await ledger.grant("100.00")
    in_flight = 0
    most = 0
    real_ingest = service.ingest

    async def counted(*args: Any, **kwargs: Any) -> list[UsageResult]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await real_ingest(*args, **kwargs)
        finally:
            in_flight -= 1

    monkeypatch.setattr(service, "ingest", counted)
    # One event per transaction, so that every queued request wants a transaction of its own.
    batcher = IngestBatcher(ledger.db, max_events=1, concurrency=transactions)
    requests = [
        [EventIn(id=f"t{i}", customer=ledger.customer, event_type="api_call")] for i in range(60)
    ]
    answers = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit(events) for events in requests)), timeout=60
    )
    assert [a[0].status for a in answers] == ["debited"] * 60
    assert most == transactions
    assert await check(ledger.db) == []


async def test_large_requests_run_at_once_in_their_own_transactions(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one group commit in flight, requests of ``solo_events`` or more do not queue
    behind it (nor behind each other): they overlap, up to ``solo_limit`` at once."""
    await ledger.grant("100.00")
    in_flight = 0
    most = 0
    sizes: list[int] = []
    real_ingest = service.ingest

    async def counted(db: Any, events: list[EventIn], *args: Any) -> list[UsageResult]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        sizes.append(len(events))
        try:
            return await real_ingest(db, events, *args)
        finally:
            in_flight -= 1

    monkeypatch.setattr(service, "ingest", counted)
    batcher = IngestBatcher(ledger.db, concurrency=1, solo_events=5, solo_limit=3)
    requests = [
        [
            EventIn(id=f"r{r}-e{e}", customer=ledger.customer, event_type="api_call")
            for e in range(5)
        ]
        for r in range(8)
    ]
    answers = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit(events) for events in requests)), timeout=60
    )
    assert [r.status for a in answers for r in a] == ["debited"] * 40
    assert sizes == [5] * 8  # each in a transaction of its own
    assert most == 3
    assert await check(ledger.db) == []
