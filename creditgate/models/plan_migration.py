"""Plan migrations: moving a plan's customers from one version to another, in batches."""

from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.models.common import timestamp_field
from creditgate.models.ledger import BigId


class PlanMigration(SQLModel, table=True):
    """One migration, kept current by ``PlanMigrationWorkflow``'s activities."""

    __tablename__ = "plan_migrations"
    __table_args__ = (Index("ix_plan_migrations_plan_created", "plan_code", "created_at"),)

    id: str = Field(max_length=40, primary_key=True)
    plan_code: str = Field(max_length=100)
    from_version: int
    to_version: int
    # now | next_period
    effective: str = Field(sa_type=String(20))
    # running | completed | failed
    status: str = Field(default="running", sa_type=String(20))
    # The plan's code while the migration runs, NULL after: one running migration per plan.
    running_plan: str | None = Field(default=None, max_length=100, unique=True)
    total: int = 0  # customers on from_version when the migration started
    moved: int = 0
    # Keyset pagination: the highest customer id a batch has looked at.
    last_customer_id: int = 0
    workflow_id: str = Field(max_length=300)
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlanMigrationMove(SQLModel, table=True):
    """One customer moved by one migration, written in the same transaction as the move (so
    "each customer moved exactly once" can be read back)."""

    __tablename__ = "plan_migration_moves"
    __table_args__ = (
        Index("ix_plan_migration_moves_migration_customer", "migration_id", "customer_id"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    migration_id: str = Field(max_length=40, foreign_key="plan_migrations.id")
    customer_id: int = Field(foreign_key="customers.id")
    from_version: int
    to_version: int
    effective: str = Field(sa_type=String(20))
    created_at: datetime = timestamp_field()
