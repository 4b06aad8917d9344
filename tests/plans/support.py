"""Helpers the plan lifecycle suites share: customers made in bulk, migrations over HTTP."""

from typing import Any

from sqlalchemy import select

from creditgate.ledger import tables as t
from creditgate.models import Customer, PlanMigrationMove, Wallet
from tests.support.stack import Stack
from tests.support.waiting import eventually


async def bulk_customers(
    stack: Stack, prefix: str, plan_code: str, plan_version: int, count: int
) -> list[int]:
    """``count`` customers (with wallets) straight into the database: a plan migration needs
    no customer workflow, and 500 signups through the API would take minutes."""
    async with stack.db.transaction() as session:
        customers = [
            Customer(
                external_id=f"{prefix}-{i:04d}",
                name=f"Bulk {i}",
                email=f"bulk{i}@example.com",
                plan_code=plan_code,
                plan_version=plan_version,
                workflow_id=f"placeholder-{prefix}-{i:04d}",
            )
            for i in range(count)
        ]
        session.add_all(customers)
        await session.flush()
        ids = [c.id for c in customers if c.id is not None]
        session.add_all(Wallet(customer_id=customer_id) for customer_id in ids)
    return ids


async def plan_versions(stack: Stack, ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
    """customer id → (plan_version, next_plan_version)."""
    c = t.customers.c
    async with stack.db.read_engine.connect() as conn:
        rows = await conn.execute(
            select(c.id, c.plan_version, c.next_plan_version).where(c.id.in_(ids))
        )
        return {r.id: (r.plan_version, r.next_plan_version) for r in rows}


async def moves_of(stack: Stack, migration_id: str) -> list[int]:
    """The customer ids the migration's audit rows name, one per move."""
    moves = PlanMigrationMove.__table__  # type: ignore[attr-defined]
    async with stack.db.read_engine.connect() as conn:
        rows = await conn.execute(
            select(moves.c.customer_id).where(moves.c.migration_id == migration_id)
        )
        return [r.customer_id for r in rows]


async def get_migration(stack: Stack, code: str, migration_id: str) -> dict[str, Any]:
    response = await stack.http.get(f"/v1/plans/{code}/migrations/{migration_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_until_finished(
    stack: Stack, code: str, migration_id: str, timeout: float = 60
) -> dict[str, Any]:
    return await eventually(
        lambda: get_migration(stack, code, migration_id),
        until=lambda m: m["status"] != "running",
        timeout=timeout,
        what=f"migration {migration_id} to finish",
    )


async def new_version(stack: Stack, code: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await stack.http.post(f"/v1/plans/{code}/versions", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
