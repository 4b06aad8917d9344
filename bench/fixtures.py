"""The Creditgate database the API serves during the benchmark: schema, a plan, customers.

Customers are inserted with ``register_customer`` directly, with fake Stripe customer and
workflow ids: the hot path (events, balance) never talks to Stripe or Temporal, so a DB
benchmark needs neither. Each gets one large promotional grant so no debit runs dry.
"""

import asyncio
from decimal import Decimal

from creditgate.devtools import migrate
from creditgate.infra.db import Database
from creditgate.ledger.customers import register_customer
from creditgate.ledger.grants import GrantSpec
from creditgate.ledger.service import grant, ingest
from creditgate.ledger.usage import EventIn
from creditgate.plans import catalog as plans
from creditgate.pricing.plan import PlanDefinition

APP_DB = "creditgate_bench"
PLAN_CODE = "bench"
HOT_CUSTOMER = "bench-hot"
CUSTOMER_PREFIX = "bench-c"
GRANT_AMOUNT = Decimal("1000000000")
SETUP_CONCURRENCY = 16
# Events already on record per customer before the run: a live ledger has history, and the
# planner must see tables of a realistic shape (ANALYZE afterwards, as autovacuum would).
HISTORY_EVENTS = 20

# One sum meter grouped by model, priced per unit: the common LLM-token shape.
PLAN = {
    "code": PLAN_CODE,
    "name": "Benchmark plan",
    "currency": "USD",
    "meters": [
        {
            "code": "tokens",
            "event_type": "tokens",
            "aggregation": "sum",
            "value_property": "count",
            "group_by": ["model"],
        }
    ],
    "prices": [
        {
            "meter": "tokens",
            "model": "per_unit",
            "unit_amount": "0.0000025",
            "filter": {"model": "gpt-4o"},
        }
    ],
    # Spend alerts on every customer, as a product would configure them: each debit compares
    # the balance with them in the hot transaction (they never fire here: the grant is large).
    "alerts": [{"amount": "100"}, {"amount": "10"}, {"percent": "20"}],
}


def customer_id(index: int) -> str:
    return f"{CUSTOMER_PREFIX}{index}"


def prepare(url: str, customers: int, alerts: bool = True) -> None:
    """Migrate ``url`` and fill it (call outside a running event loop: Alembic runs its own)."""
    migrate.upgrade(url)
    asyncio.run(_fill(url, customers, alerts))


async def _fill(url: str, customers: int, alerts: bool) -> None:
    db = Database(url)
    try:
        plan = PlanDefinition.model_validate(PLAN if alerts else {**PLAN, "alerts": []})
        await plans.create_plan(db, plan)
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def add(external_id: str) -> None:
            async with gate:
                await register_customer(
                    db,
                    external_id=external_id,
                    name=external_id,
                    email=f"{external_id}@bench.invalid",
                    plan=PLAN_CODE,
                    stripe_customer_id=f"cus_fake_{external_id}",  # never sent to Stripe
                    workflow_id=f"customer-{external_id}",  # no workflow is started
                )
                await grant(
                    db,
                    external_id,
                    GrantSpec(amount=GRANT_AMOUNT, source="promotional", reason="benchmark"),
                )

        ids = [customer_id(i) for i in range(customers)] + [HOT_CUSTOMER]
        await asyncio.gather(*(add(external_id) for external_id in ids))
        await _history(db, ids)
        async with db.write() as conn:
            await conn.exec_driver_sql("ANALYZE")
    finally:
        await db.dispose()


async def _history(db: Database, ids: list[str]) -> None:
    """``HISTORY_EVENTS`` past events per customer, debited through the real ledger."""
    events = [
        EventIn(
            id=f"history-{n}",
            customer=external_id,
            event_type="tokens",
            properties={"count": 1000, "model": "gpt-4o"},
        )
        for n in range(HISTORY_EVENTS)
        for external_id in ids
    ]
    for start in range(0, len(events), 1000):
        await ingest(db, events[start : start + 1000])
