"""`ControlStore`: the runs, activity runs and run logs of the control plane.

Every write is its own short transaction, committed before the method returns: the
engine checkpoints through these calls, so a process killed right after one must
find the write there when the run resumes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, func, insert, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from overture.observability import logs, metrics
from overture.store.claims import DEFAULT_LEASE, Claims, Heartbeat
from overture.store.db import WRITE, ControlStoreError, create_control_engine, upgrade_to_head
from overture.store.models import ActivityRun, Run, RunLog
from overture.store.status import ActivityStatus, RunStatus
from overture.store.types import UTCDateTime

__all__ = [
    "ActivityRunRecord",
    "ControlStore",
    "ControlStoreError",
    "LogRecord",
    "RunBrief",
    "RunNotFound",
    "RunRecord",
    "SlotTaken",
]

RUNS = cast(Table, Run.__table__)
ACTIVITY_RUNS = cast(Table, ActivityRun.__table__)
RUN_LOG = cast(Table, RunLog.__table__)

MODES = ("test", "live")
LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_PREFIX = 4
#: statuses that start (again) and so forget an earlier end and error
RESTARTING = {"pending", "running"}


class SlotTaken(ControlStoreError):
    """A schedule slot already has its run (another scheduler got there first)."""


class RunNotFound(ControlStoreError):
    """No run has this id, or a prefix matches none or several."""


@dataclass(frozen=True)
class RunRecord:
    id: str
    campaign: str
    version: int | None
    mode: str
    status: RunStatus
    document: dict[str, Any]
    variables: dict[str, Any]
    clock: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    pruned_at: datetime | None
    trigger: str | None = None
    slot: datetime | None = None
    started_by: str | None = None
    requested: str | None = None
    breakpoints: list[str] | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True)
class RunBrief:
    """A run's bookkeeping without its document and variables, for lists."""

    id: str
    campaign: str
    mode: str
    status: RunStatus
    trigger: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pruned_at: datetime | None


BRIEF_COLUMNS = ("id", "campaign", "mode", "status", "trigger", "created_at", "started_at",
                 "finished_at", "pruned_at")


@dataclass(frozen=True)
class ActivityRunRecord:
    run_id: str
    activity_id: str
    status: ActivityStatus
    started_at: datetime | None
    finished_at: datetime | None
    ports: dict[str, int] | None
    excluded: dict[str, int] | None
    tables: dict[str, str] | None
    error: str | None
    clock: datetime | None
    waiting_for: str | None = None
    wake_at: datetime | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class LogRecord:
    id: int
    run_id: str
    activity_id: str | None
    at: datetime
    level: str
    message: str


def _now() -> datetime:
    return datetime.now(UTC)


def _run_record(row: Row[Any]) -> RunRecord:
    return RunRecord(**{**row._mapping, "status": RunStatus(row.status)})


def _brief(row: Row[Any]) -> RunBrief:
    values = {name: row._mapping[name] for name in BRIEF_COLUMNS}
    return RunBrief(**{**values, "status": RunStatus(row.status)})


def _activity_record(row: Row[Any]) -> ActivityRunRecord:
    return ActivityRunRecord(**{**row._mapping, "status": ActivityStatus(row.status)})


