"""When a schedule starts: local wall-clock slots, then instants.

A schedule is read on the campaign's local calendar: `local_slots` lists the naive
local date-times a form names, in order, within the validity window. `instants`
turns them into UTC instants through zoneinfo with fold=0, which is spec §7's
rule for clock changes: a local time that does not exist (spring forward) becomes
the instant one gap later (02:30 → 03:30), one that exists twice (fall back) its
first occurrence. Two local times landing on the same instant give one start.

Inside a spring-forward gap the instants come out of order (02:30 → 03:30 comes
after 03:15), so `instants` holds them back until no later slot can come before
them: a slot's instant is at most one offset span (< 26 hours) from its wall-clock
time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter
from dateutil import rrule

from overture.schedules.forms import (
    Cron,
    Daily,
    Form,
    Hourly,
    Monthly,
    Once,
    Signal,
    Weekly,
)

#: more than the span of UTC offsets any zone has had (-12:00 … +14:00)
_SPAN = timedelta(hours=27)
_RRULE_DAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)


def to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive local time (fold=0: gaps shift forward, overlaps first)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def instants(form: Form, start: date | None, end: date | None, zone: ZoneInfo,
             after: datetime) -> Iterator[datetime]:
    """The start instants (aware, UTC) strictly after `after`, ascending, each once."""
    after_utc = after.astimezone(UTC)
    local_after = after_utc.astimezone(zone).replace(tzinfo=None)
    try:
        from_date = (local_after - _SPAN).date()
    except OverflowError:
        from_date = date.min
    pending: list[datetime] = []
    last: datetime | None = None
    for slot in local_slots(form, start, end, from_date):
        instant = to_instant(slot, zone)
        if instant > after_utc:
            heapq.heappush(pending, instant)
        # no later slot maps before this horizon
        horizon = slot.replace(tzinfo=UTC) - _SPAN
        while pending and pending[0] <= horizon:
            out = heapq.heappop(pending)
            if out != last:
                yield out
                last = out
    while pending:
        out = heapq.heappop(pending)
        if out != last:
            yield out
            last = out


def local_slots(form: Form, start: date | None, end: date | None,
                from_date: date) -> Iterator[datetime]:
    """The naive local slots of a form on or after `from_date`, within [start, end]."""
    first = max(from_date, start) if start else from_date
    for slot in _slots(form, start, end, first):
        day = slot.date()
        if end is not None and day > end:
            return
        if day >= first:
            yield slot


def _slots(form: Form, start: date | None, end: date | None, first: date) -> Iterator[datetime]:
    until = datetime.combine(end, time.max) if end else None
    if isinstance(form, Once):
        yield form.at
    elif isinstance(form, Signal):
        return
    elif isinstance(form, Daily):
        yield from _rule(rrule.DAILY, _midnight(first), until, form.at,
                         byweekday=[_RRULE_DAYS[d] for d in form.days])
    elif isinstance(form, Hourly):
        for day in _rule(rrule.DAILY, _midnight(first), until, time(0)):
            for at in form.times:
                yield datetime.combine(day.date(), at)
    elif isinstance(form, Weekly):
        yield from _rule(rrule.WEEKLY, _week_anchor(form.every, start, first), until, form.at,
                         interval=form.every, wkst=rrule.MO,
                         byweekday=[_RRULE_DAYS[d] for d in form.days])
    elif isinstance(form, Monthly):
        options: dict[str, Any] = {"bymonth": list(form.months) or None}
        if form.nth is not None and form.weekday is not None:
            options["byweekday"] = _RRULE_DAYS[form.weekday](form.nth)
        else:
            options["bymonthday"] = form.day
        yield from _rule(rrule.MONTHLY, _midnight(first.replace(day=1)), until, form.at,
                         **options)
    elif isinstance(form, Cron):
        yield from _cron(form.expression, first)
    else:  # pragma: no cover - every form is handled above
        raise TypeError(f"not a schedule form: {form!r}")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0))


def _rule(freq: int, dtstart: datetime, until: datetime | None, at: time,
          **options: Any) -> Iterator[datetime]:
    rule = rrule.rrule(freq, dtstart=dtstart, until=until, byhour=at.hour, byminute=at.minute,
                       bysecond=0, cache=False, **options)
    return iter(rule)


def _week_anchor(every: int, start: date | None, first: date) -> datetime:
    """The Monday to count weeks from: in step with `start`'s week, at most `every` weeks
    before `first`, so that iterating does not begin years back."""
    monday = first - timedelta(days=first.weekday())
    if start is None or every == 1:
        return _midnight(monday)
    base = start - timedelta(days=start.weekday())
    if monday <= base:
        return _midnight(base)
    weeks = (monday - base).days // 7
    return _midnight(base + timedelta(weeks=weeks - weeks % every))


def _cron(expression: str, first: date) -> Iterator[datetime]:
    """Cron on naive local wall-clock times (croniter then knows nothing of clock changes)."""
    it = croniter(expression, _midnight(first) - timedelta(minutes=1))
    while True:
        try:
            slot = it.get_next(datetime)
        except (CroniterBadDateError, OverflowError, ValueError):
            return  # no further date matches (or past year 9999)
        yield slot
