"""Closing a billing period, in one ledger transaction under the customer's lock.

The freeze is the close itself: the statement takes the events whose timestamp falls in the
period and that were received before this moment, plus late events of earlier periods
received since the previous statement's freeze — so an event that arrives after its period
closed is never lost: it is billed on the next statement, keeping its own timestamp. Then
what remains of expired grants expires, the usage is rated under the customer's plan version,
the difference from what was debited in real time is booked as the true-up (a ``true_up``
ledger entry, also when zero: it marks where the statement's ledger window ends), and the
statement is written. Closing the same period again returns the statement already written.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from creditgate.infra.db import Database
from creditgate.ledger import service
from creditgate.ledger import tables as t
from creditgate.ledger.accounts import Account, expire_due, read_account, snapshot, utcnow
from creditgate.ledger.errors import NotFound
from creditgate.ledger.grants import GrantSpec, add_grant
from creditgate.ledger.usage import burn_grants
from creditgate.models import Statement
from creditgate.payments.charges import round_up_to_minor
from creditgate.plans import catalog as plans
from creditgate.pricing.plan import PlanDefinition
from creditgate.statements.period_usage import (
    SAMPLE_COLUMNS,
    RatedPeriod,
    Sample,
    rate_period,
    recorded_samples,
)
from creditgate.statements.periods import period_bounds
from creditgate.values.money import to_str

ZERO = Decimal(0)
statements = Statement.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PeriodToClose:
    external_id: str
    period_index: int
    period_start: datetime
    period_end: datetime
    # An early close: the customer's periods are anchored at its end from now on.
    reanchor: bool = False


async def close_period(db: Database, period: PeriodToClose) -> Statement:
    async def work(account: Account) -> Statement:
        done = await _statement(account.conn, account.customer_id, period.period_index)
        if done is not None:
            return done
        values = await _compute(account, period)
        inserted = await account.conn.execute(
            statements.insert().returning(statements.c.id), values
        )
        await _apply_next_plan(account, period)
        return Statement(id=inserted.scalar_one(), **values)

    statement = await service.in_account(db, work, external_id=period.external_id)
    if statement.last_entry_id is None:
        statement = await _mark_window_end(db, statement)
    return statement


async def preview_period(db: Database, external_id: str) -> Statement:
    """The open period's statement as it would close now (``GET .../statements/upcoming``):
    the same computation on a read-only snapshot, without the customer's lock (rating a
    whole period must not hold up the customer's debits) and writing nothing."""
    async with snapshot(db) as conn:
        account = await read_account(conn, utcnow(), external_id)
        if account is None:
            raise NotFound(f"no customer with external_id {external_id!r}")
        plan = await plans.cached_definition(conn, account.plan_code, account.plan_version)
        index, start, end = period_bounds(account.period_anchor, plan.period, account.now)
        period = PeriodToClose(external_id, index, start, end)
        values = await _compute(account, period, preview=True)
    return Statement(**values)


async def _compute(
    account: Account, period: PeriodToClose, *, preview: bool = False
) -> dict[str, Any]:
    """Freeze, expire, rate, book the true-up (in the account's pending writes) and return
    the statement's values; a ``preview`` books only in memory (nothing can be written)."""
    plan = await plans.cached_definition(account.conn, account.plan_code, account.plan_version)
    previous = await _latest(account.conn, account.customer_id)
    await expire_due(account)
    samples = await period_samples(account.conn, account.customer_id, period, previous, account.now)
    rated = rate_period(plan, samples)
    if preview:
        account.book("true_up", -rated.true_up)
    else:
        await _book_true_up(account, rated, period)
    window = await _window(account, previous)
    return _statement_values(account, plan, period, previous, rated, window, samples)


async def period_samples(
    conn: AsyncConnection,
    customer_id: int,
    period: PeriodToClose,
    previous: Statement | None,
    frozen_at: datetime,
) -> list[Sample]:
    """The events a statement for ``period`` frozen at ``frozen_at`` bills."""
    e = t.usage_events.c
    in_period = and_(
        e.timestamp >= period.period_start,
        e.timestamp < period.period_end,
        e.received_at < frozen_at,
    )
    condition: Any = in_period
    if previous is not None:
        late = and_(
            e.timestamp < period.period_start,
            e.received_at >= previous.frozen_at,
            e.received_at < frozen_at,
        )
        condition = or_(in_period, late)
    rows = await conn.execute(
        select(*SAMPLE_COLUMNS).where(e.customer_id == customer_id, condition)
    )
    return recorded_samples(rows)


async def _book_true_up(account: Account, rated: RatedPeriod, period: PeriodToClose) -> None:
    true_up = rated.true_up
    description = (
        f"true-up for period {period.period_index}: rated {to_str(rated.total)}, "
        f"debited in real time {to_str(rated.realtime)}"
    )
    if true_up < 0:  # debited more in real time than the period costs: credit it back
        await add_grant(
            account,
            GrantSpec(
                amount=-true_up,
                source="adjustment",
                reason=description,
                reference=f"true-up:{period.period_index}",
                entry_kind="true_up",
            ),
        )
        return
    allocations = await burn_grants(account, true_up)
    account.book("true_up", -true_up, allocations=allocations or None, description=description)


