"""wallet credit limit (arrears plans)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditgate.values.money

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallets") as batch:
        batch.add_column(sa.Column("credit_limit", creditgate.values.money.Money(), nullable=True))
    # Every wallet so far is prepaid: entitled only above zero.
    op.execute(sa.text("UPDATE wallets SET credit_limit = 0"))


def downgrade() -> None:
    with op.batch_alter_table("wallets") as batch:
        batch.drop_column("credit_limit")
