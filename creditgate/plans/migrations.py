"""Plan migrations: customers of a plan move from one version to another, in batches.

``PlanMigrationWorkflow`` drives a migration; everything it does to the database is here. A
batch moves only customers still on ``from_version`` (a conditional UPDATE), and writes one
``plan_migration_moves`` row per customer it moved and the migration's running count in the
same transaction: a batch that runs twice (a retried activity, a worker killed after the
commit) finds those customers moved and moves nobody twice.

``effective``: ``now`` sets ``customers.plan_version`` (the next event is rated under the new
version, and so is the open period at its close); ``next_period`` sets
``customers.next_plan_version``, which the period close applies when the current period ends.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.events.catalogue import EventType, PlanMigrationCompleted
from creditgate.events.store import insert_events
from creditgate.infra.db import Database
from creditgate.ledger import tables as t
from creditgate.ledger.errors import Conflict, LedgerError, NotFound
from creditgate.models import PlanMigration, PlanMigrationMove
from creditgate.plans import catalog as plans

Effective = Literal["now", "next_period"]
EFFECTIVE: tuple[str, ...] = ("now", "next_period")
BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000

migrations = PlanMigration.__table__  # type: ignore[attr-defined]
moves = PlanMigrationMove.__table__  # type: ignore[attr-defined]


class InvalidMigration(LedgerError):
    type = "invalid_migration"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_migration_id() -> str:
    return f"mig_{uuid.uuid4().hex[:16]}"


def migration_workflow_id(code: str, from_version: int, to_version: int, migration_id: str) -> str:
    short = migration_id.removeprefix("mig_")[:8]
    return f"plan-migration-{code}-{from_version}-{to_version}-{short}"


@dataclass(frozen=True)
class MigrationSpec:
    migration_id: str
    plan_code: str
    from_version: int
    to_version: int
    effective: str
    workflow_id: str


async def check_versions(
    session: AsyncSession, code: str, from_version: int, to_version: int, effective: str
) -> None:
    """404 for an unknown plan or version; 400 for a migration that cannot be done."""
    if effective not in EFFECTIVE:
        raise InvalidMigration(
            f"effective must be one of {', '.join(EFFECTIVE)}, not {effective!r}"
        )
    await plans.get_plan(session, code)
    source = await plans.definition(session, code, from_version)
    target = await plans.definition(session, code, to_version)
    if from_version == to_version:
        raise InvalidMigration("from_version and to_version are the same version")
    if source.wallet_unit != target.wallet_unit:
        raise InvalidMigration(
            f"version {to_version} keeps balances in {target.wallet_unit}, version "
            f"{from_version} in {source.wallet_unit}: wallets cannot change unit"
        )


def _still_to_move(spec: Any) -> Any:
    """Customers the migration (a ``MigrationSpec``, ``PlanMigration`` or row of either) has
    yet to move."""
    c = t.customers.c
    condition = (c.plan_code == spec.plan_code) & (c.plan_version == spec.from_version)
    if spec.effective == "next_period":
        condition &= or_(c.next_plan_version.is_(None), c.next_plan_version != spec.to_version)
    return condition


async def _count(session: AsyncSession, spec: MigrationSpec | PlanMigration) -> int:
    count = select(func.count()).select_from(t.customers).where(_still_to_move(spec))
    return int((await (await session.connection()).execute(count)).scalar_one())


async def create(db: Database, spec: MigrationSpec) -> PlanMigration:
    """The migration's row, ``running``; 409 while another migration of the plan runs.
    Creating the same id again returns the row already there."""
    try:
        async with db.transaction() as session:
            found = await session.get(PlanMigration, spec.migration_id)
            if found is not None:
                return found
            row = PlanMigration(
                id=spec.migration_id,
                plan_code=spec.plan_code,
                from_version=spec.from_version,
                to_version=spec.to_version,
                effective=spec.effective,
                running_plan=spec.plan_code,
                total=await _count(session, spec),
                workflow_id=spec.workflow_id,
            )
            session.add(row)
        return row
    except IntegrityError:
        async with db.session() as session:
            running = (
                await session.exec(
                    sm_select(PlanMigration).where(PlanMigration.running_plan == spec.plan_code)
                )
            ).first()
        detail = f" ({running.id}, workflow {running.workflow_id})" if running else ""
        raise Conflict(
            f"a migration of plan {spec.plan_code!r} is already running{detail}"
        ) from None


async def get(session: AsyncSession, code: str, migration_id: str) -> PlanMigration:
    row = await session.get(PlanMigration, migration_id)
    if row is None or row.plan_code != code:
        raise NotFound(f"no migration {migration_id!r} of plan {code!r}")
    return row


async def latest(session: AsyncSession, code: str) -> list[PlanMigration]:
    rows = await session.exec(
        sm_select(PlanMigration)
        .where(PlanMigration.plan_code == code)
        .order_by(col(PlanMigration.created_at).desc())
        .limit(100)
    )
    return list(rows)


@dataclass(frozen=True)
class Batch:
    moved_now: int  # customers this batch moved
    last_customer_id: int  # the highest id it looked at (the next batch starts after it)
    done: bool  # fewer candidates than the batch size: nobody left after this one
    moved: int  # the migration's running count
    total: int


def _completed_events(migration: Any, moved: Sequence[Any]) -> list[dict[str, Any]]:
    data = PlanMigrationCompleted(
        migration_id=migration.id,
        plan=migration.plan_code,
        from_version=migration.from_version,
        to_version=migration.to_version,
        effective=migration.effective,
    ).dump()
    return [
        {
            "customer_id": m.id,
            "external_id": m.external_id,
            "type": str(EventType.plan_migration_completed),
            "key": f"plan_migration.completed:{migration.id}",
            "data": data,
        }
        for m in moved
    ]


async def move_batch(db: Database, migration_id: str, after_id: int, limit: int) -> Batch:
    """Move the next ``limit`` customers (by id, after ``after_id``) still on from_version."""
    async with db.write() as conn:
        row = (await conn.execute(select(migrations).where(migrations.c.id == migration_id))).one()
        if row.status != "running":
            return Batch(0, after_id, True, row.moved, row.total)
        c = t.customers.c
        candidates = (
            select(c.id).where(_still_to_move(row), c.id > after_id).order_by(c.id).limit(limit)
        )
        if not db.is_sqlite:  # SQLite's BEGIN IMMEDIATE already holds the write lock
            candidates = candidates.with_for_update(of=t.customers, key_share=True)
        ids = list((await conn.execute(candidates)).scalars())
        if not ids:
            return Batch(0, after_id, True, row.moved, row.total)
        target = (
            {"plan_version": row.to_version}
            if row.effective == "now"
            # A pending change to another plan code gives way to the migration.
            else {"next_plan_version": row.to_version, "next_plan_code": None}
        )
        moved = (
            await conn.execute(
                update(t.customers)
                .where(c.id.in_(ids), _still_to_move(row))
                .values(**target)
                .returning(c.id, c.external_id)
            )
        ).all()
        moved_ids = [m.id for m in moved]
        now = utcnow()
        if moved:
            await insert_events(conn, _completed_events(row, moved), now)
            await conn.execute(
                moves.insert(),
                [
                    {
                        "migration_id": migration_id,
                        "customer_id": customer_id,
                        "from_version": row.from_version,
                        "to_version": row.to_version,
                        "effective": row.effective,
                        "created_at": now,
                    }
                    for customer_id in sorted(moved_ids)
                ],
            )
        last = max(ids)
        counts = (
            await conn.execute(
                update(migrations)
                .where(migrations.c.id == migration_id)
                .values(
                    moved=migrations.c.moved + len(moved_ids),
                    last_customer_id=func.max(migrations.c.last_customer_id, last)
                    if db.is_sqlite
                    else func.greatest(migrations.c.last_customer_id, last),
                    updated_at=now,
                )
                .returning(migrations.c.moved, migrations.c.total)
            )
        ).one()
    return Batch(len(moved_ids), last, len(ids) < limit, counts.moved, counts.total)


async def finish(
    db: Database, migration_id: str, status: str, error: str | None = None
) -> PlanMigration | None:
    """``completed`` or ``failed``; the plan is free for its next migration. Idempotent;
    None when there is no such migration (its opening was refused)."""
    async with db.transaction() as session:
        row = await session.get(PlanMigration, migration_id)
        if row is None:
            return None
        if row.status == "running":
            now = utcnow()
            row.status = status
            row.error = error[:1000] if error else None
            row.running_plan = None
            row.total = max(row.total, row.moved)
            row.completed_at = now
            row.updated_at = now
            session.add(row)
    return row
