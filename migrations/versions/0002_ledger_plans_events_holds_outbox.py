"""ledger plans events holds outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import creditgate.infra.sqltypes
import creditgate.values.money

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Customers who sign up without naming a plan are subscribed to this one.
DEFAULT_PLAN = {
    "code": "default",
    "name": "Default (no metered prices)",
    "currency": "USD",
    "meters": [],
    "prices": [],
    "billing": "prepaid",
    "period": {"every": 1, "unit": "month"},
    "grace_seconds": 3600,
}


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version", name="uq_plans_code_version"),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_code"), ["code"], unique=False)

    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("amount", creditgate.values.money.Money(precision=38, scale=18), nullable=False),
        sa.Column(
            "remaining", creditgate.values.money.Money(precision=38, scale=18), nullable=False
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "effective_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "expired_amount", creditgate.values.money.Money(precision=38, scale=18), nullable=False
        ),
        sa.Column(
            "created_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "reference", name="uq_grants_customer_reference"),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index("ix_grants_customer_status", ["customer_id", "status"], unique=False)

    op.create_table(
        "holds",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("amount", creditgate.values.money.Money(precision=38, scale=18), nullable=False),
        sa.Column(
            "remaining", creditgate.values.money.Money(precision=38, scale=18), nullable=False
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "expires_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("closed_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index("ix_holds_customer_status", ["customer_id", "status"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", creditgate.values.money.Money(precision=38, scale=18), nullable=False),
        sa.Column(
            "balance_after", creditgate.values.money.Money(precision=38, scale=18), nullable=False
        ),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("hold_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("allocations", sa.JSON(), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column(
            "created_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_customer_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_ledger_event", ["customer_id", "event_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("sent_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unsent", ["sent_at", "id"], unique=False)

    op.create_table(
        "usage_counters",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "period_start", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("price_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "quantity", creditgate.values.money.Money(precision=38, scale=18), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.PrimaryKeyConstraint("customer_id", "period_start", "price_key"),
    )
    op.create_table(
        "usage_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column(
            "timestamp", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "received_at", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("meter_code", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column(
            "quantity", creditgate.values.money.Money(precision=38, scale=18), nullable=False
        ),
        sa.Column("distinct_value", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("cost", creditgate.values.money.Money(precision=38, scale=18), nullable=False),
        sa.Column("price_index", sa.Integer(), nullable=True),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("hold_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "event_id", name="uq_usage_events_customer_event"),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_customer_meter_time", ["customer_id", "meter_code", "timestamp"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "period_anchor", creditgate.infra.sqltypes.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.execute("UPDATE customers SET period_anchor = created_at")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column(
            "period_anchor",
            existing_type=creditgate.infra.sqltypes.UTCDateTime(timezone=True),
            nullable=False,
        )

    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "recharge_threshold",
                creditgate.values.money.Money(precision=38, scale=18),
                nullable=True,
            )
        )

    plans = sa.table(
        "plans",
        sa.column("code", sa.String),
        sa.column("version", sa.Integer),
        sa.column("name", sa.String),
        sa.column("currency", sa.String),
        sa.column("definition", sa.JSON),
        sa.column("created_at", creditgate.infra.sqltypes.UTCDateTime()),
    )
    op.bulk_insert(
        plans,
        [
            {
                "code": "default",
                "version": 1,
                "name": "Default (no metered prices)",
                "currency": "USD",
                "definition": DEFAULT_PLAN,
                "created_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_column("recharge_threshold")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("period_anchor")

    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_customer_meter_time")

    op.drop_table("usage_events")
    op.drop_table("usage_counters")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unsent")

    op.drop_table("outbox")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_event")
        batch_op.drop_index("ix_ledger_customer_id")

    op.drop_table("ledger_entries")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_customer_status")

    op.drop_table("holds")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index("ix_grants_customer_status")

    op.drop_table("grants")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_code"))

    op.drop_table("plans")
