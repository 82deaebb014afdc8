"""Rate limits shared by every sending thread of a process.

A provider's `rate` holds across all activities and runs that use it, so its limiter
is kept in a process-wide registry by provider name; an activity's `throttle` has
its own limiter. A message waits for a slot from both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


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


class SharedRateLimiter:
    """A rate that holds across every worker sharing a PostgreSQL control plane.

    Slots are reserved in blocks (about a tenth of a second's worth) from a row of the
    control plane, counted by the database's clock, so that workers on several machines
    together never exceed `rate`; this process then hands its block's slots out evenly.
    A block not used up (the batch ended) is lost, which only ever slows sending down.
    """

    def __init__(self, claims: Any, name: str, rate: float, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("a rate is a positive number of messages per second")
        self.claims = claims
        self.name = name
        self.rate = float(rate)
        self.block = max(1, int(self.rate / 10))
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: list[float] = []  # monotonic instants reserved for this process

    def acquire(self) -> float:
        with self._lock:
            if not self._slots:
                wait, interval = self.claims.reserve_slots(self.name, self.rate, self.block)
                first = time.monotonic() + wait
                self._slots = [first + i * interval for i in range(self.block)]
            slot = self._slots.pop(0)
        wait = slot - time.monotonic()
        if wait > 0:
            self._sleep(wait)
            return wait
        return 0.0


_SHARED_LIMITERS: dict[tuple[str, float], SharedRateLimiter] = {}


def limiter_for(name: str, rate: float | None, claims: Any = None
                ) -> RateLimiter | SharedRateLimiter | None:
    """A provider's or an activity's limiter: shared through the control plane when
    other workers may send too (`claims` given), else this process's own."""
    if rate is None:
        return None
    if claims is None:
        return provider_limiter(name, rate)
    with _REGISTRY_LOCK:
        key = (name, float(rate))
        limiter = _SHARED_LIMITERS.get(key)
        if limiter is None or limiter.claims is not claims:
            limiter = _SHARED_LIMITERS[key] = SharedRateLimiter(claims, name, rate)
        return limiter
