"""What the server holds while it runs: the workspace, its clock, workers, scheduler."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from overture.data.workspace import Workspace
from overture.engine.clock import Clock
from overture.feedback.smtp import FeedbackReceiver, receiver_for
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

    sink: EventSink = field(init=False)
    tracker: Tracker = field(init=False)
    smtp: FeedbackReceiver | None = field(init=False)  # [feedback] smtp_port

    def __post_init__(self) -> None:
        self.pool = WorkerPool(self.ws, self.clock, self.workers)
        self.lifecycle = Lifecycle(self.ws, self.clock, dispatch=self.pool.submit,
                                   interrupt=self.pool.interrupt,
                                   is_executing=self.pool.is_active)
        self.pool.on_finished = self.lifecycle.run_finished
        self.scheduler = Scheduler(self.lifecycle, self.pool.submit, interval=self.tick)
        self.sink, self.tracker = tracking_for(self.ws)
        self.smtp = receiver_for(self.ws, now=self.clock.now)

    @property
    def users(self) -> UserRepository:
        return UserRepository(self.ws.control)

    def start(self) -> None:
        """Recover unfinished runs, then schedule in a background thread."""
        if self.smtp is not None:  # first: an SMTP port taken stops the start at once
            self.smtp.start()
        self.sink.start()
        self._thread = threading.Thread(target=self.scheduler.run_forever,
                                        name="overture-scheduler", daemon=True)
        self._thread.start()

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
