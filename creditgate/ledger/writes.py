"""What one ledger transaction writes, collected in memory and flushed in a few statements.

Several accounts locked in one transaction (a batch of requests) share one ``Writes``, so a
batch costs the same number of statements as a single event.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from creditgate.events.store import insert_events
from creditgate.ledger import pg
from creditgate.ledger import tables as t
from creditgate.ledger.tables import GrantRow, HoldRow

# Statements are built once: building and cache-keying a statement per call cost more CPU
# than running it.
_GRANT_UPDATE = (
    update(t.grants)
    .where(t.grants.c.id == bindparam("grant_id"))
    .values(
        remaining=bindparam("remaining"),
        status=bindparam("status"),
        expired_amount=bindparam("expired_amount"),
    )
)
_HOLD_UPDATE = (
    update(t.holds)
    .where(t.holds.c.id == bindparam("hold_id"))
    .values(
        remaining=bindparam("remaining"),
        status=bindparam("status"),
        closed_at=bindparam("closed_at"),
    )
)
_WALLET_UPDATE = (
    update(t.wallets)
    .where(t.wallets.c.customer_id == bindparam("wallet_customer_id"))
    .values(
        balance=bindparam("balance"),
        held=bindparam("held"),
        entitled=bindparam("entitled"),
        updated_at=bindparam("updated_at"),
    )
)
_STATUS_UPDATE = (
    update(t.customers)
    .where(t.customers.c.id == bindparam("customer_id"))
    .values(status=bindparam("status"))
)
_INSERT_EVENTS = t.usage_events.insert()
_INSERT_ENTRIES = t.ledger_entries.insert()
_INSERT_OUTBOX = t.outbox.insert()


@dataclass
class Writes:
    # The transaction's time: every new ledger entry's ``created_at`` and event's
    # ``received_at``, written with the rows (which do not carry it).
    now: datetime
    grants: dict[int, GrantRow] = field(default_factory=dict)
    holds: dict[str, HoldRow] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    wallets: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    # Outbound events recorded in this transaction (``Account.emit``): rare, never per debit.
    customer_events: list[dict[str, Any]] = field(default_factory=list)

    async def flush(self, conn: AsyncConnection) -> None:
        statements: list[tuple[Executable, list[dict[str, Any]]]] = []
        if conn.dialect.name == "postgresql":
            await pg.write(conn, self)
        else:
            statements += [
                (_GRANT_UPDATE, [_grant_params(g) for g in self.grants.values()]),
                (_INSERT_EVENTS.values(received_at=self.now), self.events),
                (_INSERT_ENTRIES.values(created_at=self.now), self.entries),
                (_WALLET_UPDATE, self.wallets),
            ]
        statements += [
            (_HOLD_UPDATE, [_hold_params(h) for h in self.holds.values()]),
            (_INSERT_OUTBOX, self.outbox),
            (_STATUS_UPDATE, self.statuses),
        ]
        for statement, rows in statements:
            if rows:
                await conn.execute(statement, rows)
        if self.customer_events:
            await insert_events(conn, self.customer_events, self.now)


def _grant_params(g: GrantRow) -> dict[str, Any]:
    return {
        "grant_id": g.id,
        "remaining": g.remaining,
        "status": g.status,
        "expired_amount": g.expired_amount,
    }


def _hold_params(h: HoldRow) -> dict[str, Any]:
    return {"hold_id": h.id, "remaining": h.remaining, "status": h.status, "closed_at": h.closed_at}