class ControlStore:
    """The control plane behind a SQLAlchemy engine, SQLite or PostgreSQL."""

    def __init__(self, url: str, *, lease: float | None = None):
        self.url = url
        #: seconds a worker's lease on a run or a send batch holds without a heartbeat
        self.lease = lease or DEFAULT_LEASE
        self._engine = create_control_engine(url)
        self._writer = self._engine.execution_options(**{WRITE: True})
        try:
            upgrade_to_head(self._engine)
        except OperationalError as exc:
            self._engine.dispose()
            where = self._engine.url.render_as_string(hide_password=True)
            raise ControlStoreError(f"cannot open the control plane {where}: {exc.orig}") from exc
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        self._engine.dispose()

    @functools.cached_property
    def claims(self) -> Claims:
        """Leases on runs and send batches, held by this process."""
        return Claims(self._engine, self._writer, lease=self.lease)

    @functools.cached_property
    def heartbeat(self) -> Heartbeat:
        """Keeps this process's leases alive while any user holds it (`with`)."""
        return Heartbeat(self.claims)

    # ---- runs ----
    def create_run(
        self,
        *,
        run_id: str,
        campaign: str,
        mode: str,
        document: dict[str, Any],
        variables: dict[str, Any],
        clock: datetime,
        version: int | None = None,
        trigger: str | None = None,
        slot: datetime | None = None,
        started_by: str | None = None,
        breakpoints: list[str] | None = None,
        status: str = RunStatus.RUNNING.value,
    ) -> RunRecord:
        """A new run, `running` (or `pending` when a worker will pick it up), created now."""
        if mode not in MODES:
            raise ValueError(f"run mode {mode!r}: expected one of {', '.join(MODES)}")
        now = _now()
        values = {
            "id": run_id, "campaign": campaign, "version": version, "mode": mode,
            "status": RunStatus(status).value, "document": document, "variables": variables,
            "clock": clock, "created_at": now, "started_at": now, "trigger": trigger,
            "slot": slot, "started_by": started_by, "breakpoints": breakpoints,
        }  # fmt: skip
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(RUNS).values(values))
        except IntegrityError:
            if slot is not None and self._slot_taken(campaign, slot):
                raise SlotTaken(f"campaign {campaign} has a run for the slot "
                                f"{slot.isoformat()} already") from None
            raise ControlStoreError(f"run {run_id} exists already") from None
        metrics.run_started(mode, trigger)
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> RunRecord:
        """The run of this id, or of the one id starting with `run_id` (>= 4 characters)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
            if row is not None:
                return _run_record(row)
            if len(run_id) < MIN_PREFIX:
                raise RunNotFound(
                    f"no run {run_id!r} (a run id prefix needs at least {MIN_PREFIX} characters)"
                )
            ids = conn.scalars(
                select(RUNS.c.id)
                .where(RUNS.c.id.startswith(run_id, autoescape=True))
                .order_by(RUNS.c.id)
                .limit(6)
            ).all()
            if not ids:
                raise RunNotFound(f"no run {run_id!r}")
            if len(ids) > 1:
                shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
                raise RunNotFound(
                    f"run id prefix {run_id!r} is ambiguous: it matches {shown}; "
                    "give more characters"
                )
            row = conn.execute(select(RUNS).where(RUNS.c.id == ids[0])).one()
            return _run_record(row)

    def list_runs(self, campaign: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The newest runs first, of one campaign or of all."""
        query = select(RUNS).order_by(RUNS.c.created_at.desc(), RUNS.c.id.desc()).limit(limit)
        if campaign is not None:
            query = query.where(RUNS.c.campaign == campaign)
        with self._engine.connect() as conn:
            return [_run_record(row) for row in conn.execute(query)]

    def latest_runs(self, *, except_trigger: str | None = None) -> dict[str, RunBrief]:
        """The newest run of every campaign (by creation, then id), in one query; runs
        started by `except_trigger` are left out."""
        rank = func.row_number().over(partition_by=RUNS.c.campaign,
                                      order_by=(RUNS.c.created_at.desc(), RUNS.c.id.desc()))
        ranked = select(*(RUNS.c[name] for name in BRIEF_COLUMNS), rank.label("rank"))
        if except_trigger is not None:
            ranked = ranked.where(or_(RUNS.c.trigger.is_(None),
                                      RUNS.c.trigger != except_trigger))
        inner = ranked.subquery()
        query = select(*(inner.c[name] for name in BRIEF_COLUMNS)).where(inner.c.rank == 1)
        with self._engine.connect() as conn:
            return {row.campaign: _brief(row) for row in conn.execute(query)}

    def runs_by_trigger(self, campaign: str, trigger: str) -> list[RunBrief]:
        """The runs of a campaign started by `trigger`, newest first."""
        query = (select(*(RUNS.c[name] for name in BRIEF_COLUMNS))
                 .where(RUNS.c.campaign == campaign, RUNS.c.trigger == trigger)
                 .order_by(RUNS.c.created_at.desc(), RUNS.c.id.desc()))
        with self._engine.connect() as conn:
            return [_brief(row) for row in conn.execute(query)]

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        clock: datetime | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        error: str | None = None,
        requested: str | None = None,
        breakpoints: list[str] | None = None,
    ) -> None:
        """Change the given fields; None keeps a field as it was (`requested=""` clears it).

        Setting `pending` or `running` (a resume) clears `finished_at` and `error`
        unless they are given; setting a finished status without `finished_at` stamps
        it now if it is unset, because retention only ever prunes runs that have one.
        """
        values: dict[str, Any] = {}
        if status is not None:
            state = RunStatus(status)
            values["status"] = state.value
            if state in RESTARTING:
                values.update(finished_at=None, error=None)
            elif state.is_finished():
                values["finished_at"] = func.coalesce(
                    RUNS.c.finished_at, literal(_now(), UTCDateTime())
                )
        given = {
            "clock": clock, "started_at": started_at, "finished_at": finished_at, "error": error,
            "breakpoints": breakpoints,
        }  # fmt: skip
        values.update({key: value for key, value in given.items() if value is not None})
        if requested is not None:
            values["requested"] = requested or None
        if not values:
            self._require_run(run_id)
            return
        finishing = status is not None and RunStatus(status).is_finished()
        before = None
        with self._writer.begin() as conn:
            if finishing:  # what it was, for counting runs that finish (metrics)
                before = conn.execute(select(RUNS.c.mode, RUNS.c.status)
                                      .where(RUNS.c.id == run_id).with_for_update()).first()
            result = conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(values))
            if result.rowcount == 0:
                raise RunNotFound(f"no run {run_id!r}")
        if before is not None and status is not None \
                and not RunStatus(before.status).is_finished():
            metrics.run_finished(before.mode, RunStatus(status).value)

    # ---- activity runs ----
    def activity_runs(self, run_id: str) -> dict[str, ActivityRunRecord]:
        """The activity runs of a run, by activity id (empty for an unknown run)."""
        query = (
            select(ACTIVITY_RUNS)
            .where(ACTIVITY_RUNS.c.run_id == run_id)
            .order_by(ACTIVITY_RUNS.c.activity_id)
        )
        with self._engine.connect() as conn:
            return {row.activity_id: _activity_record(row) for row in conn.execute(query)}

    def upsert_activity_run(
        self,
        run_id: str,
        activity_id: str,
        *,
        status: str,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        ports: dict[str, int] | None = None,
        excluded: dict[str, int] | None = None,
        tables: dict[str, str] | None = None,
        error: str | None = None,
        clock: datetime | None = None,
        waiting_for: str | None = None,
        wake_at: datetime | None = None,
        confirmed_by: str | None = None,
        confirmed_at: datetime | None = None,
    ) -> None:
        """Insert or update in one statement; None keeps a field as it was.

        Setting `pending` or `running` clears `finished_at` and `error` unless given;
        any status but `waiting` clears `waiting_for` (the wake-up time stays, as history).
        """
        state = ActivityStatus(status)
        given = {
            "started_at": started_at, "finished_at": finished_at, "ports": ports,
            "excluded": excluded, "tables": tables, "error": error, "clock": clock,
            "waiting_for": waiting_for, "wake_at": wake_at, "confirmed_by": confirmed_by,
            "confirmed_at": confirmed_at,
        }  # fmt: skip
        changes: dict[str, Any] = {"status": state.value}
        if state in RESTARTING:
            changes.update(finished_at=None, error=None)
        if state != ActivityStatus.WAITING:
            changes["waiting_for"] = None
        changes.update({key: value for key, value in given.items() if value is not None})
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(ACTIVITY_RUNS).values(
            run_id=run_id, activity_id=activity_id, **changes
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[ACTIVITY_RUNS.c.run_id, ACTIVITY_RUNS.c.activity_id], set_=changes
        )
        try:
            with self._writer.begin() as conn:
                conn.execute(stmt)
        except IntegrityError:
            raise RunNotFound(f"no run {run_id!r}") from None

    def confirm_activity(self, run_id: str, activity_id: str, who: str) -> bool:
        """Record an approver's go-ahead for a channel activity; False if given before."""
        with self._writer.begin() as conn:
            result = conn.execute(
                update(ACTIVITY_RUNS)
                .where(ACTIVITY_RUNS.c.run_id == run_id,
                       ACTIVITY_RUNS.c.activity_id == activity_id,
                       ACTIVITY_RUNS.c.confirmed_at.is_(None))
                .values(confirmed_by=who, confirmed_at=_now()))
            return bool(result.rowcount)

    # ---- what the scheduler looks for ----
    def runs_with_status(self, *statuses: RunStatus) -> list[RunRecord]:
        """Runs in any of these statuses, oldest first."""
        query = (select(RUNS).where(RUNS.c.status.in_([s.value for s in statuses]))
                 .order_by(RUNS.c.created_at, RUNS.c.id))
        with self._engine.connect() as conn:
            return [_run_record(row) for row in conn.execute(query)]

    def active_run_counts(self) -> dict[tuple[str, str], int]:
        """Runs not finished, counted by (mode, status)."""
        query = (select(RUNS.c.mode, RUNS.c.status, func.count())
                 .where(RUNS.c.status.in_([s.value for s in RunStatus.ACTIVE]))
                 .group_by(RUNS.c.mode, RUNS.c.status))
        with self._engine.connect() as conn:
            return {(str(mode), str(status)): int(n) for mode, status, n in conn.execute(query)}

    def waiting_activity_counts(self) -> dict[str, int]:
        """Waiting activities of runs not finished, counted by what they wait for."""
        query = (select(ACTIVITY_RUNS.c.waiting_for, func.count())
                 .join(RUNS, RUNS.c.id == ACTIVITY_RUNS.c.run_id)
                 .where(RUNS.c.status.in_([s.value for s in RunStatus.ACTIVE]),
                        ACTIVITY_RUNS.c.status == ActivityStatus.WAITING.value)
                 .group_by(ACTIVITY_RUNS.c.waiting_for))
        with self._engine.connect() as conn:
            return {str(reason or "unknown"): int(n) for reason, n in conn.execute(query)}

    def ping(self) -> str:
        """Ask the database a trivial question (readiness); its backend name."""
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return str(self._engine.url.get_backend_name())

    def due_wakeups(self, now: datetime) -> list[str]:
        """Waiting runs with a timed wait (a wait activity, deferred messages) now due."""
        query = (
            select(ACTIVITY_RUNS.c.run_id).distinct()
            .join(RUNS, RUNS.c.id == ACTIVITY_RUNS.c.run_id)
            .where(RUNS.c.status == RunStatus.WAITING.value,
                   ACTIVITY_RUNS.c.status == ActivityStatus.WAITING.value,
                   ACTIVITY_RUNS.c.waiting_for.in_(["timer", "deferred"]),
                   ACTIVITY_RUNS.c.wake_at <= literal(now, UTCDateTime()))
        )
        with self._engine.connect() as conn:
            return list(conn.scalars(query))

    def next_wakeup(self) -> datetime | None:
        """The earliest stored wake-up of a waiting run, so the scheduler knows how long
        it may sleep."""
        query = (
            select(func.min(ACTIVITY_RUNS.c.wake_at))
            .join(RUNS, RUNS.c.id == ACTIVITY_RUNS.c.run_id)
            .where(RUNS.c.status == RunStatus.WAITING.value,
                   ACTIVITY_RUNS.c.status == ActivityStatus.WAITING.value,
                   ACTIVITY_RUNS.c.waiting_for.in_(["timer", "deferred"]))
        )
        with self._engine.connect() as conn:
            value = conn.scalar(query)  # min() keeps the column's type: an aware instant
        return value if isinstance(value, datetime) else None

    # ---- logs ----
    def log(
        self,
        run_id: str,
        message: str,
        *,
        level: str = "info",
        activity_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        if level not in LOG_LEVELS:
            raise ValueError(f"log level {level!r}: expected one of {', '.join(LOG_LEVELS)}")
        values = {
            "run_id": run_id, "activity_id": activity_id, "at": at or _now(),
            "level": level, "message": message,
        }  # fmt: skip
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(RUN_LOG).values(values))
        except IntegrityError:
            raise RunNotFound(f"no run {run_id!r}") from None
        logs.run_event(run_id, message, level, activity_id)

    def logs(self, run_id: str) -> list[LogRecord]:
        """Oldest first: by `at`, then in the order written."""
        query = (
            select(RUN_LOG).where(RUN_LOG.c.run_id == run_id).order_by(RUN_LOG.c.at, RUN_LOG.c.id)
        )
        with self._engine.connect() as conn:
            return [LogRecord(**row._mapping) for row in conn.execute(query)]

    # ---- retention ----
    def finished_runs_before(self, instant: datetime) -> list[RunRecord]:
        """Finished runs that ended before `instant` and are not pruned yet, oldest first."""
        query = (
            select(RUNS)
            .where(
                RUNS.c.status.in_([status.value for status in RunStatus.FINISHED]),
                RUNS.c.finished_at < literal(instant, UTCDateTime()),
                RUNS.c.pruned_at.is_(None),
            )
            .order_by(RUNS.c.finished_at, RUNS.c.id)
        )
        with self._engine.connect() as conn:
            return [_run_record(row) for row in conn.execute(query)]

    def mark_pruned(self, run_id: str) -> None:
        """Record that the run's data-plane tables are gone (the run itself stays)."""
        with self._writer.begin() as conn:
            result = conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(pruned_at=_now()))
            if result.rowcount == 0:
                raise RunNotFound(f"no run {run_id!r}")

    def _slot_taken(self, campaign: str, slot: datetime) -> bool:
        query = select(RUNS.c.id).where(RUNS.c.campaign == campaign,
                                         RUNS.c.slot == literal(slot, UTCDateTime()))
        with self._engine.connect() as conn:
            return conn.scalar(query) is not None

    def _require_run(self, run_id: str) -> None:
        with self._engine.connect() as conn:
            if conn.scalar(select(RUNS.c.id).where(RUNS.c.id == run_id)) is None:
                raise RunNotFound(f"no run {run_id!r}")
