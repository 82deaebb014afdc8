"""Rate limits: evenly spaced slots, shared by threads, one limiter per provider."""

from __future__ import annotations

import threading

import pytest

from overture.channels.throttle import RateLimiter, provider_limiter


class FakeClock:
    """A clock that moves only when the limiter sleeps: no real waiting in tests."""

    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_slots_are_spaced_at_the_rate_after_the_first_seconds_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(30)]
    assert waits[:10] == [0.0] * 10          # a second's worth at once after idling
    assert all(w == pytest.approx(0.1) for w in waits[10:])
    assert clock.now == pytest.approx(102.0)  # 30 messages at 10/s: 2 s after the burst


def test_the_long_run_rate_holds_across_threads() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=lambda: [limiter.acquire() for _ in range(25)])
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 200 slots handed out in order: the last is 150 intervals after the burst of 50
    assert limiter._next == pytest.approx(100.0 + 150 / 50 + 0.02)


def test_a_provider_has_one_limiter_per_process() -> None:
    assert provider_limiter("mail", None) is None
    first = provider_limiter("mail-test", 5)
    assert first is provider_limiter("mail-test", 5)
    assert first is not provider_limiter("other-test", 5)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
