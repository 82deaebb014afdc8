"""A parsed schedule and the questions the scheduler and the CLI ask it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from overture.schedules.forms import Form, Once, Signal
from overture.schedules.starts import instants


class ScheduleError(ValueError):
    """A schedule with problems; `problems` lists every one as (path, message).

    A path names the setting inside the schedule (`weekly.days[1]`), "" the schedule
    itself.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__("; ".join(f"{path}: {message}" if path else message
                                   for path, message in self.problems))


@dataclass(frozen=True)
class Schedule:
    """One kind of schedule and its validity window, as `parse_schedule` builds it.

    Every question takes the campaign's time zone `tz` (an IANA name) and aware
    instants; the answers are aware instants in `tz`.
    """

    kind: str
    form: Form
    start: date | None = None  # validity window: local dates, both inclusive
    end: date | None = None
    min_interval: timedelta | None = None  # signal only

    @property
    def is_signal(self) -> bool:
        return isinstance(self.form, Signal)

    @property
    def once_at(self) -> datetime | None:
        """The local date-time of a `once` schedule (naive)."""
        return self.form.at if isinstance(self.form, Once) else None

    def starts(self, tz: str, after: datetime, count: int = 10) -> list[datetime]:
        """The next `count` starts strictly after `after`; fewer when the schedule ends."""
        if count < 0:
            raise ValueError(f"count must be 0 or more, not {count}")
        zone = _zone(tz)
        _need_aware(after, "after")
        return [s.astimezone(zone) for s in islice(self._instants(zone, after), count)]

    def next_start(self, tz: str, after: datetime) -> datetime | None:
        found = self.starts(tz, after, 1)
        return found[0] if found else None

    def latest_due(self, tz: str, after: datetime, until: datetime) -> datetime | None:
        """The latest start s with after < s <= until, None if there is none.

        A scheduler that was down runs what it missed once, at this slot, not once per
        missed slot. Looks back from `until` in growing steps, so a long outage of a
        frequent schedule costs little.
        """
        zone = _zone(tz)
        _need_aware(after, "after")
        _need_aware(until, "until")
        # in UTC: Python subtracts aware datetimes of one ZoneInfo on the wall clock
        after, until = after.astimezone(UTC), until.astimezone(UTC)
        if until <= after:
            return None
        span = timedelta(days=2)
        while True:
            low = after if until - after <= span else until - span
            latest = None
            for instant in self._instants(zone, low):
                if instant > until:
                    break
                latest = instant
            if latest is not None:
                return latest.astimezone(zone)
            if low == after:
                return None
            span *= 8

    def ended(self, tz: str, after: datetime) -> bool:
        """True when no start comes after `after` (window over, once passed); never for
        a signal schedule, which starts by API calls."""
        if self.is_signal:
            return False
        return self.next_start(tz, after) is None

    def _instants(self, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
        return instants(self.form, self.start, self.end, zone, after)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{tz!r} is not an IANA time zone") from None


def _need_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), "
                         f"not {value!r}")
