"""Alembic migrations on SQLite and PostgreSQL: apply, idempotence, round trip, exact money."""

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel, select

import creditgate.models  # noqa: F401  (registers the tables)
from creditgate.devtools.migrate import alembic_config, upgrade
from creditgate.infra.db import Database, create_engine
from creditgate.models import Customer, Wallet

VERSION_TABLE = "alembic_version"


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _schema_state(connection: Connection) -> dict[str, Any]:
    """Current revision, tables and the diff against ``SQLModel.metadata``."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return {
        "revision": context.get_current_revision(),
        "tables": set(inspect(connection).get_table_names()),
        "diff": compare_metadata(context, SQLModel.metadata),
    }


async def _inspect(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema_state)
    finally:
        await engine.dispose()


def _model_tables() -> set[str]:
    return set(SQLModel.metadata.tables)


async def test_upgrade_matches_models(db_url: str) -> None:
    state = await _inspect(db_url)
    assert state["revision"] == _head()
    assert state["tables"] == _model_tables() | {VERSION_TABLE}
    assert state["diff"] == []


async def test_second_upgrade_is_a_noop(db_url: str) -> None:
    before = await _inspect(db_url)
    await asyncio.to_thread(upgrade, db_url)
    after = await _inspect(db_url)
    assert after == before
    assert after["diff"] == []


async def test_downgrade_to_base_then_upgrade(db_url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "base")
    state = await _inspect(db_url)
    assert state["revision"] is None
    assert state["tables"] - {VERSION_TABLE} == set()

    await asyncio.to_thread(upgrade, db_url)
    state = await _inspect(db_url)
    assert state["revision"] == _head()
    assert state["tables"] == _model_tables() | {VERSION_TABLE}
    assert state["diff"] == []


MONEY_VALUES = [
    Decimal("0.000000000000000001"),
    Decimal("12345678901234567890.5"),
    # every digit of NUMERIC(38, 18)
    Decimal("-12345678901234567890.123456789012345678"),
]


@pytest.mark.parametrize("amount", MONEY_VALUES, ids=str)
async def test_wallet_balance_round_trips_exactly(db_url: str, amount: Decimal) -> None:
    db = Database(db_url)
    try:
        async with db.transaction() as session:
            customer = Customer(
                external_id="cust_money", name="Money", email="m@example.com", workflow_id="wf"
            )
            session.add(customer)
            await session.flush()
            assert customer.id is not None
            session.add(Wallet(customer_id=customer.id, balance=amount))

        async with db.session() as session:
            wallet = (await session.exec(select(Wallet))).one()
            raw = await session.scalar(text("SELECT CAST(balance AS TEXT) FROM wallets"))
    finally:
        await db.dispose()

    assert isinstance(wallet.balance, Decimal)
    assert wallet.balance == amount
    assert format(wallet.balance, "f") == format(amount, "f")
    assert Decimal(raw) == amount  # stored exactly, not via a float
