"""The outbox relay: durable, at least once, de-duplicated, in order; and the hold sweep.

The stack's own relay serves the stack's database. Tests that need a relay they control use a
second database of the same kind whose customers point at workflows of the stack.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import text, update
from temporalio.api.enums.v1 import EventType

from creditgate.checks.ledger import check
from creditgate.devtools.cli import main
from creditgate.infra.db import Database
from creditgate.ledger import customers, service
from creditgate.models import Hold, OutboxMessage
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.workflows.support import (
    grant,
    kinds,
    outbox_rows,
    sign_up,
    state_when,
    stored,
    workflow,
    workflow_state,
)
from worker.relay import OutboxRelay
from workflows.customer import customer_workflow_id


@pytest.fixture
async def other_db(db_url: str) -> AsyncIterator[Database]:
    """A second ledger database, of the stack's kind, that no running relay reads."""
    db = Database(db_url)
    yield db
    await db.dispose()


async def mirror_customer(db: Database, external_id: str) -> int:
    """The customer in ``db``, its outbox addressed to the stack's workflow for them."""
    created = await customers.register_customer(
        db,
        external_id=external_id,
        name="Jane Doe",
        email="jane@example.com",
        plan="default",
        stripe_customer_id="cus_mirror",
        workflow_id=customer_workflow_id(external_id),
    )
    assert created.customer.id is not None
    return created.customer.id


async def write_threshold_rows(
    db: Database, external_id: str, customer_id: int, count: int = 1
) -> list[str]:
    """Outbox rows written by hand (as the ledger would), one transaction; their message ids."""
    ids = [f"threshold-{uuid.uuid4().hex}" for _ in range(count)]
    async with db.transaction() as session:
        for n, message_id in enumerate(ids):
            session.add(
                OutboxMessage(
                    message_id=message_id,
                    customer_id=customer_id,
                    workflow_id=customer_workflow_id(external_id),
                    kind="threshold",
                    payload={"available": str(n), "threshold": "100"},
                )
            )
    return ids


async def mark_unsent(db: Database) -> None:
    async with db.transaction() as session:
        await session.exec(update(OutboxMessage).values(sent_at=None))


