"""The seven kinds of schedule of spec §7, as read from a document (local, naive values).

Days are numbered Monday = 0 … Sunday = 6, as `date.weekday()` and dateutil count
them; documents only ever name them (`mon` … `sun`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

KINDS = ("once", "daily", "hourly", "weekly", "monthly", "cron", "signal")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = tuple(range(7))


@dataclass(frozen=True)
class Once:
    at: datetime  # naive, in the campaign's time zone


@dataclass(frozen=True)
class Daily:
    at: time
    days: tuple[int, ...] = ALL_DAYS


@dataclass(frozen=True)
class Hourly:
    """The times of a day, sorted: from `every`/`between` or from `hours`/`minute`."""

    times: tuple[time, ...]


@dataclass(frozen=True)
class Weekly:
    days: tuple[int, ...]
    at: time
    every: int = 1  # weeks, counted from the week (Monday to Sunday) of the schedule's start


@dataclass(frozen=True)
class Monthly:
    at: time
    day: int | None = None      # 1..31, or -1 for the last day
    nth: int | None = None      # 1..5 or -5..-1 (-1: the last such weekday of the month)
    weekday: int | None = None  # with nth
    months: tuple[int, ...] = ()  # 1..12; empty: every month


@dataclass(frozen=True)
class Cron:
    expression: str  # five fields, read on local wall-clock times


@dataclass(frozen=True)
class Signal:
    min_interval: timedelta | None = None


Form = Once | Daily | Hourly | Weekly | Monthly | Cron | Signal
