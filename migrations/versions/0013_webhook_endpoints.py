"""webhook_endpoints, webhook_deliveries, webhook_cursors: outbound webhook delivery

Revision ID: 0013
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditgate.infra.sqltypes

revision: str = "0013"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False, unique=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        _time("previous_secret_expires_at"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=20), nullable=True),
        _time("failing_since"),
        sa.Column("after_event", BigId, nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(length=40), nullable=False, unique=True),
        sa.Column(
            "endpoint_id", sa.Integer(), sa.ForeignKey("webhook_endpoints.id"), nullable=False
        ),
        sa.Column("event_pk", BigId, sa.ForeignKey("customer_events.id"), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("needs_kick", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        _time("last_attempt_at"),
        _time("delivered_at"),
        _time("created_at", nullable=False),
        sa.UniqueConstraint("endpoint_id", "event_pk", name="uq_webhook_deliveries_event"),
    )
    op.create_index(
        "ix_webhook_deliveries_stream",
        "webhook_deliveries",
        ["endpoint_id", "customer_id", "status", "sequence"],
    )
    op.create_index("ix_webhook_deliveries_kick", "webhook_deliveries", ["needs_kick"])
    op.create_table(
        "webhook_cursors",
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customers.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("dispatched_sequence", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_cursors")
    op.drop_index("ix_webhook_deliveries_kick", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_stream", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
