"""The control-plane tables: campaigns and versions, runs, schedules, users.

Migrations are written by hand to match this file; `tests/store/test_migrations.py`
fails when the two drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
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
    #: manual, schedule, signal or restart: why the run exists
    trigger: Mapped[str | None] = mapped_column(String(16))
    #: the schedule slot a scheduled run fills (UTC)
    slot: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_by: Mapped[str | None] = mapped_column(String(200))
    #: `pause` or `stop`, asked of a running run; the runner honours it at the next checkpoint
    requested: Mapped[str | None] = mapped_column(String(16))
    #: activities the run stops before (breakpoints), each once
    breakpoints: Mapped[list[str] | None] = mapped_column(json_column())
    #: the worker executing the run (host:pid:nonce) and until when its lease holds;
    #: heartbeats extend it, and another worker takes the run over once it lapses
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("mode IN ('test', 'live')", name="mode"),
        # list_runs: newest first, of all campaigns or of one
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_campaign_created_at", "campaign", "created_at"),
        # retention: finished before an instant
        Index("ix_runs_finished_at", "finished_at"),
        # the scheduler: runs to recover or wake
        Index("ix_runs_status", "status"),
        # one run per schedule slot, never two: claiming a slot is inserting its run
        Index("uq_runs_campaign_slot", "campaign", "slot", unique=True),
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
    #: why a `waiting` activity waits: timer, confirmation, breakpoint, errors, deferred
    waiting_for: Mapped[str | None] = mapped_column(String(16))
    #: a timer's wake-up instant, stored before the wait begins
    wake_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_activity_runs_wake_at", "wake_at"),)


class SendBatch(Base):
    """A slice of a channel activity's send queue that any worker may claim.

    The run's executor cuts the queue (rows `seq_from` to `seq_to` of its queue table)
    into batches; workers claim one at a time with `FOR UPDATE SKIP LOCKED`, hold it
    under a lease that heartbeats extend, and mark it done once its results are in the
    message log. A batch whose lease lapsed (its worker died) is claimed again.
    """

    __tablename__ = "send_batches"

    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    activity_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    batch: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq_from: Mapped[int] = mapped_column(BigInteger)
    seq_to: Mapped[int] = mapped_column(BigInteger)
    #: open, claimed, done or stopped (too many failed messages: sending pauses)
    status: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: claims so far; a batch claimed again skips the messages already recorded
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    retried: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_send_batches_status", "status"),)


class RateSlot(Base):
    """A rate limit shared by every worker: the next free slot, in the database's
    clock (seconds since the epoch), so that workers on other machines agree."""

    __tablename__ = "rate_slots"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)


class RunLog(Base):
    __tablename__ = "run_log"

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    activity_id: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_run_log_run_id_at", "run_id", "at"),)


class Campaign(Base):
    """A campaign by name: its editable draft, its status and its scheduler state."""

    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    #: the editable document; None once published with no pending changes
    draft: Mapped[dict[str, Any] | None] = mapped_column(json_column())
    latest_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))
    #: the last schedule slot that was filled (or the publication instant): slots after it are due
    last_slot: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_signal_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_campaigns_status", "status"),)


class CampaignVersion(Base):
    """A published, frozen document: version numbers count from 1 per campaign."""

    __tablename__ = "campaign_versions"

    campaign: Mapped[str] = mapped_column(
        String(200), ForeignKey("campaigns.name", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(json_column())
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(200))


class CampaignHistory(Base):
    """Who changed what and when: every lifecycle action and edit, append-only."""

    __tablename__ = "campaign_history"

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None] = mapped_column(json_column())

    __table_args__ = (Index("ix_campaign_history_campaign_at", "campaign", "at"),)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'manager', 'approver', 'admin')", name="role"),
    )


class ApiToken(Base):
    """A script's credential; only a SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Session(Base):
    """A browser login; only a SHA-256 of the cookie's secret is stored."""

    __tablename__ = "sessions"

    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
