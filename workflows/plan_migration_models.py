"""PlanMigrationWorkflow's input and progress: plain pydantic models, safe in the sandbox."""

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
