"""The control-plane tables: runs, activity runs and run logs.

Migrations are written by hand to match this file; `tests/store/test_migrations.py`
fails when the two drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overture.store.types import UTCDateTime, json_column

#: deterministic constraint names, so SQLite's batch migrations can find them again
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigserial
LogId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    document: Mapped[dict[str, Any]] = mapped_column(json_column())
    variables: Mapped[dict[str, Any]] = mapped_column(json_column())
    clock: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("mode IN ('test', 'live')", name="mode"),
        # list_runs: newest first, of all campaigns or of one
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_campaign_created_at", "campaign", "created_at"),
        # retention: finished before an instant
        Index("ix_runs_finished_at", "finished_at"),
    )


class ActivityRun(Base):
    __tablename__ = "activity_runs"

    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    activity_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ports: Mapped[dict[str, int] | None] = mapped_column(json_column())
    excluded: Mapped[dict[str, int] | None] = mapped_column(json_column())
    tables: Mapped[dict[str, str] | None] = mapped_column(json_column())
    error: Mapped[str | None] = mapped_column(Text)
    clock: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RunLog(Base):
    __tablename__ = "run_log"

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    activity_id: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_run_log_run_id_at", "run_id", "at"),)
