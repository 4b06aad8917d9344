"""customers.closure_*, closed_at and closure_refunds: closing an account

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditgate.infra.sqltypes
import creditgate.values.money

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Money = creditgate.values.money.Money


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("closure_reason", sa.String(length=500), nullable=True))
        batch.add_column(_time("closure_requested_at"))
        batch.add_column(_time("closed_at"))
    op.create_table(
        "closure_refunds",
        sa.Column("purchase_id", sa.String(length=64), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("payment_intent", sa.String(length=100), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("currency", sa.String(length=20), nullable=False),
        sa.Column("credits", Money(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=100), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
    )
    op.create_index("ix_closure_refunds_customer_id", "closure_refunds", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_closure_refunds_customer_id", table_name="closure_refunds")
    op.drop_table("closure_refunds")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("closed_at")
        batch.drop_column("closure_requested_at")
        batch.drop_column("closure_reason")
