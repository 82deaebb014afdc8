"""The engine's sense of "now": the system clock, or one that tests move by hand.

Schedules and waits read the time only through a `Clock`, so a test can let two days
pass in a millisecond. A server started with `OVERTURE_CLOCK_FILE=PATH` reads the
instant written in that file (ISO 8601) instead of the system clock: a test in another
process moves it by rewriting the file, and the clock survives the server's restarts.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

CLOCK_FILE_ENV = "OVERTURE_CLOCK_FILE"


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC instant."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that only moves when told to (in-process tests)."""

    instant: datetime
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def now(self) -> datetime:
        with self._lock:
            return self.instant

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("ManualClock.set: pass an aware datetime")
        with self._lock:
            self.instant = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self.instant += delta
            return self.instant


@dataclass
class FileClock:
    """The instant written in a file; unreadable or empty falls back to the last one read."""

    path: Path
    _last: datetime | None = None

    def now(self) -> datetime:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
            instant = datetime.fromisoformat(text)
        except (OSError, ValueError):
            if self._last is None:
                raise
            return self._last
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        self._last = instant.astimezone(UTC)
        return self._last

    def set(self, instant: datetime) -> None:
        """Write atomically, so a reader never sees half an instant."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(instant.astimezone(UTC).isoformat(), encoding="utf-8")
        os.replace(tmp, self.path)


def clock_from_env() -> Clock:
    path = os.environ.get(CLOCK_FILE_ENV)
    return FileClock(Path(path)) if path else SystemClock()
