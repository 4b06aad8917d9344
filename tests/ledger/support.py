"""Ledger test helpers: a migrated database with one plan and a few customers.

This is the DB layer only: no Stripe and no Temporal run here, so the Stripe customer ids and
workflow ids are fake strings ("cus_test_1", "customer-led_...") that nothing ever resolves.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text
from sqlmodel import col, select

from api.main import create_app
from creditgate.devtools.migrate import upgrade
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.ledger import service
from creditgate.ledger.customers import register_customer
from creditgate.ledger.grants import GrantSpec
from creditgate.ledger.tables import GrantRow
from creditgate.ledger.usage import EventIn
from creditgate.models import Customer, Grant, Hold, LedgerEntry, OutboxMessage, Wallet
from creditgate.plans.catalog import create_plan
from tests.support.plans import LEDGER_PLAN, LEDGER_PLAN_CODE
from tests.support.ports import free_port


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Ledger:
    """A migrated database with ``LEDGER_PLAN`` and ``customers`` (their external ids)."""

    db: Database
    customers: list[str]

    @property
    def customer(self) -> str:
        return self.customers[0]

    # -- writes through the service (each one ledger transaction) ----------------------------

    async def grant(
        self, amount: str | Decimal, external_id: str | None = None, **kw: Any
    ) -> GrantRow:
        kw.setdefault("source", "promotional")
        spec = GrantSpec(amount=Decimal(amount), **kw)
        outcome = await service.grant(self.db, external_id or self.customer, spec)
        return outcome.grant

    async def calls(
        self, *ids: str, external_id: str | None = None, hold_id: str | None = None
    ) -> list[str]:
        """Send one ``api_call`` event (cost 0.01) per id in one batch; returns the statuses."""
        who = external_id or self.customer
        events = [EventIn(id=i, customer=who, event_type="api_call", hold_id=hold_id) for i in ids]
        return [r.status for r in await service.ingest(self.db, events)]

    async def tokens(
        self, event_id: str, count: Any, external_id: str | None = None, **kw: Any
    ) -> str:
        """One ``tokens`` event (cost count × 0.001); returns its status."""
        event = EventIn(
            id=event_id,
            customer=external_id or self.customer,
            event_type="tokens",
            properties={"count": count, "model": "m1"},
            **kw,
        )
        (result,) = await service.ingest(self.db, [event])
        return result.status

    # -- reads (fresh sessions, straight from the database) ----------------------------------

    async def wallet(self, external_id: str | None = None) -> Wallet:
        return (await self.account(external_id))[1]

    async def customer_row(self, external_id: str | None = None) -> Customer:
        return (await self.account(external_id))[0]

    async def account(self, external_id: str | None = None) -> tuple[Customer, Wallet]:
        async with self.db.session() as session:
            row = (
                await session.exec(
                    select(Customer, Wallet)
                    .join(Wallet, col(Wallet.customer_id) == col(Customer.id))
                    .where(Customer.external_id == (external_id or self.customer))
                )
            ).one()
        return row[0], row[1]

    async def grants(self, external_id: str | None = None) -> list[Grant]:
        customer = await self.customer_row(external_id)
        async with self.db.session() as session:
            rows = await session.exec(
                select(Grant).where(Grant.customer_id == customer.id).order_by(col(Grant.id))
            )
            return list(rows.all())

    async def get_grant(self, grant_id: int | None) -> Grant:
        async with self.db.session() as session:
            found = await session.get(Grant, grant_id)
        assert found is not None
        return found

    async def get_hold(self, hold_id: str) -> Hold:
        async with self.db.session() as session:
            found = await session.get(Hold, hold_id)
        assert found is not None
        return found

    async def entries(self, external_id: str | None = None) -> list[LedgerEntry]:
        customer = await self.customer_row(external_id)
        async with self.db.session() as session:
            rows = await session.exec(
                select(LedgerEntry)
                .where(LedgerEntry.customer_id == customer.id)
                .order_by(col(LedgerEntry.id))
            )
            return list(rows.all())

    async def outbox(self, external_id: str | None = None) -> list[str]:
        customer = await self.customer_row(external_id)
        async with self.db.session() as session:
            rows = await session.exec(
                select(OutboxMessage.kind)
                .where(OutboxMessage.customer_id == customer.id)
                .order_by(col(OutboxMessage.id))
            )
            return list(rows.all())

    async def execute(self, sql: str, **params: Any) -> None:
        """Raw SQL in one write transaction (to corrupt rows on purpose)."""
        async with self.db.transaction() as session:
            await (await session.connection()).execute(text(sql), params)

    async def backdate_grant(self, grant_id: int | None, expires_at: datetime) -> None:
        """Move a grant's expiry into the past (the ledger refuses to grant it that way)."""
        async with self.db.transaction() as session:
            grant = await session.get(Grant, grant_id)
            assert grant is not None
            grant.expires_at = expires_at
            session.add(grant)

    async def set_recharge_threshold(
        self, threshold: Decimal | None, who: str | None = None
    ) -> None:
        """What configuring auto-recharge stores on the wallet (the ledger only reads it)."""
        customer = await self.customer_row(who)
        async with self.db.transaction() as session:
            wallet = (
                await session.exec(select(Wallet).where(Wallet.customer_id == customer.id))
            ).one()
            wallet.recharge_threshold = threshold
            session.add(wallet)

    async def backdate_hold(self, hold_id: str, expires_at: datetime) -> None:
        """Move a hold's TTL into the past."""
        async with self.db.transaction() as session:
            hold = await session.get(Hold, hold_id)
            assert hold is not None
            hold.expires_at = expires_at
            session.add(hold)


