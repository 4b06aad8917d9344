"""Read models: balance, ledger pages, usage summaries."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, literal_column
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import asyncpg
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.infra.db import Database
from creditgate.ledger import pg
from creditgate.ledger import tables as t
from creditgate.ledger.accounts import ZERO, entitled_at, lot, utcnow
from creditgate.ledger.burn import burn_key
from creditgate.ledger.customers import CustomerWithWallet
from creditgate.ledger.retry import on_dead_connection
from creditgate.ledger.tables import GrantRow
from creditgate.models import Grant, Hold, LedgerEntry, UsageEvent
from creditgate.models.customer import available_of, debt_of
from creditgate.pricing import rating
from creditgate.pricing.plan import PlanDefinition
from creditgate.values.money import Money, normalize


@dataclass(frozen=True)
class WalletView:
    balance: Decimal
    held: Decimal
    entitled: bool
    currency: str

    @property
    def available(self) -> Decimal:
        return available_of(self.balance, self.held)

    @property
    def debt(self) -> Decimal:
        return debt_of(self.balance)


_GRANT_FIELDS = list(GrantRow.__dataclass_fields__)
# The earliest TTL of the customer's active holds: past it, a hold has expired unswept.
_FIRST_HOLD_EXPIRY = (
    core_select(func.min(t.holds.c.expires_at))
    .where(
        t.holds.c.customer_id == t.customers.c.id,
        t.holds.c.status == literal_column("'active'"),
    )
    .scalar_subquery()
)
# Summed in Python: SQLite stores amounts as text (its SUM would go through float).
_EXPIRED_HOLDS = core_select(t.holds.c.remaining).where(
    t.holds.c.customer_id == bindparam("customer_id"),
    t.holds.c.status == "active",
    t.holds.c.expires_at <= bindparam("now"),
)
# One round trip: the wallet and the earliest hold TTL, with its active grants joined (one row
# per grant, or one row with NULL grant columns when there is none).
_BALANCE = (
    core_select(
        t.wallets.c.balance,
        t.wallets.c.held,
        t.wallets.c.entitled,
        t.wallets.c.currency,
        t.wallets.c.credit_limit,
        t.customers.c.id,
        _FIRST_HOLD_EXPIRY.label("first_hold_expiry"),
        *(t.grants.c[f].label(f"grant_{f}") for f in _GRANT_FIELDS),
    )
    .join_from(t.customers, t.wallets, t.wallets.c.customer_id == t.customers.c.id)
    .outerjoin(
        t.grants,
        (t.grants.c.customer_id == t.customers.c.id)
        & (t.grants.c.status == literal_column("'active'")),
    )
    .where(t.customers.c.external_id == bindparam("external_id"))
)


# The balance read as sent to PostgreSQL (the bench runs it through pgbench too).
PG_BALANCE_SQL = str(_BALANCE.compile(dialect=asyncpg.dialect()))
_MONEY = [i for i, c in enumerate(_BALANCE.selected_columns) if isinstance(c.type, Money)]


def _money(record: Sequence[Any]) -> list[Any]:
    """A raw row as SQLAlchemy's Money type would have read it."""
    row = list(record)
    for i in _MONEY:
        if row[i] is not None:
            row[i] = normalize(row[i])
    return row


async def balance(db: Database, external_id: str) -> tuple[WalletView, list[GrantRow]] | None:
    """The balance read: the wallet by an indexed lookup with its active grants, one query
    (on PostgreSQL on a raw connection, outside a transaction: one round trip; once more on
    a connection found dead, as the ledger's transactions do). Grants and holds past their
    expiry are left out as the next ledger transaction will book them (a hold past its TTL
    costs a second query)."""
    rows: Sequence[Any]
    if db.is_sqlite:
        async with db.read_engine.connect() as conn:
            rows = (await conn.execute(_BALANCE, {"external_id": external_id})).all()
    else:
        rows = await on_dead_connection(lambda: _pg_balance(db, external_id))
    if not rows:
        return None
    balance_, held, entitled, currency, credit_limit, customer_id, first_hold_expiry = rows[0][:7]
    now = utcnow()
    grants = []
    expired = False
    for row in rows:
        if row[7] is None:
            continue
        grant = GrantRow(*row[7:])
        if grant.expires_at is not None and grant.expires_at <= now:
            # Expired, not yet swept: its remaining is already gone.
            balance_ -= grant.remaining
            expired = True
        else:
            grants.append(grant)
    if first_hold_expiry is not None and first_hold_expiry <= now:
        held -= await _expired_held(db, customer_id, now)
        expired = True
    if expired:
        entitled = entitled_at(balance_, credit_limit)
    grants.sort(key=lambda g: burn_key(lot(g)))
    return WalletView(balance_, held, entitled, currency), grants