@dataclass(frozen=True)
class Window:
    opening: Decimal
    by_kind: dict[str, Decimal]


async def _window(account: Account, previous: Statement | None) -> Window:
    """Ledger sums since the previous statement's last entry, including what this
    transaction has booked but not written yet."""
    le = t.ledger_entries.c
    after = previous.last_entry_id or 0 if previous else 0
    rows = await account.conn.execute(
        select(le.kind, le.amount).where(le.customer_id == account.customer_id, le.id > after)
    )
    by_kind: dict[str, Decimal] = {}
    for kind, amount in [(r.kind, r.amount) for r in rows] + [
        (entry["kind"], entry["amount"]) for entry in account.writes.entries
    ]:
        by_kind[kind] = by_kind.get(kind, ZERO) + amount
    opening = previous.closing_balance if previous else ZERO
    return Window(opening, by_kind)


def _statement_values(
    account: Account,
    plan: PlanDefinition,
    period: PeriodToClose,
    previous: Statement | None,
    rated: RatedPeriod,
    window: Window,
    samples: list[Sample],
) -> dict[str, Any]:
    k = window.by_kind
    grants = k.get("grant", ZERO)
    debited = -k.get("debit", ZERO)
    expired = -k.get("expiry", ZERO)
    adjustments = sum(
        (v for kind, v in k.items() if kind not in ("grant", "debit", "expiry", "true_up")), ZERO
    )
    closing = account.balance
    due = (
        round_up_to_minor(max(ZERO, -closing) * plan.credit_price, plan.currency)
        if closing < 0
        else ZERO
    )
    return {
        "customer_id": account.customer_id,
        "number": (previous.number + 1) if previous else 1,
        "period_index": period.period_index,
        "period_start": period.period_start,
        "period_end": period.period_end,
        "frozen_at": account.now,
        "plan_code": account.plan_code,
        "plan_version": account.plan_version,
        "billing": plan.billing,
        "unit": plan.wallet_unit,
        "currency": plan.currency,
        "opening_balance": window.opening,
        "grants": grants,
        "usage_debited": debited,
        "expired": expired,
        "adjustments": adjustments,
        "realtime_debits": rated.realtime,
        "true_up": rated.true_up,  # the window's one true_up entry is this one
        "closing_balance": closing,
        "amount_due": due,
        "usage": [line.as_json() for line in rated.lines],
        "late_events": sum(1 for s in samples if s.timestamp < period.period_start),
        "first_entry_id": (previous.last_entry_id or 0) + 1 if previous else None,
        "last_entry_id": None,
        "payment_status": "pending" if due > 0 else "none",
        "payment_intent": None,
        "created_at": account.now,
    }


async def _statement(
    conn: AsyncConnection, customer_id: int, period_index: int
) -> Statement | None:
    row = (
        await conn.execute(
            select(statements).where(
                statements.c.customer_id == customer_id, statements.c.period_index == period_index
            )
        )
    ).first()
    return Statement(**row._mapping) if row is not None else None


async def _latest(conn: AsyncConnection, customer_id: int) -> Statement | None:
    row = (
        await conn.execute(
            select(statements)
            .where(statements.c.customer_id == customer_id)
            .order_by(statements.c.number.desc())
            .limit(1)
        )
    ).first()
    return Statement(**row._mapping) if row is not None else None


async def _mark_window_end(db: Database, statement: Statement) -> Statement:
    """Record the statement's true-up entry as the end of its ledger window (the entry's id
    exists only once the close transaction has written it)."""
    le = t.ledger_entries.c
    async with db.write() as conn:
        last = (
            await conn.execute(
                select(func.max(le.id)).where(
                    le.customer_id == statement.customer_id, le.kind == "true_up"
                )
            )
        ).scalar_one()
        await conn.execute(
            statements.update().where(statements.c.id == statement.id).values(last_entry_id=last)
        )
    statement.last_entry_id = last
    return statement


async def suspend_for_nonpayment(db: Database, external_id: str) -> None:
    """Dunning ran out: no more credit (the limit becomes 0), so a customer in debt is cut off
    in this transaction, with the ``zero`` crossing for its workflow."""

    async def work(account: Account) -> None:
        if account.credit_limit == 0:
            return
        await account.conn.execute(
            t.wallets.update()
            .where(t.wallets.c.customer_id == account.customer_id)
            .values(credit_limit=ZERO)
        )
        account.credit_limit = ZERO

    await service.in_account(db, work, external_id=external_id)


async def _apply_next_plan(account: Account, period: PeriodToClose) -> None:
    """A migration or plan change with ``effective: next_period`` (or a plan change ``now``,
    whose early close this is) takes effect as the period closes."""
    c = t.customers.c
    await account.conn.execute(
        t.customers.update()
        .where(c.id == account.customer_id, c.next_plan_version.is_not(None))
        .values(
            plan_code=func.coalesce(c.next_plan_code, c.plan_code),
            plan_version=c.next_plan_version,
            next_plan_version=None,
            next_plan_code=None,
        )
    )
    if period.reanchor:
        await account.conn.execute(
            t.customers.update()
            .where(c.id == account.customer_id)
            .values(period_anchor=period.period_end)
        )
