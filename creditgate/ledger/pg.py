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
from pydantic_core import to_json
from sqlalchemy import Table
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from creditgate.ledger import tables as t
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


def _insert(table: Table, param: int) -> str:
    columns = ", ".join(c.name for c in table.columns if c.name != "id")
    return (
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} "
        f"FROM json_populate_recordset(NULL::{table.name}, ${param}::json)"
    )


# Every hot write of a transaction in one statement, each set of rows sent as one JSON
# array (encoded in one pass by pydantic-core; Decimals as exact strings): far less Python
# per row than an array parameter per column. Empty arrays write nothing.
_WRITE = f"""
WITH new_events AS ({_insert(t.usage_events, 1)}),
new_entries AS ({_insert(t.ledger_entries, 2)}),
grant_rows AS (
  UPDATE grants SET remaining = u.remaining, status = u.status, expired_amount = u.expired_amount
  FROM json_populate_recordset(NULL::grants, $3::json) AS u WHERE grants.id = u.id
),
wallet_rows AS (
  UPDATE wallets SET balance = u.balance, held = u.held, entitled = u.entitled,
    updated_at = u.updated_at
  FROM json_populate_recordset(NULL::wallets, $4::json) AS u
  WHERE wallets.customer_id = u.customer_id
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


_GRANT_FIELDS = list(GrantRow.__dataclass_fields__)
_GRANT_MONEY = {"amount", "remaining", "expired_amount"}


def _grant(record: Any) -> GrantRow:
    """A grants row as SQLAlchemy's column types would have read it."""
    fields: dict[str, Any] = {
        f: normalize(record[f]) if f in _GRANT_MONEY else record[f] for f in _GRANT_FIELDS
    }
    return GrantRow(**fields)


async def write(conn: AsyncConnection, writes: "Writes") -> None:
    """New events and ledger entries, changed grants and wallets, in one statement."""
    wallets = [{**w, "customer_id": w["wallet_customer_id"]} for w in writes.wallets]
    rows = (writes.events, writes.entries, [vars(g) for g in writes.grants.values()], wallets)
    async with driver(conn) as raw:
        await raw.execute(_WRITE, *(to_json(r).decode() for r in rows))
