"""purchase idempotency keys in the database; outbox claims and dead letters

``purchase_idempotency_keys`` binds each ``Idempotency-Key`` of a purchase to a hash of its
request body and to the purchase it made (before, the customer workflow remembered the last
50 keys only, and not the body). ``outbox.claimed_until`` lets a relay claim rows in a short
transaction instead of holding their row locks while it signals; ``outbox.dead_at`` marks a
row given up after too many attempts, until an operator retries it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import creditgate.infra.sqltypes

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = creditgate.infra.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "purchase_idempotency_keys",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("key", AutoString(length=200), nullable=False),
        sa.Column("request_hash", AutoString(length=64), nullable=False),
        sa.Column("purchase_id", AutoString(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id", "key"),
    )
    op.create_index(
        "ix_purchase_idempotency_keys_created",
        "purchase_idempotency_keys",
        ["created_at"],
        unique=False,
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dead_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("dead_at")
        batch.drop_column("claimed_until")
    op.drop_index("ix_purchase_idempotency_keys_created", table_name="purchase_idempotency_keys")
    op.drop_table("purchase_idempotency_keys")
