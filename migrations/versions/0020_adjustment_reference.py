"""ledger_entries.reference: an adjustment's key, one entry per key and customer

A debit adjustment booked again with the same key (an operator update's activity retried
after its reply was lost, or a client's retried request with the same Idempotency-Key)
returns the first entry instead of booking another. The unique index is partial: entries
without a key (every usage debit) are not in it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("reference IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=200), nullable=True))
    op.create_index(
        "uq_ledger_customer_reference",
        "ledger_entries",
        ["customer_id", "reference"],
        unique=True,
        sqlite_where=WHERE,
        postgresql_where=WHERE,
    )


def downgrade() -> None:
    op.drop_index("uq_ledger_customer_reference", table_name="ledger_entries")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("reference")
