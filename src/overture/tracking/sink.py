"""The event sink: tracking hits are queued in memory and appended in batches.

An HTTP handler only verifies the token and queues the event; one background thread
appends every `interval` seconds (or `batch` events) with `events.append`, which
skips ids stored already and refuses unknown messages. Unsubscribes also go to the
unsubscribe table (consent). `close()` appends what is queued: a clean shutdown
loses no event.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from overture.data import events
from overture.data.messages import MESSAGES
from overture.data.plane import DataPlane
from overture.observability import metrics

logger = logging.getLogger("overture.tracking")


@dataclass
class SinkStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unknown: int = 0
    failed_batches: int = 0


@dataclass
class EventSink:
    plane: Callable[[], DataPlane]
    interval: float = 0.2
    batch: int = 5000
    machine_window: float | None = 5.0
    stats: SinkStats = field(default_factory=SinkStats)
    _queue: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _flush_lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> EventSink:
        self._thread = threading.Thread(target=self._loop, name="overture-sink", daemon=True)
        self._thread.start()
        return self

    def put(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._queue.append(event)
            self.stats.received += 1
            full = len(self._queue) >= self.batch
        if full:
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        with self._flush_lock:
            with self._lock:
                rows, self._queue = self._queue, []
            if not rows:
                return
            try:
                self._append(rows)
            except Exception:  # keep the events for the next pass rather than lose them
                logger.exception("appending %d events failed; retrying", len(rows))
                self.stats.failed_batches += 1
                with self._lock:
                    self._queue[:0] = rows

    def _append(self, rows: list[dict[str, Any]]) -> None:
        plane = self.plane()
        result = events.append(plane, rows, machine_window=self.machine_window)
        self.stats.stored += result.stored
        self.stats.duplicates += result.duplicates
        refused = set(result.unknown)
        self.stats.unknown += sum(1 for r in rows if r["message_id"] in refused)
        # a hit's id is a fresh UUID: every event of a known message is stored
        metrics.events_stored("tracking", Counter(str(r["type"]) for r in rows
                                                  if r["message_id"] not in refused))
        unsubscribes = [r for r in rows if r["type"] == "unsubscribe"
                        and r["message_id"] not in set(result.unknown)]
        if unsubscribes:
            _record_unsubscribes(plane, unsubscribes)

    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()


def _record_unsubscribes(plane: DataPlane, rows: list[dict[str, Any]]) -> None:
    from overture.data.suppressions import record_unsubscribe

    log = plane.log.con.table(MESSAGES)
    wanted = sorted({str(r["message_id"]) for r in rows})
    found = log.filter(log.message_id.isin(wanted)).select(
        "message_id", "dimension", "profile_key", "channel").to_pyarrow().to_pylist()
    for message in found:
        record_unsubscribe(plane, message["dimension"], message["profile_key"],
                           message["channel"], source=f"message {message['message_id']}")
