"""Liveness and readiness of `overture serve`.

Liveness (`GET /health`) is the process answering HTTP at all. Readiness
(`GET /health/ready`) asks each part the server needs:

- `control_plane`, `data_plane`: a `SELECT 1` answered within CHECK_TIMEOUT seconds;
- `scheduler`: its thread alive and a pass ended less than `stale_after` seconds ago;
- `workers`: the pool open and each of its threads alive;
- `tracking`: the thread appending tracking events alive;
- `feedback_smtp` (when `[feedback] smtp_port` is set): the receiver running;
- `shutdown`: the server is not stopping.

The database checks run on a thread of their own per plane (which keeps its
connection from one check to the next), so a database that hangs makes the answer a
503 after CHECK_TIMEOUT, not a request that never ends; the server opens those
connections as it starts (`warm`), so its first readiness answer does not pay for them.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

CHECK_TIMEOUT = 5.0


class _Lane:
    """One daemon thread running the probes of one kind of check, one at a time: a
    plane's connection is opened once, then reused; a probe stuck on a database that
    hangs never holds up the process's exit."""

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue[tuple[Callable[[], str], Future[str]]] = \
            queue.SimpleQueue()
        threading.Thread(target=self._run, name=f"overture-health-{name}",
                         daemon=True).start()

    def submit(self, probe: Callable[[], str]) -> Future[str]:
        future: Future[str] = Future()
        self._queue.put((probe, future))
        return future

    def _run(self) -> None:
        while True:
            probe, future = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(probe())
            except BaseException as exc:
                future.set_exception(exc)


_lanes: dict[str, _Lane] = {}
_lanes_lock = threading.Lock()


def _lane(name: str) -> _Lane:
    with _lanes_lock:
        if name not in _lanes:
            _lanes[name] = _Lane(name)
        return _lanes[name]


@dataclass
class Check:
    ok: bool
    detail: str
    seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "detail": self.detail}
        if self.seconds is not None:
            out["seconds"] = round(self.seconds, 4)
        return out


def warm(lane: str, probe: Callable[[], str]) -> None:
    """Run a probe once on its lane, not waiting: its connection is ready for checks."""
    _lane(lane).submit(probe)


def timed(lane: str, probe: Callable[[], str], timeout: float = CHECK_TIMEOUT) -> Check:
    """Run `probe` (which returns a short detail, or raises) on its lane's thread."""
    started = time.monotonic()
    future = _lane(lane).submit(probe)
    try:
        detail = future.result(timeout=timeout)
    except FutureTimeout:
        return Check(False, f"no answer within {timeout:g} s", time.monotonic() - started)
    except Exception as exc:
        text = " ".join(str(exc).split())[:300]
        return Check(False, f"{type(exc).__name__}: {text}", time.monotonic() - started)
    return Check(True, detail, time.monotonic() - started)


def thread_check(alive: bool, what: str) -> Check:
    return Check(alive, f"{what} alive" if alive else f"{what} not running")


def report(checks: dict[str, Check]) -> tuple[int, dict[str, Any]]:
    """The HTTP status (200 or 503) and the body of a readiness answer."""
    problems = [f"{name}: {check.detail}" for name, check in checks.items() if not check.ok]
    body = {"status": "not ready" if problems else "ready", "problems": problems,
            "checks": {name: check.as_json() for name, check in checks.items()}}
    return (503 if problems else 200), body
