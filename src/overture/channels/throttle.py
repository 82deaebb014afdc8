"""Rate limits shared by every sending thread of a process.

A provider's `rate` holds across all activities and runs that use it, so its limiter
is kept in a process-wide registry by provider name; an activity's `throttle` has
its own limiter. A message waits for a slot from both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Evenly spaced slots at `rate` per second, with a burst of one second's worth.

    `acquire` blocks the calling thread until its slot; slots are handed out in
    order, so no thread starves and the long-run rate never exceeds `rate`.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("a rate is a positive number of messages per second")
        self.rate = float(rate)
        self.interval = 1.0 / self.rate
        self.burst = max(1.0, self.rate)  # slots that may be taken at once after idling
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # a new limiter has been idle: its first second's worth goes at once
        self._next = clock() - (self.burst - 1) * self.interval

    def acquire(self) -> float:
        """Wait for the next slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            earliest = now - (self.burst - 1) * self.interval
            slot = max(self._next, earliest)
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
            return wait
        return 0.0


_PROVIDER_LIMITERS: dict[tuple[str, float], RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def provider_limiter(provider_name: str, rate: float | None) -> RateLimiter | None:
    """The process-wide limiter of a provider (one per name and rate)."""
    if rate is None:
        return None
    with _REGISTRY_LOCK:
        key = (provider_name, float(rate))
        limiter = _PROVIDER_LIMITERS.get(key)
        if limiter is None:
            limiter = _PROVIDER_LIMITERS[key] = RateLimiter(rate)
        return limiter
