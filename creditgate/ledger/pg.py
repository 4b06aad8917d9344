"""The ledger's hot statements on PostgreSQL, run on the raw asyncpg connection.

Only how statements run differs from SQLite (SQLAlchemy Core there); what they read and
write is decided by the same code. SQLAlchemy's statement layer (bind and result processing,
the adapter's cursor emulation) cost more API CPU per statement than PostgreSQL's own work,
and folding the reads into one statement and the writes into another saves round trips.
They run inside the transaction SQLAlchemy began: its lock statement always runs first.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from creditgate.ledger import tables as t
from creditgate.ledger.bulk import Unnest
from creditgate.ledger.tables import GrantRow
from creditgate.money import normalize

if TYPE_CHECKING:
    from creditgate.ledger.writes import Writes

_LOAD = """
SELECT
  ARRAY(SELECT g FROM grants g
        WHERE g.customer_id = ANY($1::integer[]) AND g.status = 'active') AS grants,
  ARRAY(SELECT ROW(e.customer_id, e.event_id, e.cost) FROM usage_events e
        WHERE e.customer_id = ANY($1::integer[]) AND e.event_id = ANY($2::text[])) AS seen
"""

EVENT_COLUMNS = [c.name for c in t.usage_events.columns if c.name != "id"]
ENTRY_COLUMNS = [c.name for c in t.ledger_entries.columns if c.name != "id"]
_EVENTS = Unnest(t.usage_events, EVENT_COLUMNS, first=1)
_ENTRIES = Unnest(t.ledger_entries, ENTRY_COLUMNS, first=_EVENTS.next)
_GRANTS = Unnest(t.grants, ["id", "remaining", "status", "expired_amount"], first=_ENTRIES.next)
_WALLETS = Unnest(
    t.wallets, ["customer_id", "balance", "held", "entitled", "updated_at"], first=_GRANTS.next
)
# Every hot write of a transaction in one statement (empty arrays write nothing).
_WRITE = f"""
WITH new_events AS ({_EVENTS.insert()}),
new_entries AS ({_ENTRIES.insert()}),
grant_rows AS (
  UPDATE grants SET remaining = u.remaining, status = u.status, expired_amount = u.expired_amount
  FROM {_GRANTS.source} WHERE grants.id = u.id
),
wallet_rows AS (
  UPDATE wallets SET balance = u.balance, held = u.held, entitled = u.entitled,
    updated_at = u.updated_at
  FROM {_WALLETS.source} WHERE wallets.customer_id = u.customer_id
)
SELECT 1
"""
# A connection lost mid-transaction: raised as SQLAlchemy would, so the transaction runs
# again (``creditgate.ledger.retry``) or the API answers 503.
_DEAD = (OSError, asyncpg.ConnectionDoesNotExistError, asyncpg.PostgresConnectionError)


@asynccontextmanager
async def driver(
    conn: AsyncConnection, in_transaction: bool = True
) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection under ``conn``; ``in_transaction``: inside the transaction
    SQLAlchemy began (else a read outside any transaction: no BEGIN and ROLLBACK)."""
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None and raw.is_in_transaction() == in_transaction
    try:
        yield raw
    except _DEAD as err:
        await conn.invalidate()
        raise OperationalError("ledger statement", None, err, connection_invalidated=True) from err


async def grants_and_seen(
    conn: AsyncConnection, customer_ids: list[int], event_ids: list[str]
) -> tuple[dict[int, list[GrantRow]], dict[int, dict[str, Decimal]]]:
    """Active grants per customer, and which of ``event_ids`` each already recorded (with
    their cost): one round trip."""
    async with driver(conn) as raw:
        row = await raw.fetchrow(_LOAD, customer_ids, event_ids)
    assert row is not None
    grants: dict[int, list[GrantRow]] = {cid: [] for cid in customer_ids}
    for g in row["grants"]:
        grants[g["customer_id"]].append(_grant(g))
    seen: dict[int, dict[str, Decimal]] = {}
    for customer_id, event_id, cost in row["seen"]:
        seen.setdefault(customer_id, {})[event_id] = normalize(cost)
    return grants, seen


def _grant(record: Any) -> GrantRow:
    return GrantRow(
        id=record["id"],
        amount=normalize(record["amount"]),
        remaining=normalize(record["remaining"]),
        priority=record["priority"],
        effective_at=record["effective_at"],
        expires_at=record["expires_at"],
        source=record["source"],
        reason=record["reason"],
        reference=record["reference"],
        status=record["status"],
        expired_amount=normalize(record["expired_amount"]),
        created_at=record["created_at"],
    )


async def write(conn: AsyncConnection, writes: "Writes") -> None:
    """New events and ledger entries, changed grants and wallets, in one statement."""
    grants = [vars(g) for g in writes.grants.values()]
    wallets = [{**w, "customer_id": w["wallet_customer_id"]} for w in writes.wallets]
    arrays = [
        *_EVENTS.values(writes.events),
        *_ENTRIES.values(writes.entries),
        *_GRANTS.values(grants),
        *_WALLETS.values(wallets),
    ]
    async with driver(conn) as raw:
        await raw.execute(_WRITE, *arrays)
