"""No request waits unboundedly behind one customer's lock: the upcoming statement takes none,
and on PostgreSQL a lock wait runs out (``lock_timeout``) into a retryable 503 for that
customer's requests only."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from sqlalchemy import text

from creditgate.checks.ledger import check
from creditgate.ledger import service
from creditgate.ledger.batcher import IngestBatcher
from creditgate.ledger.errors import Busy
from creditgate.ledger.usage import EventIn
from tests.ledger.support import Ledger, make_ledger, serve_api

D = Decimal
LOCK_TIMEOUT_MS = 300


@pytest.fixture
async def ledger(db_url: str) -> AsyncIterator[Ledger]:
    made = await make_ledger(db_url, customers=2, lock_timeout_ms=LOCK_TIMEOUT_MS)
    yield made
    await made.db.dispose()


@asynccontextmanager
async def locked(ledger: Ledger, external_id: str) -> AsyncIterator[None]:
    """Another transaction holding the customer's row (SQLite: its one write lock)."""
    async with ledger.db.engine.connect() as conn:
        await conn.begin()
        await conn.execute(
            text(
                "UPDATE customers SET name = name WHERE external_id = :who"
                if ledger.db.is_sqlite
                else "SELECT id FROM customers WHERE external_id = :who FOR UPDATE"
            ),
            {"who": external_id},
        )
        yield
        await conn.rollback()


async def test_the_upcoming_statement_does_not_wait_for_the_customers_lock(
    ledger: Ledger,
) -> None:
    await ledger.grant("1")
    assert await ledger.calls("c1") == ["debited"]
    async with serve_api(ledger) as http, locked(ledger, ledger.customer):
        response = await asyncio.wait_for(
            http.get(f"/v1/customers/{ledger.customer}/statements/upcoming"), timeout=10
        )
    assert response.status_code == 200, response.text
    upcoming = response.json()
    assert upcoming["realtime_debits"] == "0.01"
    assert upcoming["closing_balance"] == "0.99"
    assert await check(ledger.db) == []


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_lock_wait_ends_in_a_503_for_that_customer_only(ledger: Ledger) -> None:
    stuck, free = ledger.customers
    for customer in ledger.customers:
        await ledger.grant("1", customer)
    async with serve_api(ledger) as http, locked(ledger, stuck):

        async def send(customer: str, event_id: str) -> tuple[int, dict[str, object]]:
            event = {"id": event_id, "customer": customer, "event_type": "api_call"}
            response = await http.post("/v1/events", json={"events": [event]})
            return response.status_code, response.json()

        answers = await asyncio.wait_for(
            asyncio.gather(send(stuck, "s1"), send(free, "f1"), send(free, "f2")), timeout=20
        )
    (stuck_status, stuck_body), *others = answers
    assert stuck_status == 503, stuck_body
    assert stuck_body["error"]["type"] == "ledger_busy"  # type: ignore[index]
    assert [status for status, _ in others] == [200, 200]
    assert (await ledger.wallet(stuck)).balance == D(1)
    assert (await ledger.wallet(free)).balance == D("0.98")

    # Group commit: the customers sharing a batch with the stuck one are still debited.
    batcher = IngestBatcher(ledger.db, concurrency=1)
    async with locked(ledger, stuck):
        shared = await asyncio.wait_for(
            asyncio.gather(
                batcher.submit([EventIn(id="s2", customer=stuck, event_type="api_call")]),
                batcher.submit([EventIn(id="f3", customer=free, event_type="api_call")]),
                *(
                    batcher.submit([EventIn(id=f"s2-{n}", customer=stuck, event_type="api_call")])
                    for n in range(8)
                ),
                return_exceptions=True,
            ),
            timeout=20,
        )
    assert isinstance(shared[0], Busy) and all(isinstance(a, Busy) for a in shared[2:])
    assert not isinstance(shared[1], BaseException) and shared[1][0].status == "debited"
    # Transactions run through SQLAlchemy (holds, grants, closes) are bounded the same way.
    async with locked(ledger, stuck):
        with pytest.raises(Busy):
            await asyncio.wait_for(
                service.hold(ledger.db, stuck, amount=D("0.1"), ttl_seconds=60), timeout=20
            )
    assert await ledger.calls("s3", external_id=stuck) == ["debited"]  # the lock is gone
    assert await check(ledger.db) == []
