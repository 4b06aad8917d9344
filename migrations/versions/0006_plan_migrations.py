"""plan migrations, customers.next_plan_version

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import creditgate.infra.sqltypes

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = creditgate.infra.sqltypes.UTCDateTime
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("next_plan_version", sa.Integer(), nullable=True))
    op.create_table(
        "plan_migrations",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("plan_code", AutoString(length=100), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("effective", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("running_plan", AutoString(length=100), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("last_customer_id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", AutoString(length=300), nullable=False),
        sa.Column("error", AutoString(length=1000), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("running_plan"),
    )
    op.create_index(
        "ix_plan_migrations_plan_created", "plan_migrations", ["plan_code", "created_at"]
    )
    op.create_table(
        "plan_migration_moves",
        sa.Column("id", BigId, nullable=False),
        sa.Column("migration_id", AutoString(length=40), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("effective", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["migration_id"], ["plan_migrations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_plan_migration_moves_migration_customer",
        "plan_migration_moves",
        ["migration_id", "customer_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_plan_migration_moves_migration_customer", table_name="plan_migration_moves")
    op.drop_table("plan_migration_moves")
    op.drop_index("ix_plan_migrations_plan_created", table_name="plan_migrations")
    op.drop_table("plan_migrations")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("next_plan_version")
