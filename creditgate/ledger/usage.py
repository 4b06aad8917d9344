"""Rate and debit usage events for one customer inside their locked transaction."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from creditgate.ledger.accounts import ZERO, Account
from creditgate.ledger.burn import Lot, burn_down
from creditgate.ledger.holds import settle_against_hold
from creditgate.models import Hold, UsageCounter, UsageEvent
from creditgate.money import to_str
from creditgate.periods import period_bounds
from creditgate.pricing import rating
from creditgate.pricing.plan import REALTIME_AGGREGATIONS, PlanDefinition

FUTURE_TOLERANCE = timedelta(minutes=5)
# Prices whose real-time cost depends on the period's running quantity: tiers, and packages
# (pro rata on the rounded running total, so a period's debits add up without drift).
# per_unit is q × unit_amount, exact at 18 places for any realistic amounts.
RUNNING_TOTAL = frozenset({"tiered_graduated", "tiered_volume", "package"})


@dataclass(frozen=True)
class UsageIn:
    id: str
    customer: str
    event_type: str
    timestamp: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    hold_id: str | None = None


@dataclass(frozen=True)
class UsageResult:
    id: str
    status: str  # debited | duplicate | rejected
    cost: Decimal | None = None
    balance_after: Decimal | None = None
    reason: str | None = None


def rejected(event: UsageIn, reason: str) -> UsageResult:
    return UsageResult(id=event.id, status="rejected", reason=reason)


@dataclass
class _Rated:
    meter_code: str
    measurement: rating.Measurement
    price_index: int | None
    cost: Decimal


async def record_usage(
    account: Account,
    plan: PlanDefinition,
    plan_version: int,
    events: list[UsageIn],
    backdating: timedelta,
) -> list[UsageResult]:
    """Debit each event exactly once; results in the order given."""
    session, now = account.session, account.now
    ids = list({e.id for e in events})
    seen: dict[str, Decimal] = {}
    if ids:
        rows = await session.exec(
            select(col(UsageEvent.event_id), col(UsageEvent.cost)).where(
                UsageEvent.customer_id == account.customer_id, col(UsageEvent.event_id).in_(ids)
            )
        )
        seen = dict(rows.all())
    holds: dict[str, Hold | None] = {}
    counters: dict[tuple[datetime, str], UsageCounter] = {}
    results: list[UsageResult] = []
    for event in events:
        if event.id in seen:
            results.append(
                UsageResult(event.id, "duplicate", seen[event.id], account.wallet.balance)
            )
            continue
        timestamp = event.timestamp or now
        if timestamp > now + FUTURE_TOLERANCE:
            results.append(rejected(event, "timestamp is more than 5 minutes in the future"))
            continue
        if timestamp < now - backdating:
            days = backdating.days
            results.append(rejected(event, f"timestamp is older than the {days}-day window"))
            continue
        hold: Hold | None = None
        if event.hold_id is not None:
            if event.hold_id not in holds:
                found = await session.get(Hold, event.hold_id)
                holds[event.hold_id] = (
                    found if found and found.customer_id == account.customer_id else None
                )
            hold = holds[event.hold_id]
            if hold is None:
                results.append(rejected(event, f"unknown hold {event.hold_id!r}"))
                continue
        try:
            rated = await _rate(account, plan, plan_version, event, timestamp, counters)
        except rating.RejectedEvent as err:
            results.append(rejected(event, err.reason))
            continue
        settled = (
            settle_against_hold(account, hold, rated.cost)
            if hold is not None and hold.status == "active"
            else ZERO
        )
        allocations = await _burn(account, rated.cost)
        account.book(
            "debit",
            -rated.cost,
            event_id=event.id,
            hold_id=event.hold_id if settled else None,
            allocations=allocations,
        )
        session.add(
            UsageEvent(
                customer_id=account.customer_id,
                event_id=event.id,
                event_type=event.event_type,
                timestamp=timestamp,
                received_at=now,
                meter_code=rated.meter_code,
                dimensions=rated.measurement.dimensions,
                quantity=rated.measurement.quantity,
                distinct_value=rated.measurement.distinct_value,
                cost=rated.cost,
                price_index=rated.price_index,
                plan_version=plan_version,
                hold_id=event.hold_id,
                properties=event.properties,
            )
        )
        seen[event.id] = rated.cost
        results.append(UsageResult(event.id, "debited", rated.cost, account.wallet.balance))
    return results


async def _rate(
    account: Account,
    plan: PlanDefinition,
    plan_version: int,
    event: UsageIn,
    timestamp: datetime,
    counters: dict[tuple[datetime, str], UsageCounter],
) -> _Rated:
    meter = rating.meter_for(plan, event.event_type)
    if meter is None:
        raise rating.RejectedEvent(f"unknown event type {event.event_type!r} for this plan")
    measurement = rating.measure(meter, event.properties)
    if meter.aggregation not in REALTIME_AGGREGATIONS:
        # max / last / unique_count are rated at period close.
        return _Rated(meter.code, measurement, None, ZERO)
    choice = rating.select_price(plan, meter, measurement.dimensions)
    if choice is None:
        return _Rated(meter.code, measurement, None, ZERO)
    cumulative = ZERO
    if choice.price.model in RUNNING_TOTAL:
        _, start, _ = period_bounds(account.customer.period_anchor, plan.period, timestamp)
        key = f"{plan.code}@{plan_version}#{choice.index}"
        counter = counters.get((start, key))
        if counter is None:
            counter = await account.session.get(
                UsageCounter, (account.customer_id, start, key)
            ) or UsageCounter(
                customer_id=account.customer_id, period_start=start, price_key=key, quantity=ZERO
            )
            counters[(start, key)] = counter
        cumulative = counter.quantity
        counter.quantity = cumulative + measurement.quantity
        account.session.add(counter)
    cost = rating.realtime_cost(choice.price, measurement.quantity, cumulative)
    return _Rated(meter.code, measurement, choice.index, cost)


async def _burn(account: Account, cost: Decimal) -> list[dict[str, Any]]:
    if cost <= 0:
        return []
    grants = await account.active_grants()
    lots = [Lot(g.id or 0, g.remaining, g.priority, g.expires_at, g.created_at) for g in grants]
    allocations, _debt = burn_down(lots, cost)
    by_id = {g.id: g for g in grants}
    for grant_id, taken in allocations:
        grant = by_id[grant_id]
        grant.remaining -= taken
        if grant.remaining == 0:
            grant.status = "depleted"
        account.session.add(grant)
    if any(g.status == "depleted" for g in grants):
        account._grants = [g for g in grants if g.status == "active"]
    return [{"grant_id": gid, "amount": to_str(taken)} for gid, taken in allocations]