async def make_ledger(url: str, customers: int = 1, **db_kwargs: Any) -> Ledger:
    """Put ``LEDGER_PLAN`` and ``customers`` fresh customers into the migrated database at
    ``url``."""
    db = Database(url, **db_kwargs)
    await create_plan(db, LEDGER_PLAN)
    ids: list[str] = []
    for n in range(1, customers + 1):
        external_id = f"led_{n}_{uuid.uuid4().hex[:8]}"
        await register_customer(
            db,
            external_id=external_id,
            name=f"Customer {n}",
            email=f"c{n}@example.com",
            plan=LEDGER_PLAN_CODE,
            stripe_customer_id=f"cus_test_{n}",  # fake: the DB layer never calls Stripe
            workflow_id=f"customer-{external_id}",  # fake: no Temporal here
        )
        ids.append(external_id)
    return Ledger(db, ids)


@asynccontextmanager
async def migrated_ledger(url: str, customers: int = 1, **db_kwargs: Any) -> AsyncIterator[Ledger]:
    """Migrate the database at ``url``, then :func:`make_ledger`; its engine disposed after."""
    await asyncio.to_thread(upgrade, url)
    made = await make_ledger(url, customers, **db_kwargs)
    try:
        yield made
    finally:
        await made.db.dispose()


API_KEY = "ledger-test-key"


def serve_api(
    ledger: Ledger, hot_paths: bool = True
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The API on a real HTTP port over ``ledger``'s database (no Temporal: the routes the
    ledger answers never need it); a client with the API key. ``hot_paths=False`` serves
    every request through FastAPI's routes (``api.hot_paths`` off)."""
    return serve_database(ledger.db, hot_paths=hot_paths)


@asynccontextmanager
async def serve_database(
    db: Database, hot_paths: bool = True, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The API over ``db`` without Temporal, with ``settings`` beyond the defaults."""
    app = create_app(settings=Settings(api_key=API_KEY, database_url=db.url, **settings), db=db)
    if not hot_paths:
        app.hot_paths = None
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
            lifespan="on",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    base_url = f"http://127.0.0.1:{server.config.port}"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    try:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
            yield http
    finally:
        server.should_exit = True
        await serving
