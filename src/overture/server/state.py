"""What the server holds while it runs: the workspace, its clock, workers, scheduler."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from overture.data.workspace import Workspace
from overture.engine.clock import Clock
from overture.feedback.smtp import FeedbackReceiver, receiver_for
from overture.observability import health, metrics
from overture.service.lifecycle import Lifecycle
from overture.service.scheduler import Scheduler
from overture.service.workers import WorkerPool
from overture.store.users import UserRepository
from overture.tracking.endpoints import Tracker
from overture.tracking.setup import tracking_for
from overture.tracking.sink import EventSink


@dataclass
class ServerState:
    ws: Workspace
    clock: Clock
    workers: int = 2
    tick: float = 1.0
    pool: WorkerPool = field(init=False)
    lifecycle: Lifecycle = field(init=False)
    scheduler: Scheduler = field(init=False)
    #: held while a draft is compared with a client's `If-Match` and replaced
    drafts: threading.Lock = field(default_factory=threading.Lock, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _stopped: bool = field(default=False, init=False)
    #: `[server] metrics_public`: /metrics answers without credentials
    metrics_public: bool = field(default=False, init=False)
    #: the scrape-only bearer token, from the variable `[server] metrics_token_env` names
    metrics_token: str | None = field(default=None, init=False)
    collector: metrics.StateCollector = field(init=False)

    sink: EventSink = field(init=False)
    tracker: Tracker = field(init=False)
    smtp: FeedbackReceiver | None = field(init=False)  # [feedback] smtp_port

    def __post_init__(self) -> None:
        self.pool = WorkerPool(self.ws, self.clock, self.workers)
        self.lifecycle = Lifecycle(self.ws, self.clock, dispatch=self.pool.submit,
                                   interrupt=self.pool.interrupt,
                                   is_executing=self.pool.is_active,
                                   dispatch_after=self.pool.submit_after)
        self.pool.on_finished = self.lifecycle.run_finished
        self.scheduler = Scheduler(self.lifecycle, self.pool.submit, interval=self.tick)
        self.sink, self.tracker = tracking_for(self.ws)
        self.smtp = receiver_for(self.ws, now=self.clock.now)
        settings = server_settings(self.ws.config)
        self.metrics_public = bool(settings.get("metrics_public", False))
        variable = str(settings.get("metrics_token_env", METRICS_TOKEN_ENV))
        self.metrics_token = os.environ.get(variable) or None
        metrics.enable()
        self.collector = metrics.StateCollector(metrics.StateReadings(
            runs=self.ws.control.active_run_counts,
            waiting=self.ws.control.waiting_activity_counts,
            due=lambda: len(self.ws.control.due_wakeups(self.clock.now())),
            pool=self.pool.counts, sink_queue=self.sink.queued,
            sink_stats=lambda: {"received": self.sink.stats.received,
                                "stored": self.sink.stats.stored,
                                "duplicate": self.sink.stats.duplicates,
                                "unknown": self.sink.stats.unknown,
                                "failed_batches": self.sink.stats.failed_batches}))

    @property
    def users(self) -> UserRepository:
        return UserRepository(self.ws.control)

    def start(self) -> None:
        """Recover unfinished runs, then schedule in a background thread."""
        if self.smtp is not None:  # first: an SMTP port taken stops the start at once
            self.smtp.start()
        self.sink.start()
        health.warm("control", self.ws.control.ping)
        health.warm("data", self._data_ping)
        self._thread = threading.Thread(target=self.scheduler.run_forever,
                                        name="overture-scheduler", daemon=True)
        self._thread.start()

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """Each part the server needs, checked now: 200 or 503, and what is wrong."""
        checks = {"control_plane": health.timed("control", self.ws.control.ping),
                  "data_plane": health.timed("data", self._data_ping),
                  "scheduler": self._scheduler_check()}
        ok, detail = self.pool.health()
        checks["workers"] = health.Check(ok, detail)
        checks["tracking"] = health.thread_check(self.sink.alive(), "event sink thread")
        if self.smtp is not None:
            checks["feedback_smtp"] = health.thread_check(self.smtp.alive(),
                                                          "SMTP receiver")
        checks["shutdown"] = health.Check(not self._stopped, "stopping: not taking work"
                                          if self._stopped else "serving")
        return health.report(checks)

    def _data_ping(self) -> str:
        return self.ws.data.ping()  # the checking thread's own connection

    @property
    def stale_after(self) -> float:
        """Seconds without a scheduler pass after which the server is not ready."""
        return max(60.0, 10 * self.tick)

    def _scheduler_check(self) -> health.Check:
        if self._thread is None or not self._thread.is_alive():
            return health.Check(False, "scheduler thread not running")
        last = self.scheduler.last_pass or self.scheduler.began
        if last is None:
            return health.Check(True, "starting")
        age = time.monotonic() - last
        if age > self.stale_after:
            return health.Check(False, f"no pass for {age:.0f} s (more than "
                                       f"{self.stale_after:g} s)")
        passed = "last pass" if self.scheduler.last_pass is not None else "started"
        return health.Check(True, f"{passed} {age:.1f} s ago")

    def stop(self) -> None:
        """No new runs; running ones record what is in flight and stop at a safe point.
        Stopping twice is stopping once."""
        if self._stopped:
            return
        self._stopped = True
        if self.smtp is not None:  # no new reports; those received are stored
            self.smtp.stop()
        self.scheduler.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.pool.shutdown()
        self.sink.close()  # the tracking events still queued are appended


METRICS_TOKEN_ENV = "OVERTURE_METRICS_TOKEN"


def server_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The `[server]` section of overture.toml (empty when absent)."""
    section = config.get("server") or {}
    return dict(section) if isinstance(section, dict) else {}
