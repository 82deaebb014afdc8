"""Claims and leases: several workers share runs and send batches without doubling up.

A worker claims a run (or a send batch) by writing its name and a lease expiry on the
row, inside a transaction that locked the row with `FOR UPDATE SKIP LOCKED`, so two
workers never claim the same row and neither waits for the other. A heartbeat extends
every lease a worker holds; a worker that dies stops extending them, and once a lease
lapses any worker may claim the row again. On SQLite (one process) the lock clause is
left out and the write transaction serialises the claims.

A lease held by a process of *this* host that no longer exists (killed, crashed) is
treated as lapsed at once: a resumed run does not wait out the lease of its own
killed predecessor.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, insert, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from overture.store.models import RateSlot, Run, SendBatch

RUNS = cast(Table, Run.__table__)
BATCHES = cast(Table, SendBatch.__table__)
RATE_SLOTS = cast(Table, RateSlot.__table__)

#: seconds a lease holds without a heartbeat; heartbeats come every third of it
DEFAULT_LEASE = 30.0
#: statuses of a run that a worker may claim
CLAIMABLE_RUNS = ("pending", "running")
#: how often (seconds) this process looks for leases of dead local processes
REAP_EVERY = 1.0

_owner_lock = threading.Lock()
_owner: tuple[int, str] | None = None


#: names this worker in leases, logs and metrics (a pod's name, say); else the host name
NAME_ENV = "OVERTURE_WORKER_NAME"


def process_owner() -> str:
    """This process's name as a lease holder: `name:pid:nonce` (anew after a fork), the
    name being $OVERTURE_WORKER_NAME or the host's."""
    global _owner
    with _owner_lock:
        pid = os.getpid()
        if _owner is None or _owner[0] != pid:
            name = (os.environ.get(NAME_ENV) or socket.gethostname()).replace(":", "-")
            _owner = (pid, f"{name}:{pid}:{secrets.token_hex(3)}")
        return _owner[1]


