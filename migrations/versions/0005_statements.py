"""statements, wallet credit limit

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import creditgate.infra.sqltypes
import creditgate.values.money

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = creditgate.infra.sqltypes.UTCDateTime
Money = creditgate.values.money.Money
AMOUNTS = (
    "opening_balance", "grants", "usage_debited", "expired", "adjustments",
    "realtime_debits", "true_up", "closing_balance", "amount_due",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("period_start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", UTCDateTime(timezone=True), nullable=False),
        sa.Column("frozen_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("plan_code", AutoString(length=100), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("billing", sa.String(length=20), nullable=False),
        sa.Column("unit", AutoString(length=20), nullable=False),
        sa.Column("currency", AutoString(length=20), nullable=False),
        *(sa.Column(name, Money(), nullable=False) for name in AMOUNTS),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("late_events", sa.Integer(), nullable=False),
        sa.Column("first_entry_id", sa.Integer(), nullable=True),
        sa.Column("last_entry_id", sa.Integer(), nullable=True),
        sa.Column("payment_status", sa.String(length=20), nullable=False),
        sa.Column("payment_intent", AutoString(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "number", name="uq_statements_customer_number"),
        sa.UniqueConstraint("customer_id", "period_index", name="uq_statements_customer_period"),
    )


def downgrade() -> None:
    op.drop_table("statements")
