"""The first control-plane schema: runs, activity runs, run logs.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("clock", ts, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("started_at", ts, nullable=True),
        sa.Column("finished_at", ts, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pruned_at", ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.CheckConstraint("mode IN ('test', 'live')", name="ck_runs_mode"),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_campaign_created_at", "runs", ["campaign", "created_at"])
    op.create_index("ix_runs_finished_at", "runs", ["finished_at"])

    op.create_table(
        "activity_runs",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("activity_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", ts, nullable=True),
        sa.Column("finished_at", ts, nullable=True),
        sa.Column("ports", sa.JSON(), nullable=True),
        sa.Column("excluded", sa.JSON(), nullable=True),
        sa.Column("tables", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("clock", ts, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "activity_id", name="pk_activity_runs"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_activity_runs_run_id_runs", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "run_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("activity_id", sa.String(200), nullable=True),
        sa.Column("at", ts, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_log"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_log_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_run_log_run_id_at", "run_log", ["run_id", "at"])


def downgrade() -> None:
    op.drop_table("run_log")
    op.drop_table("activity_runs")
    op.drop_table("runs")
