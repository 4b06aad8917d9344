"""Plan simulations: the recorded usage of a plan's customers rated under another version.

A price change is tried on real usage before anyone is moved. For every customer on the plan
(any version), the usage events with a timestamp in ``[start, end)`` are rated twice with
``statements.rating.rate_period``: under the customer's current version, as the events were
recorded (what the period close bills), and under the simulated version, each event measured
again from its properties by that version's meters (so a version that meters differently is
simulated as if the events had arrived under it; events it cannot measure count for nothing
and are reported).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from creditgate.infra.db import Database
from creditgate.ledger import tables as t
from creditgate.ledger.errors import LedgerError
from creditgate.plans import catalog as plans
from creditgate.pricing import rating
from creditgate.pricing.plan import PlanDefinition
from creditgate.statements.period_usage import SAMPLE_COLUMNS, Sample, rate_period, recorded_samples

ZERO = Decimal(0)
MAX_WINDOW = timedelta(days=366)


class InvalidSimulation(LedgerError):
    type = "invalid_simulation"


@dataclass(frozen=True)
class CustomerSimulation:
    external_id: str
    current_version: int
    current_amount: Decimal
    simulated_amount: Decimal
    events: int
    unmeasured_events: int  # events the simulated version cannot measure (rated at 0)

    @property
    def difference(self) -> Decimal:
        return self.simulated_amount - self.current_amount


@dataclass(frozen=True)
class Simulation:
    plan_code: str
    version: int
    unit: str
    start: datetime
    end: datetime
    customers: list[CustomerSimulation]

    @property
    def current(self) -> Decimal:
        return sum((c.current_amount for c in self.customers), ZERO)

    @property
    def simulated(self) -> Decimal:
        return sum((c.simulated_amount for c in self.customers), ZERO)

    @property
    def difference(self) -> Decimal:
        return self.simulated - self.current


def measured_samples(plan: PlanDefinition, rows: Iterable[Any]) -> tuple[list[Sample], int]:
    """Usage events measured again by ``plan``'s meters; and how many it cannot measure."""
    samples: list[Sample] = []
    unmeasured = 0
    for r in rows:
        meter = rating.meter_for(plan, r.event_type)
        if meter is None:  # no meter: listed at zero cost, as the ledger would record it
            samples.append(
                Sample(None, r.event_type, {}, r.quantity, r.distinct_value, r.timestamp, r.cost)
            )
            continue
        try:
            m = rating.measure(meter, r.properties or {})
        except rating.RejectedEvent:
            unmeasured += 1
            continue
        samples.append(
            Sample(
                meter.code,
                r.event_type,
                m.dimensions,
                m.quantity,
                m.distinct_value,
                r.timestamp,
                r.cost,
            )
        )
    return samples, unmeasured


def check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidSimulation("from and to need a timezone (e.g. 2026-11-01T00:00:00Z)")
    if end <= start:
        raise InvalidSimulation("to must be after from")
    if end - start > MAX_WINDOW:
        raise InvalidSimulation(f"the window is longer than {MAX_WINDOW.days} days")


async def simulate(
    db: Database, code: str, version: int, start: datetime, end: datetime
) -> Simulation:
    check_window(start, end)
    c, e = t.customers.c, t.usage_events.c
    async with db.session() as session:
        await plans.get_plan(session, code)
        target = await plans.definition(session, code, version)
        conn = await session.connection()
        customers: Sequence[Any] = (
            await conn.execute(
                select(c.id, c.external_id, c.plan_version)
                .where(c.plan_code == code)
                .order_by(c.id)
            )
        ).all()
        events: dict[int, list[Any]] = {row.id: [] for row in customers}
        rows = await conn.execute(
            select(e.customer_id, *SAMPLE_COLUMNS, e.properties)
            .join_from(t.usage_events, t.customers, t.customers.c.id == e.customer_id)
            .where(c.plan_code == code, e.timestamp >= start, e.timestamp < end)
            .order_by(e.customer_id, e.id)
        )
        for row in rows:
            events[row.customer_id].append(row)
        definitions = {
            v: await plans.definition(session, code, v)
            for v in sorted({row.plan_version or 1 for row in customers})
        }
    results = []
    for customer in customers:
        current_version = customer.plan_version or 1
        recorded = events[customer.id]
        current = rate_period(definitions[current_version], recorded_samples(recorded))
        samples, unmeasured = measured_samples(target, recorded)
        simulated = rate_period(target, samples)
        results.append(
            CustomerSimulation(
                external_id=customer.external_id,
                current_version=current_version,
                current_amount=current.total,
                simulated_amount=simulated.total,
                events=len(recorded),
                unmeasured_events=unmeasured,
            )
        )
    return Simulation(code, version, target.wallet_unit, start, end, results)
