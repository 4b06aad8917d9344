"""Plan migration activities: open the migration's row, move one batch, finish.

A refusal (unknown version, another migration running) is a non-retryable
``ApplicationError`` of type ``InvalidMigration``; database errors are retried.
"""

from temporalio import activity
from temporalio.exceptions import ApplicationError

from creditgate.infra.db import Database
from creditgate.ledger.errors import LedgerError
from creditgate.models import PlanMigration
from creditgate.plans import migrations as plan_migrations
from messages.plan_migration import (
    BatchResult,
    FinishMigrationInput,
    MigrationRecord,
    MoveBatchInput,
    OpenMigrationInput,
)

INVALID_MIGRATION = "InvalidMigration"


def _record(row: PlanMigration) -> MigrationRecord:
    return MigrationRecord(
        status=row.status,
        total=row.total,
        moved=row.moved,
        last_customer_id=row.last_customer_id,
        error=row.error,
    )


class PlanMigrationActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    async def open_migration(self, input: OpenMigrationInput) -> MigrationRecord:
        """The migration's row (the API usually made it already; a workflow started some
        other way makes it here), after checking the versions."""
        spec = plan_migrations.MigrationSpec(
            migration_id=input.migration_id,
            plan_code=input.plan_code,
            from_version=input.from_version,
            to_version=input.to_version,
            effective=input.effective,
            workflow_id=input.workflow_id,
        )
        try:
            async with self.db.session() as session:
                await plan_migrations.check_versions(
                    session, input.plan_code, input.from_version, input.to_version, input.effective
                )
            row = await plan_migrations.create(self.db, spec)
        except LedgerError as err:
            raise ApplicationError(
                err.message, type=INVALID_MIGRATION, non_retryable=True
            ) from None
        return _record(row)

    @activity.defn
    async def move_batch(self, input: MoveBatchInput) -> BatchResult:
        batch = await plan_migrations.move_batch(
            self.db, input.migration_id, input.after_id, input.limit
        )
        return BatchResult(
            moved_now=batch.moved_now,
            last_customer_id=batch.last_customer_id,
            done=batch.done,
            moved=batch.moved,
            total=batch.total,
        )

    @activity.defn
    async def finish_migration(self, input: FinishMigrationInput) -> MigrationRecord | None:
        row = await plan_migrations.finish(self.db, input.migration_id, input.status, input.error)
        return None if row is None else _record(row)
