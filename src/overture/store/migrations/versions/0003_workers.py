"""Several workers: run leases, send batches claimed by any worker, shared rate slots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(120), nullable=True))
        batch.add_column(sa.Column("lease_until", ts, nullable=True))
    op.create_table(
        "send_batches",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("activity_id", sa.String(200), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("seq_from", sa.BigInteger(), nullable=False),
        sa.Column("seq_to", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(120), nullable=True),
        sa.Column("lease_until", ts, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("retried", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE",
                                name="fk_send_batches_run_id_runs"),
        sa.PrimaryKeyConstraint("run_id", "activity_id", "batch", name="pk_send_batches"),
    )
    op.create_index("ix_send_batches_status", "send_batches", ["status"])
    op.create_table(
        "rate_slots",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_rate_slots"),
    )


def downgrade() -> None:
    op.drop_table("rate_slots")
    op.drop_index("ix_send_batches_status", table_name="send_batches")
    op.drop_table("send_batches")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
