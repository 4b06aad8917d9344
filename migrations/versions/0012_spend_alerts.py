"""wallets.alert_rules and wallets.alert_amounts: spend alerts

``alert_rules`` holds the customer's spend-alert thresholds as given (amounts and percentages;
the plan's default copied at signup); ``alert_amounts`` the amounts they resolve to, as
comma-separated decimal text, which the ledger's hot transaction reads with the wallet.

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallets") as batch:
        batch.add_column(sa.Column("alert_rules", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("alert_amounts", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wallets") as batch:
        batch.drop_column("alert_amounts")
        batch.drop_column("alert_rules")
