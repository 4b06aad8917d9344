"""The ledger's hot transaction on PostgreSQL, run on the raw asyncpg connection.

Only how statements run differs from SQLite (SQLAlchemy Core there); what they read and
write is decided by the same code. SQLAlchemy's statement and transaction layers (bind and
result processing, the adapter's cursor emulation, greenlet hops) cost more API CPU than
PostgreSQL's own work: measured here, BEGIN, one statement and COMMIT cost 0.75 ms of CPU
through SQLAlchemy and 0.21 ms on the asyncpg connection under it. Folding the reads into
one statement and the writes into another saves round trips.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic_core import to_json
from sqlalchemy import Select, Table
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import greenlet_spawn

from creditgate.infra.db import Database
from creditgate.ledger import tables as t
from creditgate.ledger.tables import GrantRow
from creditgate.values.money import normalize

if TYPE_CHECKING:
    from creditgate.ledger.writes import Writes

_DIALECT = asyncpg_dialect.dialect()
_LOAD = """
SELECT
  ARRAY(SELECT g FROM unnest($1::integer[]) AS c(id)
        JOIN grants g ON g.customer_id = c.id AND g.status = 'active') AS grants,
  ARRAY(SELECT ROW(e.customer_id, e.event_id, e.cost)
        FROM unnest($2::integer[], $3::text[]) AS k(customer_id, event_id)
        JOIN usage_events e ON e.customer_id = k.customer_id AND e.event_id = k.event_id) AS seen
"""


# Columns every row of a transaction shares (``Writes.now``; the rows do not carry them):
# sent once as a parameter (a timestamp costs more to write as JSON and to parse than any
# other field).
_STAMPED = frozenset({"received_at", "created_at"})


def _insert(table: Table, param: int, now_param: int) -> str:
    columns = [c.name for c in table.columns if c.name != "id"]
    values = [f"${now_param}::timestamptz" if c in _STAMPED else c for c in columns]
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(values)} "
        f"FROM json_populate_recordset(NULL::{table.name}, ${param}::json)"
    )


# Every hot write of a transaction in one statement, each set of rows sent as one JSON
# array (encoded in one pass by pydantic-core; Decimals as exact strings): far less Python
# per row than an array parameter per column. Empty arrays write nothing. The planner guesses
# 100 rows for a JSON recordset, enough to scan a small table whole and hash it: the
# ``= ANY`` of the ids to update keeps those UPDATEs on the primary key.
_WRITE = f"""
WITH new_events AS ({_insert(t.usage_events, 1, 7)}),
new_entries AS ({_insert(t.ledger_entries, 2, 7)}),
grant_rows AS (
  UPDATE grants SET remaining = u.remaining, status = u.status, expired_amount = u.expired_amount
  FROM json_populate_recordset(NULL::grants, $3::json) AS u
  WHERE grants.id = u.id AND grants.id = ANY($5::integer[])
),
wallet_rows AS (
  UPDATE wallets SET balance = u.balance, held = u.held, entitled = u.entitled,
    updated_at = u.updated_at
  FROM json_populate_recordset(NULL::wallets, $4::json) AS u
  WHERE wallets.customer_id = u.customer_id AND wallets.customer_id = ANY($6::integer[])
)
SELECT 1
"""
# A connection lost mid-transaction: raised as SQLAlchemy would, so the transaction runs
# again (``creditgate.ledger.retry``) or the API answers 503.
_DEAD = (OSError, asyncpg.ConnectionDoesNotExistError, asyncpg.PostgresConnectionError)


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[AsyncConnection]:
    """A write transaction begun and ended on the asyncpg connection itself.

    The ``AsyncConnection`` yielded stays usable for the statements the ledger runs through
    SQLAlchemy (holds, price counters, the outbox: most transactions need none). The first
    of those opens a savepoint in this transaction (asyncpg nests it), released before the
    commit.
    """
    async with db.engine.connect() as conn:
        async with driver(conn, in_transaction=False) as raw:
            xact = raw.transaction()
            await xact.start()
        committing = False
        try:
            yield conn
            if conn.in_transaction():
                await conn.commit()
            committing = True
            async with driver(conn) as raw:
                await xact.commit()
        except BaseException:
            await _abandon(conn, None if committing else xact)
            raise


async def _abandon(conn: AsyncConnection, xact: Any) -> None:
    """Roll back SQLAlchemy's savepoint if any, then ``xact`` (None: its COMMIT failed,
    which ends it); a connection that could not be rolled back, or is left in a transaction,
    is not given back to the pool."""
    if conn.invalidated:
        return
    try:
        if conn.in_transaction():
            await conn.rollback()
        if xact is not None:
            await xact.rollback()
    except Exception:
        await conn.invalidate()
        return
    raw = (await conn.get_raw_connection()).driver_connection
    if raw is None or raw.is_closed() or raw.is_in_transaction():
        await conn.invalidate()


async def lock(
    conn: AsyncConnection, statement: Select[Any], keys: list[Any]
) -> list[dict[str, Any]]:
    """The rows of ``accounts``' lock statement (its one parameter: ``keys``), run here so the
    whole hot transaction stays on this connection; amounts as the Money type reads them."""
    async with driver(conn) as raw:
        rows = await raw.fetch(_rendered(statement), keys)
    return [{k: _as_read(v) for k, v in r.items()} for r in rows]


def _as_read(value: Any) -> Any:
    """A column value as SQLAlchemy would have read it (every numeric here is money)."""
    return normalize(value) if isinstance(value, Decimal) else value


@cache
def _rendered(statement: Select[Any]) -> str:
    return str(statement.compile(dialect=_DIALECT))


@asynccontextmanager
async def driver(
    conn: AsyncConnection, in_transaction: bool = True
) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection under ``conn``; ``in_transaction``: inside a transaction (else
    a read outside any transaction: no BEGIN and ROLLBACK)."""
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None and raw.is_in_transaction() == in_transaction
    try:
        yield raw
    except Exception as err:
        # A connection the server ended may also surface as a protocol-state error.
        if not (isinstance(err, _DEAD) or raw.is_closed()):
            raise
        await conn.invalidate()
        raise OperationalError("ledger statement", None, err, connection_invalidated=True) from err


