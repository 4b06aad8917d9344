"""A customer's wallet locked for one ledger transaction, and everything booked through it.

Changes are collected in memory (``Writes``) and written in a few statements at the end.
"""

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Select, String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from creditgate.events import alerts
from creditgate.events.catalogue import (
    Balance,
    EventData,
    EventType,
    GrantExpired,
    LedgerEntryRef,
)
from creditgate.infra.db import Database
from creditgate.ledger import pg
from creditgate.ledger import tables as t
from creditgate.ledger.burn import Lot, burn_key
from creditgate.ledger.tables import GrantRow, HoldRow
from creditgate.ledger.writes import Writes
from creditgate.models.customer import available_of, debt_of
from creditgate.values.money import to_str

ZERO = Decimal(0)

_LOCK_COLUMNS = (
    t.customers.c.id,
    t.customers.c.external_id,
    t.customers.c.workflow_id,
    t.customers.c.status,
    t.customers.c.plan_code,
    t.customers.c.plan_version,
    t.customers.c.period_anchor,
    t.wallets.c.balance,
    t.wallets.c.held,
    t.wallets.c.entitled,
    t.wallets.c.currency,
    t.wallets.c.recharge_threshold,
    t.wallets.c.credit_limit,
    t.wallets.c.alert_amounts,
)
_ACTIVE_GRANTS = select(t.grants).where(
    t.grants.c.customer_id.in_(bindparam("customer_ids", expanding=True)),
    t.grants.c.status == "active",
)
_SEEN = select(
    t.usage_events.c.customer_id, t.usage_events.c.event_id, t.usage_events.c.cost
).where(
    t.usage_events.c.customer_id.in_(bindparam("customer_ids", expanding=True)),
    t.usage_events.c.event_id.in_(bindparam("ids", expanding=True)),
)
_LOCK_BASE = select(*_LOCK_COLUMNS).join_from(
    t.customers, t.wallets, t.wallets.c.customer_id == t.customers.c.id
)


def _lock_statement(by_external_id: bool, postgres: bool) -> Select[Any]:
    """Customers (by external id or id) with their wallets; on PostgreSQL both rows locked,
    in customer-id order so transactions locking several customers cannot deadlock."""
    key = t.customers.c.external_id if by_external_id else t.customers.c.id
    if postgres:
        # One array parameter: one statement text, prepared once, for any number of keys (an
        # expanding IN is rendered and prepared anew per count).
        keys = bindparam("keys", type_=ARRAY(String if by_external_id else Integer))
        statement = _LOCK_BASE.where(key == any_(keys))
        statement = statement.with_for_update(of=(t.customers, t.wallets), key_share=True)
    else:
        statement = _LOCK_BASE.where(key.in_(bindparam("keys", expanding=True)))
    return statement.order_by(t.customers.c.id)


# Statements are built once: building and cache-keying a statement per call cost more CPU
# than running it.
_LOCKS = {
    (by_external_id, postgres): _lock_statement(by_external_id, postgres)
    for by_external_id in (True, False)
    for postgres in (True, False)
}