async def ledger_notice_signals(stack: Stack, external_id: str) -> int:
    signals = [
        event.workflow_execution_signaled_event_attributes.signal_name
        async for event in workflow(stack, external_id).fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    return signals.count("ledger_notice")


async def test_unsent_rows_wait_for_a_relay_and_resends_change_nothing(
    stack: Stack, other_db: Database, unique_id: str
) -> None:
    await sign_up(stack, unique_id)
    customer_id = await mirror_customer(other_db, unique_id)
    await grant(other_db, unique_id, "1.00")  # commits a `restored` row
    await write_threshold_rows(other_db, unique_id, customer_id)

    # Committed, but no relay reads this database: nothing has reached the workflow.
    rows = await outbox_rows(other_db, unique_id)
    assert [(r.kind, r.sent_at) for r in rows] == [("restored", None), ("threshold", None)]
    state = await workflow_state(stack, unique_id)
    assert (state.status, state.entitled) == ("active", False)
    assert kinds(state, "restored", "threshold") == []

    relay = OutboxRelay(other_db, stack.client, poll_interval=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        state = await state_when(
            stack, unique_id, lambda s: len(kinds(s, "threshold")) == 1, "delivery"
        )
        assert state.entitled is True
        assert kinds(state, "restored", "threshold") == ["restored", "threshold"]
        await eventually(
            lambda: outbox_rows(other_db, unique_id),
            lambda found: all(r.sent_at is not None for r in found),
            what="rows marked sent",
        )
    finally:
        stop.set()
        await running

    # As after a crash between signal and commit: the same rows go out twice more.
    for _ in range(2):
        await mark_unsent(other_db)
        assert await relay.relay_once() == 2
    # A fresh row behind them: once it shows, the workflow has handled the re-sends.
    (sentinel,) = await write_threshold_rows(other_db, unique_id, customer_id)
    assert await relay.relay_once() == 1
    state = await state_when(
        stack, unique_id, lambda s: sentinel in s.processed_message_ids, "the sentinel"
    )
    assert await ledger_notice_signals(stack, unique_id) == 2 + 2 + 2 + 1
    assert kinds(state, "restored", "threshold", "cut_off") == [
        "restored",
        "threshold",
        "threshold",
    ]
    assert (state.status, state.entitled) == ("active", True)
    for row in rows:
        assert state.processed_message_ids.count(row.message_id) == 1


async def test_row_for_a_missing_workflow_is_retried_not_dropped(
    stack: Stack, other_db: Database, unique_id: str
) -> None:
    await mirror_customer(other_db, unique_id)  # no workflow for this customer yet
    await grant(other_db, unique_id, "1.00")
    relay = OutboxRelay(other_db, stack.client)

    assert await relay.relay_once() == 0
    (row,) = await outbox_rows(other_db, unique_id)
    assert (row.sent_at, row.attempts) == (None, 1)
    assert row.last_error is not None and "not found" in row.last_error
    # Backing off: an immediate second pass leaves the row alone.
    assert await relay.relay_once() == 0
    assert (await outbox_rows(other_db, unique_id))[0].attempts == 1

    await sign_up(stack, unique_id)
    assert await eventually(relay.relay_once, lambda sent: sent == 1, what="a retry") == 1
    (row,) = await outbox_rows(other_db, unique_id)
    assert row.sent_at is not None
    state = await state_when(stack, unique_id, lambda s: s.entitled, "the late delivery")
    assert kinds(state, "restored") == ["restored"]


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_three_relays_on_postgres_send_each_row_once_and_in_order(
    stack: Stack, other_db: Database, unique_id: str
) -> None:
    count = 60
    await sign_up(stack, unique_id)
    customer_id = await mirror_customer(other_db, unique_id)
    ids = await write_threshold_rows(other_db, unique_id, customer_id, count=count)

    stop = asyncio.Event()
    relays = [OutboxRelay(other_db, stack.client, poll_interval=0.01, batch_size=5) for _ in "abc"]
    running = [asyncio.create_task(relay.run(stop)) for relay in relays]
    try:
        state = await state_when(
            stack, unique_id, lambda s: len(kinds(s, "threshold")) == count, "all notices"
        )
        await eventually(
            lambda: outbox_rows(other_db, unique_id),
            lambda found: all(r.sent_at is not None for r in found),
            what="rows marked sent",
        )
    finally:
        stop.set()
        await asyncio.gather(*running)

    assert await ledger_notice_signals(stack, unique_id) == count
    assert [m for m in state.processed_message_ids if m.startswith("threshold-")] == ids
    available = [e.message.split()[1] for e in state.timeline if e.kind == "threshold"]
    assert available == [str(n) for n in range(count)]


async def test_expired_hold_is_released_by_the_relay_sweep(stack: Stack, unique_id: str) -> None:
    await sign_up(stack, unique_id)
    await grant(stack.db, unique_id, "1.00")
    hold = await service.hold(stack.db, unique_id, amount=Decimal("0.40"), ttl_seconds=1)
    assert (await stored(stack.db, unique_id)).wallet.held == Decimal("0.40")

    wallet = await eventually(
        lambda: stored(stack.db, unique_id),
        lambda found: found.wallet.held == 0,
        what="the hold released",
    )
    assert wallet.wallet.balance == Decimal("1.00")
    async with stack.db.session() as session:
        released = await session.get(Hold, hold.id)
    assert released is not None
    assert (released.status, released.remaining) == ("expired", Decimal(0))
    assert released.closed_at is not None and released.closed_at >= hold.expires_at


class GatedRelay(OutboxRelay):
    """The real relay, its signals held until the test opens the gate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signalling = asyncio.Event()
        self.gate = asyncio.Event()

    async def _signal(self, row: OutboxMessage) -> Any:
        self.signalling.set()
        await self.gate.wait()
        return await super()._signal(row)


async def open_transactions(db: Database) -> list[str]:
    """Other connections of this database with a transaction open and nothing running."""
    async with db.write() as conn:
        rows = await conn.execute(
            text(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
            )
        )
        return [str(state) for (state,) in rows.all()]


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_no_transaction_is_open_while_the_relay_signals(
    stack: Stack, other_db: Database, unique_id: str
) -> None:
    await sign_up(stack, unique_id)
    customer_id = await mirror_customer(other_db, unique_id)
    await write_threshold_rows(other_db, unique_id, customer_id, count=3)
    relay = GatedRelay(other_db, stack.client)
    passing = asyncio.create_task(relay.relay_once())
    try:
        await asyncio.wait_for(relay.signalling.wait(), timeout=10)
        assert await open_transactions(other_db) == []
        # The rows are claimed, not locked: a second relay skips them, and an operator's
        # update of them does not wait for the signals.
        assert await OutboxRelay(other_db, stack.client).relay_once() == 0
        async with other_db.write() as conn:
            await conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            await conn.execute(update(OutboxMessage).values(last_error="looked at"))
    finally:
        relay.gate.set()
    assert await passing == 3
    rows = await outbox_rows(other_db, unique_id)
    assert all(r.sent_at is not None and r.claimed_until is None for r in rows)


async def test_rows_of_a_missing_workflow_are_dead_lettered_then_retried(
    stack: Stack, other_db: Database, unique_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_id = await mirror_customer(other_db, unique_id)  # no workflow for it
    await grant(other_db, unique_id, "1.00")  # a `restored` row
    relay = OutboxRelay(other_db, stack.client, min_backoff=0, max_attempts=3)
    for _ in range(3):
        assert await relay.relay_once() == 0
    (row,) = await outbox_rows(other_db, unique_id)
    assert (row.attempts, row.sent_at) == (3, None) and row.dead_at is not None
    # Given up: later passes leave it, and a later row of the workflow waits behind it.
    (later,) = await write_threshold_rows(other_db, unique_id, customer_id)
    assert await relay.relay_once() == 0
    [violation] = await check(other_db)
    assert violation.invariant == 9 and f"--id {row.id}" in violation.message

    await sign_up(stack, unique_id)
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", other_db.url)
    assert await asyncio.to_thread(main, ["outbox", "retry", "--id", str(row.id)]) == 0
    assert await relay.relay_once() == 2
    state = await state_when(stack, unique_id, lambda s: later in s.processed_message_ids, "both")
    assert kinds(state, "restored", "threshold") == ["restored", "threshold"]
    assert await check(other_db) == []