async def _expired_held(db: Database, customer_id: int, now: datetime) -> Decimal:
    """What the customer's holds past their TTL still reserve (a second query, only when the
    balance read found one: until the sweep or the next ledger transaction closes them)."""
    async with db.read_engine.connect() as conn:
        rows = await conn.execute(_EXPIRED_HOLDS, {"customer_id": customer_id, "now": now})
        return sum((r[0] for r in rows), Decimal(0))


async def _pg_balance(db: Database, external_id: str) -> list[list[Any]]:
    async with pg.reader(db) as raw:
        return [_money(r) for r in await raw.fetch(PG_BALANCE_SQL, external_id)]


async def with_expiry(session: AsyncSession, stored: CustomerWithWallet) -> CustomerWithWallet:
    """``stored`` with grants and holds past their expiry taken out of its wallet (a copy, not
    written: the sweep or the next ledger transaction books the expiry)."""
    wallet = stored.wallet
    now = utcnow()
    expired_grants = await session.exec(
        select(col(Grant.remaining)).where(
            Grant.customer_id == stored.customer.id,
            Grant.status == "active",
            col(Grant.expires_at) <= now,
        )
    )
    expired_holds = await session.exec(
        select(col(Hold.remaining)).where(
            Hold.customer_id == stored.customer.id,
            Hold.status == "active",
            col(Hold.expires_at) <= now,
        )
    )
    lost, released = sum(expired_grants.all(), ZERO), sum(expired_holds.all(), ZERO)
    if not (lost or released):
        return stored
    balance_ = wallet.balance - lost
    current = wallet.model_copy(
        update={
            "balance": balance_,
            "held": wallet.held - released,
            "entitled": entitled_at(balance_, wallet.credit_limit),
        }
    )
    return CustomerWithWallet(customer=stored.customer, wallet=current)


async def ledger_page(
    session: AsyncSession, customer_id: int, limit: int, starting_after: int | None
) -> tuple[list[LedgerEntry], bool]:
    """Newest first; ``starting_after`` is the id of the last entry of the previous page."""
    query = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id)
    if starting_after is not None:
        query = query.where(col(LedgerEntry.id) < starting_after)
    rows = list(
        (await session.exec(query.order_by(col(LedgerEntry.id).desc()).limit(limit + 1))).all()
    )
    return rows[:limit], len(rows) > limit


@dataclass
class UsageGroup:
    meter: str
    aggregation: str
    dimensions: dict[str, str]
    quantity: Decimal
    cost: Decimal
    events: int


async def usage_summary(
    session: AsyncSession,
    stored: CustomerWithWallet,
    plan: PlanDefinition,
    start: datetime,
    end: datetime,
    group_by: list[str] | None,
) -> list[UsageGroup]:
    """Usage per meter and dimensions in ``[start, end)``, current to the last event.

    ``group_by`` None keeps every dimension the meter groups by; [] sums over them.
    """
    assert stored.customer.id is not None
    rows = await session.exec(
        select(UsageEvent)
        .where(
            UsageEvent.customer_id == stored.customer.id,
            col(UsageEvent.timestamp) >= start,
            col(UsageEvent.timestamp) < end,
        )
        .order_by(col(UsageEvent.timestamp), col(UsageEvent.id))
    )
    aggregations = {m.code: m.aggregation for m in plan.meters}
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], list[UsageEvent]] = {}
    for event in rows.all():
        meter = event.meter_code or event.event_type
        dims = event.dimensions or {}
        if group_by is not None:
            dims = {k: v for k, v in dims.items() if k in group_by}
        samples.setdefault((meter, tuple(sorted(dims.items()))), []).append(event)
    groups = []
    for (meter, dims_key), events in sorted(samples.items()):
        aggregation = aggregations.get(meter, "sum")
        quantity = rating.aggregate(
            aggregation, ((e.quantity, e.distinct_value, e.timestamp) for e in events)
        )
        groups.append(
            UsageGroup(
                meter=meter,
                aggregation=aggregation,
                dimensions=dict(dims_key),
                quantity=quantity,
                cost=sum((e.cost for e in events), Decimal(0)),
                events=len(events),
            )
        )
    return groups
