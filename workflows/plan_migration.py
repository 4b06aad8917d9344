"""PlanMigrationWorkflow (``plan-migration-{code}-{from}-{to}-{short id}``): moves a plan's
customers from one version to another in batches.

Each batch is one activity over the next ``batch_size`` customers by id after the last one
seen (kept in workflow state): it moves only those still on ``from_version`` and counts them in
the migration's row in the same transaction, so a retried or replayed batch moves nobody
twice, and a worker killed mid-way resumes where the history says. Progress is the
``progress`` query, the workflow's current details in the Temporal UI, and the row that
``GET /v1/plans/{code}/migrations/{id}`` reads. Long migrations continue-as-new, carrying
their progress.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.activity_calls import call

with workflow.unsafe.imports_passed_through():
    from activities.plan_migrations import PlanMigrationActivities
    from messages.plan_migration import (
        FinishMigrationInput,
        MigrationProgress,
        MoveBatchInput,
        OpenMigrationInput,
        PlanMigrationInput,
    )


@workflow.defn
class PlanMigrationWorkflow:
    @workflow.init
    def __init__(self, input: PlanMigrationInput) -> None:
        self.progress = input.progress or MigrationProgress(
            migration_id=input.migration_id,
            plan_code=input.plan_code,
            from_version=input.from_version,
            to_version=input.to_version,
            effective=input.effective,
        )

    @workflow.run
    async def run(self, input: PlanMigrationInput) -> MigrationProgress:
        try:
            if input.progress is None:
                opened = await call(
                    PlanMigrationActivities.open_migration,
                    OpenMigrationInput(
                        migration_id=input.migration_id,
                        plan_code=input.plan_code,
                        from_version=input.from_version,
                        to_version=input.to_version,
                        effective=input.effective,
                        workflow_id=workflow.info().workflow_id,
                    ),
                )
                self.progress.total = opened.total
                self.progress.moved = opened.moved
                if opened.status != "running":  # finished before (a repeated start)
                    self.progress.status = "completed" if opened.status == "completed" else "failed"
                    return self.progress
            self._show()
            await self._move_all(input)
            await call(
                PlanMigrationActivities.finish_migration,
                FinishMigrationInput(migration_id=input.migration_id, status="completed"),
            )
        except (ActivityError, asyncio.CancelledError) as err:
            reason = _reason(err)
            self.progress.status = "failed"
            self.progress.error = reason
            self._show()
            await call(
                PlanMigrationActivities.finish_migration,
                FinishMigrationInput(
                    migration_id=input.migration_id, status="failed", error=reason
                ),
            )
            raise ApplicationError(f"plan migration failed: {reason}", non_retryable=True) from err
        self.progress.status = "completed"
        self.progress.total = max(self.progress.total, self.progress.moved)
        self._show()
        return self.progress

    async def _move_all(self, input: PlanMigrationInput) -> None:
        batches_this_run = 0
        while True:
            batch = await call(
                PlanMigrationActivities.move_batch,
                MoveBatchInput(
                    migration_id=input.migration_id,
                    after_id=self.progress.last_customer_id,
                    limit=input.batch_size,
                ),
            )
            self.progress.last_customer_id = batch.last_customer_id
            self.progress.moved = batch.moved
            self.progress.total = batch.total
            self.progress.batches += 1
            batches_this_run += 1
            self._show()
            if batch.done:
                return
            if input.batch_pause_seconds > 0:
                await workflow.sleep(
                    timedelta(seconds=input.batch_pause_seconds), summary="pause between batches"
                )
            if workflow.info().is_continue_as_new_suggested() or (
                input.batches_per_run is not None and batches_this_run >= input.batches_per_run
            ):
                progress = self.progress.model_copy(
                    update={"run_number": self.progress.run_number + 1}
                )
                workflow.continue_as_new(input.model_copy(update={"progress": progress}))

    def _show(self) -> None:
        p = self.progress
        workflow.set_current_details(
            f"**{p.status}**: plan `{p.plan_code}` v{p.from_version} → v{p.to_version} "
            f"({p.effective}): moved {p.moved} of {p.total} customers in {p.batches} batches, "
            f"last customer id {p.last_customer_id}, run {p.run_number}"
            + (f"\n\nerror: {p.error}" if p.error else "")
        )

    @workflow.query(name="progress")
    def get_progress(self) -> MigrationProgress:
        return self.progress


def _reason(err: BaseException) -> str:
    if isinstance(err, asyncio.CancelledError):
        return "cancelled"
    cause: BaseException | None = err
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    return str(cause) or type(cause).__name__