@dataclass
class Account:
    """Customer + wallet, locked until the transaction ends: ``FOR NO KEY UPDATE`` of both
    rows on PostgreSQL (so both are current after a lock wait); SQLite's BEGIN IMMEDIATE
    already serializes writers."""

    conn: AsyncConnection
    writes: Writes = field(repr=False)
    customer_id: int
    external_id: str
    workflow_id: str
    status: str
    plan_code: str
    plan_version: int
    period_anchor: datetime
    balance: Decimal
    held: Decimal
    entitled: bool
    currency: str
    recharge_threshold: Decimal | None
    # How far below zero the balance may go while entitled (0 prepaid; None: no limit).
    credit_limit: Decimal | None = ZERO
    # Spend alerts' resolved amounts as stored (``creditgate.events.alerts``).
    alert_amounts: str | None = None
    # The last ledger entry booked here: what a crossing names as its cause.
    last_entry: dict[str, Any] | None = field(default=None, repr=False)
    start_balance: Decimal = ZERO
    start_available: Decimal = ZERO
    start_held: Decimal = ZERO
    start_status: str = ""
    start_entitled: bool = False
    _grants: list[GrantRow] | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        """The transaction's time (every account sharing ``writes`` has the same)."""
        return self.writes.now

    @property
    def available(self) -> Decimal:
        return available_of(self.balance, self.held)

    @property
    def debt(self) -> Decimal:
        return debt_of(self.balance)

    async def active_grants(self) -> list[GrantRow]:
        """Active grants in burn-down order (loaded once per transaction)."""
        if self._grants is None:
            rows = await self.conn.execute(_ACTIVE_GRANTS, {"customer_ids": [self.customer_id]})
            self.set_grants([GrantRow.of(r) for r in rows])
        assert self._grants is not None
        return self._grants

    def set_grants(self, grants: list[GrantRow]) -> None:
        self._grants = sorted(grants, key=lambda g: burn_key(lot(g)))

    def grant_changed(self, grant: GrantRow) -> None:
        self.writes.grants[grant.id] = grant
        if grant.status != "active" and self._grants is not None:
            self._grants = [g for g in self._grants if g.id != grant.id]

    def grant_added(self, grant: GrantRow) -> None:
        if self._grants is not None and grant.status == "active":
            self._grants.append(grant)
            self._grants.sort(key=lambda g: burn_key(lot(g)))

    def hold_changed(self, hold: HoldRow) -> None:
        self.writes.holds[hold.id] = hold

    def book(self, kind: str, amount: Decimal, **fields: Any) -> None:
        """Append a ledger entry and move the balance by ``amount``."""
        self.balance += amount
        self.last_entry = {
            "customer_id": self.customer_id,
            "kind": kind,
            "amount": amount,
            "balance_after": self.balance,
            "grant_id": fields.get("grant_id"),
            "event_id": fields.get("event_id"),
            "hold_id": fields.get("hold_id"),
            "allocations": fields.get("allocations"),
            "description": fields.get("description"),
            "reference": fields.get("reference"),
        }
        self.writes.entries.append(self.last_entry)

    def record_event(self, row: dict[str, Any]) -> None:
        self.writes.events.append(row)

    def notify(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        """Queue a lifecycle message for the customer's workflow (sent by the outbox relay)."""
        self.writes.outbox.append(
            {
                "message_id": f"{kind}-{uuid.uuid4().hex}",
                "customer_id": self.customer_id,
                "workflow_id": self.workflow_id,
                "kind": kind,
                "payload": payload or {},
                "created_at": self.now,
                "attempts": 0,
            }
        )

    def emit(self, type: EventType, key: str, data: EventData) -> None:
        """Record an outbound event for the customer in this transaction (``key``: unique per
        customer, so only for changes that happen once, such as a grant's creation)."""
        self.writes.customer_events.append(
            {
                "customer_id": self.customer_id,
                "external_id": self.external_id,
                "type": str(type),
                "key": key,
                "data": data.dump(),
            }
        )

    def figures(self) -> dict[str, Any]:
        """The wallet now, and the entry that moved it last (a crossing's event data)."""
        entry = self.last_entry
        return Balance(
            available=self.available,
            held=self.held,
            debt=self.debt,
            entitled=self.entitled,
            entry=None if entry is None else LedgerEntryRef.model_validate(entry),
        ).dump()

    def _crossings(self) -> None:
        """Entitlement, status and crossings.

        ``entitled`` follows the balance (Σ remaining − debt > 0, or above −credit_limit for
        arrears plans; no limit: always); holds do not cut a customer off, they only refuse
        new holds. The recharge threshold compares ``available``.
        """
        was_entitled = self.entitled
        self.entitled = entitled_at(self.balance, self.credit_limit)
        if self.status not in ("closing", "closed"):
            if was_entitled and not self.entitled:
                # A paused customer stays paused; resuming restores what the balance implies.
                if self.status != "paused":
                    self.status = "cut_off"
                self.notify("zero", {"balance": to_str(self.balance), **self.figures()})
            elif self.entitled and not was_entitled:
                if self.status == "cut_off":
                    self.status = "active"
                self.notify("restored", {"balance": to_str(self.balance), **self.figures()})
        threshold = self.recharge_threshold
        # A top-up that leaves available at or below the threshold (usage kept coming while a
        # recharge was being paid) asks again: no later debit would cross it from above.
        topped_up_short = self.balance > self.start_balance and threshold is not None
        if (
            threshold is not None
            and threshold >= self.available
            and (self.start_available > threshold or topped_up_short)
        ):
            self.notify(
                "threshold", {"available": to_str(self.available), "threshold": to_str(threshold)}
            )
        if self.alert_amounts is not None and self.available < self.start_available:
            crossed = [
                to_str(a)
                for a in alerts.amounts(self.alert_amounts)
                if self.start_available > a >= self.available
            ]
            if crossed:
                self.notify("balance_low", {"thresholds": crossed, **self.figures()})

    def finish(self) -> None:
        """Decide crossings and stage the wallet and status writes (flushed with the rest)."""
        self._crossings()
        if (
            self.balance != self.start_balance
            or self.held != self.start_held
            or self.entitled != self.start_entitled
        ):
            self.writes.wallets.append(
                {
                    "wallet_customer_id": self.customer_id,
                    "balance": self.balance,
                    "held": self.held,
                    "entitled": self.entitled,
                    "updated_at": self.now,
                }
            )
        if self.status != self.start_status:
            self.writes.statuses.append({"customer_id": self.customer_id, "status": self.status})

    async def commit(self) -> None:
        """``finish`` and write everything collected (the caller commits the transaction)."""
        self.finish()
        await self.writes.flush(self.conn)


def entitled_at(balance: Decimal, credit_limit: Decimal | None) -> bool:
    """Entitled while the balance is above −credit_limit (0 prepaid; None: no limit)."""
    return credit_limit is None or balance > -credit_limit


def utcnow() -> datetime:
    return datetime.now(UTC)


def lot(grant: GrantRow) -> Lot:
    return Lot(grant.id, grant.remaining, grant.priority, grant.expires_at, grant.created_at)


async def lock_account(
    conn: AsyncConnection,
    now: datetime,
    *,
    external_id: str | None = None,
    customer_id: int | None = None,
) -> Account | None:
    by_external_id = external_id is not None
    query = _LOCKS[(by_external_id, conn.dialect.name == "postgresql")]
    key = external_id if by_external_id else customer_id
    row = (await conn.execute(query, {"keys": [key]})).first()
    if row is None:
        return None
    return _account(conn, row._mapping, Writes(now))


async def read_account(conn: AsyncConnection, now: datetime, external_id: str) -> Account | None:
    """The account as ``conn``'s snapshot sees it, without locking it: for computations that
    write nothing (``snapshot``)."""
    row = (await conn.execute(_LOCKS[(True, False)], {"keys": [external_id]})).first()
    return None if row is None else _account(conn, row._mapping, Writes(now))


@asynccontextmanager
async def snapshot(db: Database) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction whose reads all see one consistent state (PostgreSQL:
    REPEATABLE READ; SQLite: one deferred read transaction, never the write lock); rolled
    back at the end."""
    async with db.read_engine.connect() as conn:
        if db.is_sqlite:
            await conn.exec_driver_sql("BEGIN")
        else:
            await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            await conn.begin()
        try:
            yield conn
        finally:
            await conn.rollback()


def _account(conn: AsyncConnection, m: Any, writes: Writes) -> Account:
    account = Account(
        conn=conn,
        writes=writes,
        customer_id=m["id"],
        external_id=m["external_id"],
        workflow_id=m["workflow_id"],
        status=m["status"],
        plan_code=m["plan_code"],
        plan_version=m["plan_version"] or 1,
        period_anchor=m["period_anchor"],
        balance=m["balance"],
        held=m["held"],
        entitled=m["entitled"],
        currency=m["currency"],
        recharge_threshold=m["recharge_threshold"],
        credit_limit=m["credit_limit"],
        alert_amounts=m["alert_amounts"],
    )
    account.start_balance = account.balance
    account.start_available = account.available
    account.start_held = account.held
    account.start_status = account.status
    account.start_entitled = account.entitled
    return account


async def lock_accounts(
    conn: AsyncConnection, now: datetime, events: Sequence[tuple[str, str]]
) -> tuple[dict[str, Account], dict[int, dict[str, Decimal]]]:
    """Lock the customers of ``events`` ((external id, event id) pairs) at once, in id order
    so concurrent batches cannot deadlock, with their active grants loaded; they share one
    ``Writes``. Also which of the events each customer already recorded, with their cost."""
    keys = sorted({customer for customer, _ in events})
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        rows: list[Any] = await pg.lock(conn, _LOCKS[(True, True)], keys)
    else:
        rows = [r._mapping for r in await conn.execute(_LOCKS[(True, False)], {"keys": keys})]
    writes = Writes(now)
    accounts = {m["external_id"]: _account(conn, m, writes) for m in rows}
    if not accounts:
        return accounts, {}
    by_id = {a.customer_id: a for a in accounts.values()}
    pairs = {(accounts[c].customer_id, e) for c, e in events if c in accounts}
    load = pg.grants_and_seen if postgres else _grants_and_seen
    grants, seen = await load(conn, list(by_id), pairs)
    for cid, account in by_id.items():
        account.set_grants(grants[cid])
    return accounts, seen


async def _grants_and_seen(
    conn: AsyncConnection, customer_ids: list[int], pairs: set[tuple[int, str]]
) -> tuple[dict[int, list[GrantRow]], dict[int, dict[str, Decimal]]]:
    event_ids = list({e for _, e in pairs})
    grants: dict[int, list[GrantRow]] = {cid: [] for cid in customer_ids}
    for g in await conn.execute(_ACTIVE_GRANTS, {"customer_ids": customer_ids}):
        grants[g._mapping["customer_id"]].append(GrantRow.of(g))
    seen: dict[int, dict[str, Decimal]] = {}
    for customer_id, event_id, cost in await conn.execute(
        _SEEN, {"customer_ids": customer_ids, "ids": event_ids}
    ):
        seen.setdefault(customer_id, {})[event_id] = cost
    return grants, seen


async def expire_due(account: Account) -> list[GrantRow]:
    """Expire what remains of grants past ``expires_at`` and holds past their TTL."""
    expired: list[GrantRow] = []
    for grant in list(await account.active_grants()):
        if grant.expires_at is not None and grant.expires_at <= account.now:
            lost = grant.remaining
            grant.remaining = ZERO
            grant.expired_amount = lost
            grant.status = "expired"
            account.grant_changed(grant)
            if lost > 0:
                account.book("expiry", -lost, grant_id=grant.id, description="grant expired")
            account.emit(
                EventType.grant_expired,
                f"grant.expired:{grant.id}",
                GrantExpired(
                    grant_id=grant.id,
                    amount=grant.amount,
                    expired_amount=lost,
                    expires_at=grant.expires_at,
                ),
            )
            expired.append(grant)
    if account.held > 0:
        await expire_holds(account)
    return expired


async def active_holds(account: Account) -> list[HoldRow]:
    rows = await account.conn.execute(
        select(t.holds).where(
            t.holds.c.customer_id == account.customer_id, t.holds.c.status == "active"
        )
    )
    # Holds changed earlier in this transaction are not written yet: use those versions.
    current = [account.writes.holds.get(r._mapping["id"]) or HoldRow.of(r) for r in rows]
    return [h for h in current if h.status == "active"]


async def expire_holds(account: Account) -> None:
    for hold in await active_holds(account):
        if hold.expires_at <= account.now:
            close_hold(account, hold, "expired")


def close_hold(account: Account, hold: HoldRow, status: str) -> None:
    account.held -= hold.remaining
    hold.remaining = ZERO
    hold.status = status
    hold.closed_at = account.now
    account.hold_changed(hold)
