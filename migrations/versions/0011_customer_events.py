"""customer_events and customers.last_event_sequence: the per-customer event stream

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditgate.infra.sqltypes

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("last_event_sequence", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "customer_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(length=40), nullable=False, unique=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.UniqueConstraint("customer_id", "sequence", name="uq_customer_events_sequence"),
        sa.UniqueConstraint("customer_id", "key", name="uq_customer_events_key"),
    )


def downgrade() -> None:
    op.drop_table("customer_events")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("last_event_sequence")
