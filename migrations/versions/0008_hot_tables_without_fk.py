"""usage_events and ledger_entries without a FOREIGN KEY to customers; no ix_ledger_event

Every row of these two append-only tables is written by the ledger transaction that holds
the customer's row lock, and customers are never deleted, so the reference holds by
construction (``creditgate check`` verifies it). The referential-integrity trigger cost
about 5 µs per row on PostgreSQL: a quarter of the hot write's time (docs/decisions.md).
``ix_ledger_event`` served no query (events are looked up in usage_events) and cost an index
insert per debit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("usage_events", "ledger_entries")
# SQLite's constraints are unnamed: batch mode names them by this convention to drop them.
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    op.drop_index("ix_ledger_event", table_name="ledger_entries")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            with op.batch_alter_table(table, naming_convention=SQLITE_NAMES) as batch:
                batch.drop_constraint(f"fk_{table}_customer_id_customers", type_="foreignkey")
        else:
            op.drop_constraint(f"{table}_customer_id_fkey", table, type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(
                f"{table}_customer_id_fkey", "customers", ["customer_id"], ["id"]
            )
    op.create_index("ix_ledger_event", "ledger_entries", ["customer_id", "event_id"])