def _pid_gone(owner: str) -> bool:
    """An owner of this host whose process no longer runs (a worker named otherwise may
    be on another machine: its lease must lapse)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner != process_owner()  # an earlier incarnation of this pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class RunClaim:
    run_id: str
    #: the worker whose lease lapsed (it died or hung), when the run is taken over
    taken_from: str | None = None


@dataclass(frozen=True)
class BatchClaim:
    run_id: str
    activity_id: str
    batch: int
    seq_from: int
    seq_to: int
    attempts: int
    #: failed messages of the activity's other batches in this pass (for `max_errors`)
    failed_before: int
    #: the worker whose lease lapsed, when the batch is taken over
    taken_from: str | None = None


@dataclass(frozen=True)
class BatchState:
    open: int
    claimed: int
    done: int
    stopped: int
    sent: int
    failed: int
    retried: int

    @property
    def total(self) -> int:
        return self.open + self.claimed + self.done + self.stopped

    @property
    def unfinished(self) -> int:
        return self.open + self.claimed


class Claims:
    """Leases on runs and send batches in the control plane, held by `owner`."""

    def __init__(self, engine: Any, writer: Any, *, owner: str | None = None,
                 lease: float = DEFAULT_LEASE) -> None:
        self._engine = engine
        self._writer = writer
        self.owner = owner or process_owner()
        self.lease = lease
        self._skip_locked = engine.dialect.name == "postgresql"
        self._reaped_at = 0.0

    @property
    def shared(self) -> bool:
        """Whether other processes may claim too (a PostgreSQL control plane)."""
        return self._skip_locked

    def _until(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.lease)

    def _locking(self, query: Any) -> Any:
        return query.with_for_update(skip_locked=True) if self._skip_locked else query

    # ---- dead local processes ----
    def reap(self, *, force: bool = False) -> int:
        """Lapse the leases of processes of this host that are gone; how many rows."""
        now = time.monotonic()
        if not force and now - self._reaped_at < REAP_EVERY:
            return 0
        self._reaped_at = now
        with self._engine.connect() as conn:
            owners = {row[0] for row in conn.execute(
                select(RUNS.c.lease_owner).where(RUNS.c.lease_owner.is_not(None)).distinct())}
            owners |= {row[0] for row in conn.execute(
                select(BATCHES.c.owner).where(BATCHES.c.status == "claimed").distinct())}
        gone = [owner for owner in owners if _pid_gone(owner)]
        if not gone:
            return 0
        lapsed = datetime.now(UTC) - timedelta(seconds=1)
        with self._writer.begin() as conn:
            count = conn.execute(update(RUNS).where(RUNS.c.lease_owner.in_(gone))
                                 .values(lease_until=lapsed)).rowcount
            count += conn.execute(update(BATCHES).where(BATCHES.c.owner.in_(gone))
                                  .values(lease_until=lapsed)).rowcount
        return int(count)

    # ---- runs ----
    def _run_free(self, now: datetime) -> Any:
        return or_(RUNS.c.lease_owner.is_(None), RUNS.c.lease_until.is_(None),
                   RUNS.c.lease_until < now, RUNS.c.lease_owner == self.owner)

    def claim_run(self) -> RunClaim | None:
        """The oldest pending run, or a running one whose worker died: leased to us."""
        self.reap()
        now = datetime.now(UTC)
        query = self._locking(
            select(RUNS.c.id, RUNS.c.lease_owner)
            .where(RUNS.c.status.in_(CLAIMABLE_RUNS), self._run_free(now),
                   or_(RUNS.c.requested.is_(None), RUNS.c.requested == ""))
            .order_by(RUNS.c.created_at).limit(1))
        with self._writer.begin() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            run_id, previous = row
            conn.execute(update(RUNS).where(RUNS.c.id == run_id)
                         .values(lease_owner=self.owner, lease_until=self._until()))
        lapsed = str(previous) if previous and previous != self.owner else None
        return RunClaim(str(run_id), lapsed)

    def take_run(self, run_id: str) -> str | None:
        """Lease this run to us; None when done, else the live worker holding it."""
        self.reap(force=True)
        now = datetime.now(UTC)
        query = self._locking(select(RUNS.c.lease_owner, RUNS.c.lease_until)
                              .where(RUNS.c.id == run_id))
        with self._writer.begin() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None  # the caller reports the unknown run
            owner, until = row
            if owner and owner != self.owner and until is not None and until >= now:
                return str(owner)
            conn.execute(update(RUNS).where(RUNS.c.id == run_id)
                         .values(lease_owner=self.owner, lease_until=self._until()))
        return None

    def release_run(self, run_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id,
                                            RUNS.c.lease_owner == self.owner)
                         .values(lease_owner=None, lease_until=None))

    def run_holder(self, run_id: str) -> str | None:
        """The worker whose lease on the run holds now, if any."""
        with self._engine.connect() as conn:
            row = conn.execute(select(RUNS.c.lease_owner, RUNS.c.lease_until)
                               .where(RUNS.c.id == run_id)).first()
        if row is None or row[0] is None or row[1] is None or row[1] < datetime.now(UTC):
            return None
        return str(row[0])

    def heartbeat(self) -> None:
        """Extend every lease we hold."""
        until = self._until()
        with self._writer.begin() as conn:
            conn.execute(update(RUNS).where(RUNS.c.lease_owner == self.owner)
                         .values(lease_until=until))
            conn.execute(update(BATCHES).where(BATCHES.c.owner == self.owner,
                                               BATCHES.c.status == "claimed")
                         .values(lease_until=until))

    # ---- send batches ----
    def _of(self, run_id: str, activity_id: str) -> Any:
        return and_(BATCHES.c.run_id == run_id, BATCHES.c.activity_id == activity_id)

    def create_batches(self, run_id: str, activity_id: str, total: int, size: int) -> int:
        """Cut rows 0..total of a queue into batches of `size`; how many."""
        size = max(1, size)
        rows = [{"run_id": run_id, "activity_id": activity_id, "batch": number,
                 "seq_from": start, "seq_to": min(total, start + size), "status": "open",
                 "attempts": 0, "sent": 0, "failed": 0, "retried": 0}
                for number, start in enumerate(range(0, total, size))]
        with self._writer.begin() as conn:
            conn.execute(delete(BATCHES).where(self._of(run_id, activity_id)))
            if rows:
                conn.execute(insert(BATCHES), rows)
        return len(rows)

    def reopen(self, run_id: str, activity_id: str) -> None:
        """A new pass over batches that exist already (a resumed run): stopped ones are
        tried again, every unfinished one skips what was recorded meanwhile, and the
        failures count from zero (`max_errors` applies to each pass)."""
        with self._writer.begin() as conn:
            conn.execute(update(BATCHES).where(self._of(run_id, activity_id),
                                               BATCHES.c.status == "stopped")
                         .values(status="open", owner=None, lease_until=None))
            conn.execute(update(BATCHES).where(self._of(run_id, activity_id),
                                               BATCHES.c.status != "done")
                         .values(attempts=BATCHES.c.attempts + 1))
            conn.execute(update(BATCHES).where(self._of(run_id, activity_id))
                         .values(failed=0, retried=0))

    def claim_batch(self, run_id: str | None = None, activity_id: str | None = None
                    ) -> BatchClaim | None:
        """An open batch (or one whose worker died) of a running run: leased to us.
        None when there is none, or when the activity paused for failed messages."""
        self.reap()
        now = datetime.now(UTC)
        other = BATCHES.alias("other")
        stopped = select(other.c.batch).where(
            other.c.status == "stopped", other.c.run_id == BATCHES.c.run_id,
            other.c.activity_id == BATCHES.c.activity_id).exists()
        mine = []
        if run_id is not None:
            mine.append(BATCHES.c.run_id == run_id)
        if activity_id is not None:
            mine.append(BATCHES.c.activity_id == activity_id)
        query = (select(BATCHES.c.run_id, BATCHES.c.activity_id, BATCHES.c.batch,
                        BATCHES.c.seq_from, BATCHES.c.seq_to, BATCHES.c.attempts,
                        BATCHES.c.status, BATCHES.c.owner)
                 .join(RUNS, RUNS.c.id == BATCHES.c.run_id)
                 .where(*mine, RUNS.c.status == "running",
                        or_(RUNS.c.requested.is_(None), RUNS.c.requested == ""),
                        or_(BATCHES.c.status == "open",
                            and_(BATCHES.c.status == "claimed",
                                 or_(BATCHES.c.lease_until.is_(None),
                                     BATCHES.c.lease_until < now))),
                        not_(stopped))
                 .order_by(BATCHES.c.run_id, BATCHES.c.activity_id, BATCHES.c.batch)
                 .limit(1))
        if self._skip_locked:
            query = query.with_for_update(of=BATCHES, skip_locked=True)
        with self._writer.begin() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            run, activity, number, seq_from, seq_to, attempts, status, previous = row
            conn.execute(update(BATCHES).where(self._of(run, activity),
                                               BATCHES.c.batch == number)
                         .values(status="claimed", owner=self.owner,
                                 lease_until=self._until(), attempts=attempts + 1))
            failed = conn.execute(select(func.coalesce(func.sum(BATCHES.c.failed), 0))
                                  .where(self._of(run, activity))).scalar()
        lapsed = str(previous) if status == "claimed" and previous \
            and previous != self.owner else None
        return BatchClaim(str(run), str(activity), int(number), int(seq_from), int(seq_to),
                          int(attempts) + 1, int(failed or 0), lapsed)

    def finish_batch(self, claim: BatchClaim, *, sent: int, failed: int, retried: int,
                     status: str = "done") -> bool:
        """Record a batch's end (`done`, `stopped`, or `open` to hand it back); False
        when our lease had lapsed and another worker has it now."""
        values: dict[str, Any] = {"status": status, "lease_until": None,
                                  "sent": BATCHES.c.sent + sent,
                                  "failed": BATCHES.c.failed + failed,
                                  "retried": BATCHES.c.retried + retried}
        if status == "open":
            values["owner"] = None
        with self._writer.begin() as conn:
            count = conn.execute(
                update(BATCHES).where(self._of(claim.run_id, claim.activity_id),
                                      BATCHES.c.batch == claim.batch,
                                      BATCHES.c.owner == self.owner,
                                      BATCHES.c.status == "claimed")
                .values(**values)).rowcount
        return bool(count)

    def holds(self, claim: BatchClaim) -> bool:
        """Whether this batch is still ours: claimed by us and not taken over (a lease
        that lapsed without anyone taking the batch is still ours: heartbeats resume)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(BATCHES.c.owner, BATCHES.c.status)
                               .where(self._of(claim.run_id, claim.activity_id),
                                      BATCHES.c.batch == claim.batch)).first()
        return row is not None and row[0] == self.owner and row[1] == "claimed"

    def batch_state(self, run_id: str, activity_id: str) -> BatchState:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(BATCHES.c.status, func.count(), func.sum(BATCHES.c.sent),
                       func.sum(BATCHES.c.failed), func.sum(BATCHES.c.retried))
                .where(self._of(run_id, activity_id)).group_by(BATCHES.c.status)).all()
        by = {str(row[0]): row for row in rows}

        def n(status: str) -> int:
            return int(by[status][1]) if status in by else 0

        def total(index: int) -> int:
            return sum(int(row[index] or 0) for row in rows)

        return BatchState(open=n("open"), claimed=n("claimed"), done=n("done"),
                          stopped=n("stopped"), sent=total(2), failed=total(3),
                          retried=total(4))

    def drop_batches(self, run_id: str, activity_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(delete(BATCHES).where(self._of(run_id, activity_id)))

    def open_batches(self) -> int:
        """Batches waiting for a worker, of every running run (the queue's depth)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(BATCHES)
                                    .where(BATCHES.c.status == "open")).scalar() or 0)

    def active_live_runs(self) -> list[str]:
        """Live runs not ended (pending, running, waiting, paused): their pending
        messages will still go."""
        with self._engine.connect() as conn:
            return [str(row[0]) for row in conn.execute(
                select(RUNS.c.id).where(RUNS.c.mode == "live", RUNS.c.status.in_(
                    ("pending", "running", "waiting", "paused"))))]

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold a lock of this name across every worker (a PostgreSQL advisory lock in
        an open transaction; a lock of this process on SQLite, which has one)."""
        if not self._skip_locked:
            with _local_lock(name):
                yield
            return
        with self._writer.begin() as conn:
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))
            yield

    # ---- shared rate slots ----
    def reserve_slots(self, name: str, rate: float, count: int) -> tuple[float, float]:
        """Reserve `count` consecutive slots of a limit shared by every worker: (seconds
        until the first one, by the database's clock; seconds between slots)."""
        interval = 1.0 / rate
        burst = max(1.0, rate)
        dialect = postgresql if self._skip_locked else sqlite
        with self._writer.begin() as conn:
            conn.execute(dialect.insert(RATE_SLOTS).values(name=name, next_at=0.0)
                         .on_conflict_do_nothing())
            now = self._db_seconds(conn)
            # a plain FOR UPDATE: every worker waits its turn (SKIP LOCKED would skip it)
            query = select(RATE_SLOTS.c.next_at).where(RATE_SLOTS.c.name == name)
            row = conn.execute(query.with_for_update() if self._skip_locked else query).one()
            first = max(float(row[0]), now - (burst - 1) * interval)
            conn.execute(update(RATE_SLOTS).where(RATE_SLOTS.c.name == name)
                         .values(next_at=first + count * interval))
        return first - now, interval

    def _db_seconds(self, conn: Connection) -> float:
        if self._engine.dialect.name == "postgresql":
            value: Any = conn.execute(
                select(func.extract("epoch", func.clock_timestamp()))).scalar()
            return float(value)
        return time.time()


_local_locks: dict[str, threading.Lock] = {}


def _local_lock(name: str) -> threading.Lock:
    with _owner_lock:
        return _local_locks.setdefault(name, threading.Lock())


class Heartbeat:
    """Extends this process's leases every third of the lease, in a daemon thread."""

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._users = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Heartbeat:
        with self._lock:
            self._users += 1
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._beat, daemon=True,
                                                name="overture-heartbeat")
                self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(self.claims.lease / 3):
            with contextlib.suppress(Exception):  # a blip: the next beat tries again
                self.claims.heartbeat()
