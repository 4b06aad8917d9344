"""The event stream's store: gap-free per-customer sequences, one event per business key."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from creditgate.events import store
from creditgate.infra.db import Database
from tests.events.support import sign_up


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


async def test_concurrent_writers_get_gap_free_sequences_per_customer(db: Database) -> None:
    await sign_up(db, "alice")
    await sign_up(db, "bob")
    now = datetime.now(UTC)

    await asyncio.gather(
        *(
            store.record(db, who, "grant.created", f"grant:{n}", {"n": n}, now)
            for n in range(16)
            for who in ("alice", "bob")
        )
    )

    for who in ("alice", "bob"):
        # Sequence 1 is the customer.created that registration recorded.
        events = await store.events_after(db, who, after_sequence=1)
        assert [e.sequence for e in events] == list(range(2, 18))
        assert sorted(e.data["n"] for e in events) == list(range(16))
        assert {e.external_id for e in events} == {who}


async def test_the_same_key_recorded_again_is_the_same_event(db: Database) -> None:
    await sign_up(db, "carol")
    now = datetime.now(UTC)

    first = await store.record(db, "carol", "purchase.succeeded", "purchase:p1", {"a": 1}, now)
    again = await asyncio.gather(
        *(
            store.record(db, "carol", "purchase.succeeded", "purchase:p1", {"a": 1}, now)
            for _ in range(8)
        )
    )
    later = await store.record(db, "carol", "purchase.succeeded", "purchase:p2", {"a": 2}, now)

    assert {e.event_id for e in again} == {first.event_id}
    events = await store.events_after(db, "carol")
    assert [(e.sequence, e.type) for e in events] == [
        (1, "customer.created"),
        (2, "purchase.succeeded"),
        (3, "purchase.succeeded"),
    ]
    assert later.sequence == 3
    assert [e.event_id for e in await store.events_after(db, "carol", after_sequence=2)] == [
        later.event_id
    ]


async def test_an_unknown_customer_records_nothing(db: Database) -> None:
    with pytest.raises(store.UnknownCustomer):
        await store.record(db, "nobody", "grant.created", "k", {}, datetime.now(UTC))