@asynccontextmanager
async def reader(db: Database) -> AsyncIterator[asyncpg.Connection]:
    """A pooled asyncpg connection for one read outside any transaction.

    Checked out as the pool's raw connection: an ``AsyncConnection`` costs ~190 µs more CPU
    per checkout (greenlet hops both ways, a task to shield its close), more than the
    balance read's own query. Nothing here begins a transaction, so giving it back (the
    pool's rollback on return) has nothing to await.
    """
    fairy = await db.read_engine.raw_connection()
    raw = fairy.driver_connection
    assert raw is not None and not raw.is_in_transaction()
    try:
        yield raw
    except Exception as err:
        if not (isinstance(err, _DEAD) or raw.is_closed()):
            raise
        await greenlet_spawn(fairy.invalidate)
        raise OperationalError("ledger read", None, err, connection_invalidated=True) from err
    finally:
        if fairy.is_valid:
            fairy.close()


async def grants_and_seen(
    conn: AsyncConnection, customer_ids: list[int], pairs: set[tuple[int, str]]
) -> tuple[dict[int, list[GrantRow]], dict[int, dict[str, Decimal]]]:
    """Active grants per customer, and which of ``pairs`` ((customer id, event id))
    are already recorded, with their cost: one round trip. Written as joins on the arrays so
    that the generic plan (``creditgate.db``) looks each pair up in the unique index."""
    async with driver(conn) as raw:
        row = await raw.fetchrow(_LOAD, customer_ids, [c for c, _ in pairs], [e for _, e in pairs])
    assert row is not None
    grants: dict[int, list[GrantRow]] = {cid: [] for cid in customer_ids}
    for g in row["grants"]:
        grants[g["customer_id"]].append(_grant(g))
    seen: dict[int, dict[str, Decimal]] = {}
    for customer_id, event_id, cost in row["seen"]:
        seen.setdefault(customer_id, {})[event_id] = normalize(cost)
    return grants, seen


_GRANT_FIELDS = list(GrantRow.__dataclass_fields__)


def _grant(record: Any) -> GrantRow:
    """A grants row as SQLAlchemy's column types would have read it."""
    return GrantRow(**{f: _as_read(record[f]) for f in _GRANT_FIELDS})


async def write(conn: AsyncConnection, writes: "Writes") -> None:
    """New events and ledger entries, changed grants and wallets, in one statement."""
    wallets = [{**w, "customer_id": w["wallet_customer_id"]} for w in writes.wallets]
    grants = [vars(g) for g in writes.grants.values()]
    rows = (writes.events, writes.entries, grants, wallets)
    ids = ([g["id"] for g in grants], [w["customer_id"] for w in wallets])
    async with driver(conn) as raw:
        await raw.execute(_WRITE, *(to_json(r).decode() for r in rows), *ids, writes.now)
