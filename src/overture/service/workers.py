"""A pool of threads that execute runs, each run on one thread at a time.

A run handed over twice (the scheduler and a person resuming it at once) executes
once: the second hand-over is ignored while the first is active. Each active run has
an interrupt event, set to pause or stop it, or for every run when the server shuts
down; senders then finish what is in flight, record it, and return.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from overture.data.workspace import Workspace
from overture.engine.clock import Clock
from overture.engine.runner import RunBusy, execute_run
from overture.errors import OvertureError
from overture.observability.logs import log_context
from overture.store.status import RunStatus

logger = logging.getLogger("overture.workers")


class WorkerPool:
    def __init__(self, ws: Workspace, clock: Clock, workers: int = 2,
                 on_finished: Callable[[str], None] | None = None):
        self.ws = ws
        self.clock = clock
        self.on_finished = on_finished
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="overture-worker")
        self._lock = threading.Lock()
        self._active: dict[str, threading.Event] = {}
        self._futures: dict[str, Future[None]] = {}
        self._executing: set[str] = set()
        #: runs to execute again when their current pass ends (a go-ahead came meanwhile)
        self._again: set[str] = set()
        self._closing = False
        self.size = max(1, workers)

    def submit(self, run_id: str) -> bool:
        """Execute (or continue) a run; False when it is active already or we are closing."""
        with self._lock:
            if self._closing or run_id in self._active:
                return False
            event = threading.Event()
            self._active[run_id] = event
            self._futures[run_id] = self._pool.submit(self._drive, run_id, event)
            return True

    def submit_after(self, run_id: str) -> bool:
        """Execute the run again once its current pass ends, or now if none is active:
        a confirmation or a continue recorded while other branches still execute."""
        with self._lock:
            if run_id in self._active:
                self._again.add(run_id)
                return True
        return self.submit(run_id)

    def is_active(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._active

    def active(self) -> list[str]:
        with self._lock:
            return list(self._active)

    def counts(self) -> tuple[int, int, int]:
        """(threads, runs executing, runs handed over and waiting for a free thread)."""
        with self._lock:
            return self.size, len(self._executing), len(self._active) - len(self._executing)

    def health(self) -> tuple[bool, str]:
        """Whether the pool takes runs and its threads are alive, and a short detail."""
        threads = list(getattr(self._pool, "_threads", ()))
        dead = sum(1 for thread in threads if not thread.is_alive())
        size, executing, queued = self.counts()
        if self._closing:
            return False, "shutting down: no new run is taken"
        if dead:
            return False, f"{dead} of {len(threads)} worker threads died"
        return True, f"{size} workers: {executing} executing, {queued} queued"

    def interrupt(self, run_id: str) -> bool:
        with self._lock:
            event = self._active.get(run_id)
        if event is None:
            return False
        event.set()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no run is active, passes asked for meanwhile included (tests,
        shutdown); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                futures = list(self._futures.values())
                if not futures and not self._active:
                    return True
            for future in futures:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    future.result(timeout=left)
                except TimeoutError:
                    return False

    def shutdown(self, timeout: float | None = None) -> None:
        """Interrupt every active run and wait for them to record what they did."""
        with self._lock:
            self._closing = True
            events = list(self._active.values())
        for event in events:
            event.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _drive(self, run_id: str, event: threading.Event) -> None:
        with self._lock:
            self._executing.add(run_id)
        try:
            drive_run(self.ws, run_id, self.clock, event)
        finally:
            with self._lock:
                self._active.pop(run_id, None)
                self._futures.pop(run_id, None)
                self._executing.discard(run_id)
                again = run_id in self._again
                self._again.discard(run_id)
        if self.on_finished is not None:
            try:
                self.on_finished(run_id)
            except Exception:  # the run is recorded; the campaign's status can catch up
                logger.exception("after run %s", run_id)
        if again:
            self._again_if_waiting(run_id)

    def _again_if_waiting(self, run_id: str) -> None:
        run = self.ws.control.get_run(run_id)
        if run.status in (RunStatus.WAITING, RunStatus.PENDING):
            self.ws.control.update_run(run_id, status=RunStatus.PENDING.value)
            self.submit(run_id)


def drive_run(ws: Workspace, run_id: str, clock: Clock, interrupt: threading.Event) -> None:
    """Execute (or continue) a run, recording any failure on it: never raises, so a
    worker thread or process survives every run."""
    try:
        run = ws.control.get_run(run_id)
        if run.status.is_finished() or run.status == RunStatus.PAUSED:
            return
        with log_context(run=run_id, campaign=run.campaign, mode=run.mode):
            execute_run(ws, run_id, now=clock.now, interrupt=interrupt)
    except RunBusy as exc:  # another worker executes it: nothing to do here
        logger.debug("%s", exc)
    except OvertureError as exc:
        _failed(ws, run_id, str(exc))
    except Exception as exc:  # never lose a worker to one run
        ws.control.log(run_id, traceback.format_exc(), level="debug")
        _failed(ws, run_id, f"internal error: {type(exc).__name__}: {exc}")


def _failed(ws: Workspace, run_id: str, message: str) -> None:
    ws.control.log(run_id, message, level="error")
    ws.control.update_run(run_id, status=RunStatus.FAILED.value, error=message)
