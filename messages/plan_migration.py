"""PlanMigrationWorkflow's input and progress, and the plan migration activities'
inputs and results."""

from typing import Literal

from pydantic import BaseModel, Field

MigrationStatus = Literal["running", "completed", "failed"]


class MigrationProgress(BaseModel):
    """What the ``progress`` query answers, carried across continue-as-new."""

    migration_id: str
    plan_code: str
    from_version: int
    to_version: int
    effective: Literal["now", "next_period"]
    status: MigrationStatus = "running"
    total: int = 0
    moved: int = 0
    last_customer_id: int = 0  # keyset: the next batch starts after this customer id
    batches: int = 0
    run_number: int = 1
    error: str | None = None


class PlanMigrationInput(BaseModel):
    migration_id: str
    plan_code: str
    from_version: int
    to_version: int
    effective: Literal["now", "next_period"]
    batch_size: int = Field(default=100, ge=1, le=1000)
    # A durable pause between batches, to spread the load of a large migration.
    batch_pause_seconds: float = Field(default=0.0, ge=0)
    # Continue-as-new after this many batches (besides whenever Temporal suggests it).
    batches_per_run: int | None = Field(default=None, ge=1)
    progress: MigrationProgress | None = None  # set on a continued run


class OpenMigrationInput(BaseModel):
    migration_id: str
    plan_code: str
    from_version: int
    to_version: int
    effective: str
    workflow_id: str


class MigrationRecord(BaseModel):
    """The migration's row as the activities left it."""

    status: str
    total: int
    moved: int
    last_customer_id: int
    error: str | None = None


class MoveBatchInput(BaseModel):
    migration_id: str
    after_id: int  # keyset: the batch takes customers with a higher id
    limit: int


class BatchResult(BaseModel):
    moved_now: int
    last_customer_id: int
    done: bool
    moved: int
    total: int


class FinishMigrationInput(BaseModel):
    migration_id: str
    status: str  # completed | failed
    error: str | None = None
