"""The PostgreSQL hot transaction (``creditgate.ledger.pg.transaction``): begun and ended on
the asyncpg connection, with SQLAlchemy statements (holds, the outbox) in a savepoint."""

from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from creditgate.ledger import pg, reads, service
from creditgate.ledger.writes import Writes
from tests.ledger.support import Ledger, migrated_ledger


@pytest.fixture
async def one_connection(pg_url: str) -> AsyncIterator[Ledger]:
    """A ledger whose pool holds a single connection: every transaction reuses it."""
    async with migrated_ledger(pg_url, customers=1, pool_size=1, max_overflow=0) as made:
        yield made


async def _fail_after_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    flush = Writes.flush

    async def flush_then_fail(self: Writes, conn: AsyncConnection) -> None:
        await flush(self, conn)
        raise RuntimeError("after the writes, before the commit")

    monkeypatch.setattr(Writes, "flush", flush_then_fail)


async def test_a_failure_before_commit_writes_nothing_and_the_connection_stays_usable(
    one_connection: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = one_connection
    await ledger.grant("1.00")
    hold = await service.hold(ledger.db, ledger.customer, amount=Decimal("0.50"), ttl_seconds=60)
    await _fail_after_flush(monkeypatch)
    # The hold lookup and the hold's update run through SQLAlchemy, inside a savepoint.
    with pytest.raises(RuntimeError, match="before the commit"):
        await ledger.calls("e1", "e2", hold_id=hold.id)
    monkeypatch.undo()

    wallet = await ledger.wallet()
    assert (wallet.balance, wallet.held) == (Decimal("1.00"), Decimal("0.50"))
    assert [e.kind for e in await ledger.entries()] == ["grant"]
    assert (await ledger.get_hold(hold.id)).remaining == Decimal("0.50")

    # The same (only) connection serves the next transaction, and it commits.
    assert await ledger.calls("e1", "e2", hold_id=hold.id) == ["debited", "debited"]
    wallet = await ledger.wallet()
    assert (wallet.balance, wallet.held) == (Decimal("0.98"), Decimal("0.48"))


async def test_cut_off_in_the_hot_transaction_writes_status_and_outbox(
    one_connection: Ledger,
) -> None:
    ledger = one_connection
    await ledger.grant("0.02")
    assert await ledger.calls("a", "b", "c") == ["debited"] * 3
    customer, wallet = await ledger.account()
    assert (customer.status, wallet.entitled) == ("cut_off", False)
    assert wallet.balance == Decimal("-0.01")
    assert "zero" in await ledger.outbox()


async def _end_other_connections(pg_url: str) -> int:
    """End every other connection to the database, as a server restart would."""
    other = await asyncpg.connect(pg_url)
    try:
        ended = await other.fetchval(
            "SELECT count(*) FROM pg_stat_activity, pg_terminate_backend(pid) "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await other.close()
    return int(ended)


async def test_a_dead_connection_is_replaced_and_the_batch_runs_once(
    one_connection: Ledger, pg_url: str
) -> None:
    ledger = one_connection
    await ledger.grant("1.00")
    assert await ledger.calls("before") == ["debited"]
    # The server ends the pooled connection (as a restart or an idle timeout would).
    assert await _end_other_connections(pg_url) == 1
    assert await ledger.calls("after") == ["debited"]
    wallet = await ledger.wallet()
    assert wallet.balance == Decimal("0.98")


async def test_a_balance_read_on_a_dead_connection_is_answered_on_a_new_one(
    one_connection: Ledger, pg_url: str
) -> None:
    ledger = one_connection
    await ledger.grant("1.00")
    assert await ledger.calls("before") == ["debited"]
    found = await reads.balance(ledger.db, ledger.customer)
    assert found is not None and found[0].balance == Decimal("0.99")
    assert await _end_other_connections(pg_url) == 1
    found = await reads.balance(ledger.db, ledger.customer)
    assert found is not None and found[0].balance == Decimal("0.99")
    # The pool's one connection is the new one, and it is back in the pool.
    assert await ledger.calls("after") == ["debited"]
    found = await reads.balance(ledger.db, ledger.customer)
    assert found is not None and found[0].balance == Decimal("0.98")


async def test_the_duplicate_check_looks_ids_up_instead_of_reading_the_history(
    one_connection: Ledger,
) -> None:
    """Statements run with generic plans (``creditgate.db``); the hot read's plan must still
    look each (customer, event id) pair up in the unique index, or every event would read
    the customer's whole history."""
    ledger = one_connection
    await ledger.grant("100.00")
    assert await ledger.calls("e1", "e2") == ["debited", "debited"]
    customer_id = (await ledger.customer_row()).id
    async with ledger.db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        assert await raw.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        # A customer with a long history (rows written directly: only the plan matters here).
        await raw.execute(
            "INSERT INTO usage_events (customer_id, event_id, event_type, timestamp,"
            " received_at, dimensions, quantity, cost, properties)"
            " SELECT $1, 'old-' || g, 'api_call', now(), now(), '{}', 1, 0.01, '{}'"
            " FROM generate_series(1, 20000) g",
            customer_id,
        )
        await raw.execute("ANALYZE usage_events")
        await raw.execute(f"PREPARE hot_load(integer[], integer[], text[]) AS {pg._LOAD}")
        rows = await raw.fetch("EXPLAIN EXECUTE hot_load('{1}', '{1}', '{h1}')")
        await raw.execute("DEALLOCATE hot_load")
    plan = "\n".join(r[0] for r in rows)
    assert "Index Scan using uq_usage_events_customer_event on usage_events" in plan, plan
    assert "Heap Scan on usage_events" not in plan, plan
    assert "Seq Scan on usage_events" not in plan, plan
