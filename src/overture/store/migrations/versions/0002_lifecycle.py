"""Campaigns, versions, history, one run per schedule slot, users, tokens, sessions; durable runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RUN_COLUMNS = ("trigger", "slot", "started_by", "requested", "breakpoints")
ACTIVITY_COLUMNS = ("waiting_for", "wake_at", "confirmed_by", "confirmed_at")


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("trigger", sa.String(16), nullable=True))
        batch.add_column(sa.Column("slot", ts, nullable=True))
        batch.add_column(sa.Column("started_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("requested", sa.String(16), nullable=True))
        batch.add_column(sa.Column("breakpoints", sa.JSON(), nullable=True))
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("uq_runs_campaign_slot", "runs", ["campaign", "slot"], unique=True)
    with op.batch_alter_table("activity_runs") as batch:
        batch.add_column(sa.Column("waiting_for", sa.String(16), nullable=True))
        batch.add_column(sa.Column("wake_at", ts, nullable=True))
        batch.add_column(sa.Column("confirmed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("confirmed_at", ts, nullable=True))
    op.create_index("ix_activity_runs_wake_at", "activity_runs", ["wake_at"])

    op.create_table(
        "campaigns",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("last_slot", ts, nullable=True),
        sa.Column("next_start", ts, nullable=True),
        sa.Column("last_signal_at", ts, nullable=True),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_campaigns"),
    )
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "campaign_versions",
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("published_at", ts, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("campaign", "number", name="pk_campaign_versions"),
        sa.ForeignKeyConstraint(["campaign"], ["campaigns.name"], ondelete="CASCADE",
                                name="fk_campaign_versions_campaign_campaigns"),
    )
    op.create_table(
        "campaign_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_history"),
    )
    op.create_index("ix_campaign_history_campaign_at", "campaign_history", ["campaign", "at"])
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("disabled_at", ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint("role IN ('viewer', 'manager', 'approver', 'admin')",
                           name="ck_users_role"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("last_used_at", ts, nullable=True),
        sa.Column("expires_at", ts, nullable=True),
        sa.Column("revoked_at", ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_api_tokens_secret_hash"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_api_tokens_user_id_users"),
    )
    op.create_table(
        "sessions",
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("secret_hash", name="pk_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_sessions_user_id_users"),
    )


def downgrade() -> None:
    for table in ("sessions", "api_tokens", "users", "campaign_history",
                  "campaign_versions"):
        op.drop_table(table)
    op.drop_index("ix_campaigns_status", table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_index("ix_activity_runs_wake_at", table_name="activity_runs")
    with op.batch_alter_table("activity_runs") as batch:
        for column in ACTIVITY_COLUMNS:
            batch.drop_column(column)
    op.drop_index("uq_runs_campaign_slot", table_name="runs")
    op.drop_index("ix_runs_status", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        for column in RUN_COLUMNS:
            batch.drop_column(column)
