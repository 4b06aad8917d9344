"""Rate and debit usage events for one customer inside their locked transaction."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, ConfigDict, Field
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from creditgate.ledger import tables as t
from creditgate.ledger.accounts import ZERO, Account, close_hold
from creditgate.ledger.burn import burn_down
from creditgate.ledger.holds import settle_against_hold
from creditgate.ledger.tables import HoldRow
from creditgate.pricing import rating
from creditgate.pricing.plan import REALTIME_AGGREGATIONS, PlanDefinition
from creditgate.statements.periods import period_bounds
from creditgate.values.identifiers import (
    EventId,
    EventType,
    ExternalId,
    HoldId,
    finite,
    storable_json,
)
from creditgate.values.money import cached_str

FUTURE_TOLERANCE = timedelta(minutes=5)
# Prices whose real-time cost depends on the period's running quantity: tiers, and packages
# (pro rata on the rounded running total, so a period's debits add up without drift).
# per_unit is q × unit_amount, exact at 18 places for any realistic amounts.
RUNNING_TOTAL = frozenset({"tiered_graduated", "tiered_volume", "package"})
# Amounts are NUMERIC(38,18): a cost, balance or running quantity must stay below 10^20
# (prices and quantities are each bounded, their products and sums are not).
STORABLE = Decimal(10) ** 20


_HOLD = select(t.holds).where(t.holds.c.id == bindparam("hold_id"))


@dataclass(slots=True)
class EventIn:
    """A usage event. ``id`` is idempotent per customer forever; ``timestamp`` (when the
    usage happened) defaults to when the event is received; ``hold_id`` settles the event's
    cost against that hold."""

    # The annotations are the API's rules: ``POST /v1/events`` validates bodies straight
    # into this class (``api.schemas.ledger.EventBatch``).
    __pydantic_config__ = ConfigDict(extra="forbid")

    id: EventId
    customer: ExternalId
    event_type: EventType
    timestamp: AwareDatetime | None = None
    properties: Annotated[dict[str, Any], Field(max_length=50)] = field(default_factory=dict)
    hold_id: HoldId | None = None


def unstorable(body: bytes, events: list[EventIn]) -> str | None:
    """Why the databases could not store ``events``, parsed from the JSON ``body`` (None:
    they can): NUL in an id, type, hold id or anywhere in the properties, or a NaN or an
    infinity (``1e400``) in the properties, read by a meter or not.

    Cheap on the ordinary body: a NUL can only come from a ``\\u0000`` escape, so the
    strings are searched only if the body has one; floats are looked at where they are."""
    nul = b"\\u0000" in body
    for n, event in enumerate(events):
        for value in event.properties.values():
            kind = type(value)
            if (kind is float or kind is dict or kind is list) and not finite(value):
                return f"events[{n}].properties: numbers must be finite (no NaN or Infinity)"
        if nul:
            texts = (event.id, event.event_type, event.hold_id or "")
            if any("\x00" in text for text in texts):
                return f"events[{n}]: ids and event types may not contain NUL (\\u0000)"
            try:
                storable_json(event.properties)
            except ValueError as err:
                return f"events[{n}].properties: {err}"
    return None


@dataclass(slots=True)
class UsageResult:
    id: str
    status: str  # debited | duplicate | rejected
    cost: Decimal | None = None
    balance_after: Decimal | None = None
    reason: str | None = None


def rejected(event: EventIn, reason: str) -> UsageResult:
    return UsageResult(id=event.id, status="rejected", reason=reason)


@dataclass(slots=True)
class _Rated:
    meter_code: str
    measurement: rating.Measurement
    price_index: int | None
    cost: Decimal


@dataclass
class _Counters:
    """Running quantities per (period start, price key), written once at the end."""

    values: dict[tuple[datetime, str], Decimal] = field(default_factory=dict)
    dirty: set[tuple[datetime, str]] = field(default_factory=set)


async def record_usage(
    account: Account,
    plan: PlanDefinition,
    events: list[EventIn],
    backdating: timedelta,
    seen: dict[str, Decimal],
) -> list[UsageResult]:
    """Debit each event exactly once; results in the order given. ``seen`` holds the ids
    already recorded (``lock_accounts``) and grows with this batch's."""
    now = account.now
    latest, earliest = now + FUTURE_TOLERANCE, now - backdating
    holds: dict[str, HoldRow | None] = {}
    counters = _Counters()
    results: list[UsageResult] = []
    for event in events:
        if event.id in seen:
            results.append(UsageResult(event.id, "duplicate", seen[event.id], account.balance))
            continue
        timestamp = event.timestamp or now
        if timestamp > latest:
            results.append(rejected(event, "timestamp is more than 5 minutes in the future"))
            continue
        if timestamp < earliest:
            days = backdating.days
            results.append(rejected(event, f"timestamp is older than the {days}-day window"))
            continue
        hold: HoldRow | None = None
        if event.hold_id is not None:
            if event.hold_id not in holds:
                holds[event.hold_id] = await _hold(account, event.hold_id)
            hold = holds[event.hold_id]
            if hold is None:
                results.append(rejected(event, f"unknown hold {event.hold_id!r}"))
                continue
        try:
            rated = await _rate(account, plan, event, timestamp, counters)
        except rating.RejectedEvent as err:
            results.append(rejected(event, err.reason))
            continue
        settled = (
            settle_against_hold(account, hold, rated.cost)
            if hold is not None and hold.status == "active"
            else ZERO
        )
        allocations = await burn_grants(account, rated.cost)
        account.book(
            "debit",
            -rated.cost,
            event_id=event.id,
            hold_id=event.hold_id if settled else None,
            allocations=allocations,
        )
        account.record_event(
            {
                "customer_id": account.customer_id,
                "event_id": event.id,
                "event_type": event.event_type,
                "timestamp": timestamp,
                "meter_code": rated.meter_code,
                "dimensions": rated.measurement.dimensions,
                "quantity": rated.measurement.quantity,
                "distinct_value": rated.measurement.distinct_value,
                "cost": rated.cost,
                "price_index": rated.price_index,
                "plan_version": account.plan_version,
                "hold_id": event.hold_id,
                "properties": event.properties,
            }
        )
        seen[event.id] = rated.cost
        results.append(UsageResult(event.id, "debited", rated.cost, account.balance))
    await _write_counters(account, counters)
    return results


