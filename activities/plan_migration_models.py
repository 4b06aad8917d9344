"""Plan migration activity inputs and results (plain pydantic, imported by workflows).

Kept apart from ``workflows/plan_migration_models.py``: the workflow sandbox re-imports
workflow modules, so an activity must not return a class defined there.
"""

from pydantic import BaseModel


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
