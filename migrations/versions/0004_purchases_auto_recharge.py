"""purchases, auto-recharge settings, saved payment method

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import creditgate.infra.sqltypes
import creditgate.values.money

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = creditgate.infra.sqltypes.UTCDateTime
Money = creditgate.values.money.Money


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("payment_method", AutoString(length=100), nullable=True))
    op.create_table(
        "purchases",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("currency", AutoString(length=3), nullable=False),
        sa.Column("credits", Money(), nullable=False),
        sa.Column("payment_method", AutoString(length=100), nullable=True),
        sa.Column("payment_intent", AutoString(length=100), nullable=True),
        sa.Column("client_secret", AutoString(length=200), nullable=True),
        sa.Column("reason", AutoString(length=500), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("clawed_back", Money(), nullable=False),
        sa.Column("refunded_amount", Money(), nullable=False),
        sa.Column("workflow_id", AutoString(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_purchases_customer_created", "purchases", ["customer_id", "created_at"], unique=False
    )
    op.create_index("ix_purchases_payment_intent", "purchases", ["payment_intent"], unique=True)
    op.create_table(
        "auto_recharges",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("threshold", Money(), nullable=False),
        sa.Column("recharge_to", Money(), nullable=False),
        sa.Column("payment_method", AutoString(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("disabled_reason", AutoString(length=500), nullable=True),
        sa.Column("last_recharge_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )


def downgrade() -> None:
    op.drop_table("auto_recharges")
    op.drop_index("ix_purchases_payment_intent", table_name="purchases")
    op.drop_index("ix_purchases_customer_created", table_name="purchases")
    op.drop_table("purchases")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("payment_method")