async def price_event(
    account: Account, plan: PlanDefinition, event: EventIn
) -> tuple[Decimal, bool]:
    """What ``event`` would cost now, from the period's running total, without recording it;
    and whether a real-time price applies to it at all (for hold estimates)."""
    rated = await _rate(account, plan, event, event.timestamp or account.now, _Counters())
    return rated.cost, rated.price_index is not None


async def _hold(account: Account, hold_id: str) -> HoldRow | None:
    """The customer's hold as this transaction left it: ``expire_due`` may have closed it
    already (not written yet), and one past its TTL settles nothing."""
    changed = account.writes.holds.get(hold_id)
    if changed is not None:
        return changed if changed.customer_id == account.customer_id else None
    row = (await account.conn.execute(_HOLD, {"hold_id": hold_id})).first()
    if row is None or row._mapping["customer_id"] != account.customer_id:
        return None
    hold = HoldRow.of(row)
    if hold.status == "active" and hold.expires_at <= account.now:
        close_hold(account, hold, "expired")
    return hold


async def _rate(
    account: Account,
    plan: PlanDefinition,
    event: EventIn,
    timestamp: datetime,
    counters: _Counters,
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
        _, start, _ = period_bounds(account.period_anchor, plan.period, timestamp)
        key = (start, f"{plan.code}@{account.plan_version}#{choice.index}")
        if key not in counters.values:
            row = (
                await account.conn.execute(
                    select(t.usage_counters.c.quantity).where(
                        t.usage_counters.c.customer_id == account.customer_id,
                        t.usage_counters.c.period_start == key[0],
                        t.usage_counters.c.price_key == key[1],
                    )
                )
            ).first()
            counters.values[key] = row[0] if row else ZERO
        cumulative = counters.values[key]
    cost = rating.realtime_cost(choice.price, measurement.quantity, cumulative)
    if (
        cost >= STORABLE
        or account.balance - cost <= -STORABLE
        or cumulative + measurement.quantity >= STORABLE
    ):
        raise rating.RejectedEvent("its cost is beyond what the ledger can hold")
    if choice.price.model in RUNNING_TOTAL:
        counters.values[key] = cumulative + measurement.quantity
        counters.dirty.add(key)
    return _Rated(meter.code, measurement, choice.index, cost)


async def _write_counters(account: Account, counters: _Counters) -> None:
    if not counters.dirty:
        return
    insert = pg_insert if account.conn.dialect.name == "postgresql" else sqlite_insert
    for key in counters.dirty:
        values = {
            "customer_id": account.customer_id,
            "period_start": key[0],
            "price_key": key[1],
            "quantity": counters.values[key],
        }
        statement = insert(t.usage_counters).values(values)
        await account.conn.execute(
            statement.on_conflict_do_update(
                index_elements=["customer_id", "period_start", "price_key"],
                set_={"quantity": statement.excluded.quantity},
            )
        )


async def burn_grants(account: Account, cost: Decimal) -> list[dict[str, Any]]:
    """Take ``cost`` from the active grants in burn-down order; what no grant covers is debt
    (the balance, moved by the caller's ledger entry, carries it)."""
    if cost <= 0:
        return []
    allocations, _debt = burn_down(await account.active_grants(), cost)
    for grant, _taken in allocations:
        if grant.remaining == 0:
            grant.status = "depleted"
        account.grant_changed(grant)
    return [{"grant_id": grant.id, "amount": cached_str(taken)} for grant, taken in allocations]
