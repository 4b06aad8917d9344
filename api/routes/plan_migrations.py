"""Plan lifecycle: migrate a plan's customers between versions, simulate a version on usage."""

from fastapi import APIRouter, status
from temporalio.service import RPCError

from api.deps import DbDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.schemas.common import ERROR_CONTENT, ERRORS, MigrationIdPath, PlanCode
from api.schemas.plan_migrations import (
    CustomerSimulationPublic,
    MigrationCreate,
    MigrationPublic,
    SimulationCreate,
    SimulationPublic,
    SimulationTotals,
)
from creditgate.plans import migrations as plan_migrations
from creditgate.plans import simulation as plan_simulation
from messages.plan_migration import PlanMigrationInput
from workflows.plan_migration import PlanMigrationWorkflow

router = APIRouter(prefix="/plans", tags=["plans"], responses=ERRORS)


@router.post(
    "/{code}/migrate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MigrationPublic,
    responses={
        409: {
            "content": ERROR_CONTENT,
            "description": "A migration of this plan is already running",
        }
    },
)
async def migrate(
    code: PlanCode,
    body: MigrationCreate,
    db: DbDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> MigrationPublic:
    """Move every customer on ``from_version`` to ``to_version``: at once (``now``) or when
    each customer's current period closes (``next_period``). Runs as
    ``PlanMigrationWorkflow`` in batches; follow it with ``GET .../migrations/{id}``."""
    async with db.session() as session:
        await plan_migrations.check_versions(
            session, code, body.from_version, body.to_version, body.effective
        )
    migration_id = plan_migrations.new_migration_id()
    workflow_id = plan_migrations.migration_workflow_id(
        code, body.from_version, body.to_version, migration_id
    )
    row = await plan_migrations.create(
        db,
        plan_migrations.MigrationSpec(
            migration_id=migration_id,
            plan_code=code,
            from_version=body.from_version,
            to_version=body.to_version,
            effective=body.effective,
            workflow_id=workflow_id,
        ),
    )
    try:
        await client.start_workflow(
            PlanMigrationWorkflow.run,
            PlanMigrationInput(
                migration_id=migration_id,
                plan_code=code,
                from_version=body.from_version,
                to_version=body.to_version,
                effective=body.effective,
            ),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
        )
    except RPCError as err:
        await plan_migrations.finish(db, migration_id, "failed", f"not started: {err.message}")
        raise ApiError(503, "temporal_unavailable", f"Temporal: {err.message}") from None
    return MigrationPublic.of(row)


@router.get("/{code}/migrations", response_model=list[MigrationPublic])
async def list_migrations(code: PlanCode, session: SessionDep) -> list[MigrationPublic]:
    """The plan's latest migrations, newest first."""
    return [MigrationPublic.of(row) for row in await plan_migrations.latest(session, code)]


@router.get("/{code}/migrations/{migration_id}", response_model=MigrationPublic)
async def read_migration(
    code: PlanCode, migration_id: MigrationIdPath, session: SessionDep
) -> MigrationPublic:
    return MigrationPublic.of(await plan_migrations.get(session, code, migration_id))


@router.post("/{code}/simulate", response_model=SimulationPublic)
async def simulate(code: PlanCode, body: SimulationCreate, db: DbDep) -> SimulationPublic:
    """Rate the recorded usage (events with a timestamp in ``[from, to)``, at most 366 days)
    of every customer on the plan under ``version`` and under the customer's own version."""
    result = await plan_simulation.simulate(db, code, body.version, body.start, body.end)
    return SimulationPublic(
        plan=result.plan_code,
        version=result.version,
        unit=result.unit,
        start=result.start,
        end=result.end,
        customers=[
            CustomerSimulationPublic(
                external_id=c.external_id,
                current_version=c.current_version,
                current_amount=c.current_amount,
                simulated_amount=c.simulated_amount,
                difference=c.difference,
                events=c.events,
                unmeasured_events=c.unmeasured_events,
            )
            for c in result.customers
        ],
        totals=SimulationTotals(
            current=result.current, simulated=result.simulated, difference=result.difference
        ),
    )
