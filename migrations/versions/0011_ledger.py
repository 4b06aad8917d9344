"""holds.idempotency_key and holds.request_hash: one hold per key and customer

A hold placed again with the same key (a client's retry, or the ledger running its
transaction again after a lost COMMIT reply) returns the first; ``request_hash`` tells a
repeat from a different request that reuses the key.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_holds_customer_idempotency_key",
        "holds",
        ["customer_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_holds_customer_idempotency_key", table_name="holds")
    with op.batch_alter_table("holds") as batch:
        batch.drop_column("request_hash")
        batch.drop_column("idempotency_key")
