"""customers and wallets

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import creditgate.infra.sqltypes
import creditgate.values.money

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_code", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "stripe_customer_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True
        ),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", creditgate.infra.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_external_id"), ["external_id"], unique=True)

    op.create_table(
        "wallets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("balance", creditgate.values.money.Money(precision=38, scale=18), nullable=False),
        sa.Column("held", creditgate.values.money.Money(precision=38, scale=18), nullable=False),
        sa.Column("entitled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", creditgate.infra.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallets_customer_id"), ["customer_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallets_customer_id"))

    op.drop_table("wallets")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_external_id"))

    op.drop_table("customers")
