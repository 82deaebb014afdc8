"""Read a `schedule:` mapping (spec §7): every problem at once, each with its path.

Nothing a document holds makes these functions raise anything but ScheduleError:
`schedule_problems` is what validation calls, `parse_schedule` what the scheduler
and the CLI call.
"""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from croniter import CroniterBadDateError, croniter

from overture.schedules.forms import (
    DAY_NAMES,
    KINDS,
    Cron,
    Daily,
    Form,
    Hourly,
    Monthly,
    Once,
    Signal,
    Weekly,
)
from overture.schedules.model import Schedule, ScheduleError

WINDOW = ("start", "end")
#: the settings of each kind that takes a mapping
SETTINGS = {
    "daily": ("at", "days"),
    "hourly": ("every", "between", "hours", "minute"),
    "weekly": ("days", "at", "every"),
    "monthly": ("day", "nth", "weekday", "at", "months"),
    "signal": ("min_interval",),
}
EXAMPLES = {
    "once": '"2027-03-01T09:00"',
    "daily": '{at: "09:00", days: [mon, tue, wed, thu, fri]}',
    "hourly": '{every: "2h", between: ["08:00", "20:00"]}',
    "weekly": '{days: [mon, thu], at: "09:00"}',
    "monthly": '{day: 1, at: "09:00"}',
    "cron": '"15 9 * * 1-5"',
    "signal": '{min_interval: "1h"}',
}
CRON_FIELDS = (("minute", "0-59"), ("hour", "0-23"), ("day-of-month", "1-31"),
               ("month", "1-12 or jan-dec"), ("day-of-week", "0-7 or sun-sat; 0 and 7 are Sunday"))
_TIME = re.compile(r"(\d{2}):(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?")
_DURATION = re.compile(r"(\d+)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def schedule_problems(raw: Any) -> list[tuple[str, str]]:
    """Every problem of a schedule as (path, message); [] when it is valid."""
    return _Reader().read(raw)[1]


def parse_schedule(raw: Any) -> Schedule:
    """The Schedule of a `schedule:` mapping; ScheduleError lists every problem."""
    schedule, problems = _Reader().read(raw)
    if problems or schedule is None:
        raise ScheduleError(problems or [("", "not a schedule")])
    return schedule


class _Reader:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    # ------------------------------------------------------------------ the mapping
    def read(self, raw: Any) -> tuple[Schedule | None, list[tuple[str, str]]]:
        if not isinstance(raw, dict):
            self.problem("", f"must be a mapping such as {{weekly: {EXAMPLES['weekly']}}}, "
                             f"not {_show(raw)}")
            return None, self.problems
        kinds = [key for key in raw if isinstance(key, str) and key in KINDS]
        for key in raw:
            if key not in kinds and key not in WINDOW:
                self.unknown(_path("", key), key, (*KINDS, *WINDOW),
                             f"a schedule takes one kind ({_choices(KINDS)}) and start, end")
        if not kinds:
            self.problem("", f"no kind of schedule: give one of {_choices(KINDS)}")
        elif len(kinds) > 1:
            self.problem("", f"one kind per schedule, found {_choices(kinds, 'and')}")
        start = self.read_date(raw, "start")
        end = self.read_date(raw, "end")
        if start is not None and end is not None and end < start:
            self.problem("end", f"{end} is before start {start}")
        forms = [(kind, self.form(kind, raw[kind], start)) for kind in kinds]
        if self.problems or len(forms) != 1:
            return None, self.problems
        kind, form = forms[0]
        if form is None:
            return None, self.problems
        if isinstance(form, Once):
            self.once_in_window(form.at, start, end)
        if self.problems:
            return None, self.problems
        interval = form.min_interval if isinstance(form, Signal) else None
        return Schedule(kind, form, start, end, interval), self.problems

    def read_date(self, raw: dict[Any, Any], key: str) -> date | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            self.problem(key, f"must be a date such as 2027-01-01, without a time of day "
                              f"(not {value.isoformat()})")
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                self.problem(key, f"{value!r} is not a real date")
                return None
        self.problem(key, f"must be a date such as 2027-01-01, not {_show(value)}")
        return None

    def once_in_window(self, at: datetime, start: date | None, end: date | None) -> None:
        if (start is not None and at.date() < start) or (end is not None and at.date() > end):
            window = f"{start or '…'} to {end or '…'}"
            self.problem("once", f"{at.isoformat(timespec='minutes')} is outside the validity "
                                 f"window ({window}): it would never start")

    def unknown(self, path: str, key: Any, known: Sequence[str], listing: str) -> None:
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6) \
            if isinstance(key, str) else []
        if close:
            self.problem(path, f"unknown setting; did you mean {close[0]!r}?")
        else:
            self.problem(path, f"unknown setting: {listing}")

    # ------------------------------------------------------------------ the kinds
    def form(self, kind: str, value: Any, start: date | None) -> Form | None:
        if kind == "once":
            return self.once(value)
        if kind == "cron":
            return self.cron(value)
        if kind == "signal" and value is None:
            return Signal()
        if not isinstance(value, dict):
            self.problem(kind, f"must be a mapping such as {EXAMPLES[kind]}, not {_show(value)}")
            return None
        known = SETTINGS[kind]
        for key in value:
            if key not in known:
                self.unknown(_path(kind, key), key, known, f"{kind} takes {_choices(known, 'and')}")
        before = len(self.problems)
        form: Form | None
        if kind == "daily":
            form = self.daily(value)
        elif kind == "hourly":
            form = self.hourly(value)
        elif kind == "weekly":
            form = self.weekly(value, start)
        elif kind == "monthly":
            form = self.monthly(value)
        else:
            form = Signal(self.duration(value, "signal.min_interval", minutes_only=False))
        return form if len(self.problems) == before else None

    def once(self, value: Any) -> Once | None:
        example = EXAMPLES["once"]
        if isinstance(value, datetime):
            if value.utcoffset() is not None:
                self.problem("once", "must be a local date and time, without a UTC offset: "
                                     "the schedule is read in the campaign's timezone")
                return None
            return Once(value.replace(tzinfo=None))
        if isinstance(value, date):
            self.problem("once", f"needs a time of day, such as \"{value.isoformat()}T09:00\"")
            return None
        if not isinstance(value, str):
            self.problem("once", f"must be a local date and time such as {example}, "
                                 f"not {_show(value)}")
            return None
        text = value.strip()
        if _DATE.fullmatch(text):
            self.problem("once", f"{value!r} needs a time of day, such as \"{text}T09:00\"")
            return None
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            at = None
        if at is not None and at.utcoffset() is not None:
            local = at.replace(tzinfo=None).isoformat(timespec="minutes")
            self.problem("once", f"{value!r} has a UTC offset: the schedule is read in the "
                                 f"campaign's timezone, so write \"{local}\"")
            return None
        if not _LOCAL.fullmatch(text):
            self.problem("once", f"must be a local date and time such as {example}, "
                                 f"not {value!r}")
            return None
        if at is None:
            self.problem("once", f"{value!r} is not a real date and time")
            return None
        return Once(at)

    def daily(self, value: dict[Any, Any]) -> Daily | None:
        at = self.required_time(value, "daily")
        days = self.days(value["days"], "daily.days") if "days" in value else tuple(range(7))
        return Daily(at, days) if at is not None and days else None

    def weekly(self, value: dict[Any, Any], start: date | None) -> Weekly | None:
        days = self.days(value["days"], "weekly.days") if "days" in value else None
        if "days" not in value:
            self.problem("weekly.days", "required setting is missing (such as [mon, thu])")
        at = self.required_time(value, "weekly")
        every = 1
        if "every" in value:
            found = self.integer(value["every"], "weekly.every", 1, None)
            every = found if found is not None else 1
            if found is not None and found > 1 and start is None:
                self.problem("weekly.every", f"every {found} weeks are counted from the week "
                                             "of `start`: set schedule.start")
        if days and at is not None:
            return Weekly(days, at, every)
        return None

    def hourly(self, value: dict[Any, Any]) -> Hourly | None:
        by_every = "every" in value or "between" in value
        by_hours = "hours" in value or "minute" in value
        if by_every and by_hours:
            self.problem("hourly", "give either every (with between) or hours (with minute), "
                                   "not both")
            return None
        if not by_hours:
            if "every" not in value:
                self.problem("hourly.every", 'required setting is missing: give every (such as '
                                             '"2h") or hours (such as [9, 13, 17])')
                return None
            every = self.duration(value, "hourly.every", minutes_only=True)
            low, high = time(0, 0), time(23, 59)
            if "between" in value:
                window = self.between(value["between"])
                if window is None:
                    return None
                low, high = window
            if every is None:
                return None
            step = int(every.total_seconds()) // 60
            first, last = low.hour * 60 + low.minute, high.hour * 60 + high.minute
            return Hourly(tuple(time(m // 60, m % 60) for m in range(first, last + 1, step)))
        if "hours" not in value:
            self.problem("hourly.hours", "required setting is missing (such as [9, 13, 17]); "
                                         "minute goes with hours")
            return None
        hours = self.integers(value["hours"], "hourly.hours", 0, 23, "[9, 13, 17]")
        minute = self.integer(value["minute"], "hourly.minute", 0, 59) \
            if "minute" in value else 0
        if not hours or minute is None:
            return None
        return Hourly(tuple(time(h, minute) for h in hours))

    def between(self, value: Any) -> tuple[time, time] | None:
        path = "hourly.between"
        if not isinstance(value, list) or len(value) != 2:
            self.problem(path, f'must be two times such as ["08:00", "20:00"], not '
                               f'{_show(value)}')
            return None
        low = self.read_time(value[0], f"{path}[0]")
        high = self.read_time(value[1], f"{path}[1]")
        if low is None or high is None:
            return None
        if high < low:
            self.problem(path, f"ends ({high:%H:%M}) before it starts ({low:%H:%M}): a window "
                               "across midnight is not supported")
            return None
        return low, high

    def monthly(self, value: dict[Any, Any]) -> Monthly | None:
        at = self.required_time(value, "monthly")
        day = nth = weekday = None
        if "day" in value and "nth" in value:
            self.problem("monthly", "give either day or nth (with weekday), not both")
        elif "day" in value:
            day = self.month_day(value["day"])
        elif "nth" in value:
            nth = value["nth"]
            if not isinstance(nth, int) or isinstance(nth, bool) or not 1 <= abs(nth) <= 5:
                self.problem("monthly.nth", f"must be 1 to 5 (the first to the fifth such "
                                            f"weekday of the month) or -1 (the last) to -5, "
                                            f"not {_show(nth)}")
                nth = None
        else:
            self.problem("monthly", "give day (1 to 31, or last) or nth with weekday "
                                    "(such as nth: 2, weekday: tue)")
        if "weekday" in value:
            if "nth" not in value:
                self.problem("monthly.weekday", "goes with nth (such as nth: 2, weekday: tue); "
                                                "for a day of the month use day")
            else:
                weekday = self.day_name(value["weekday"], "monthly.weekday")
        elif "nth" in value and "day" not in value:
            self.problem("monthly.weekday", "required setting is missing: nth needs a weekday "
                                            "(such as tue)")
        months: tuple[int, ...] = ()
        if "months" in value:
            months = self.integers(value["months"], "monthly.months", 1, 12, "[1, 4, 7, 10]")
        if day is not None and day > 0 and months:
            longest = max(calendar.monthrange(2000, m)[1] for m in months)  # 2000: leap year
            if day > longest:
                self.problem("monthly.day", f"day {day} never comes in months "
                                            f"{_choices([str(m) for m in months], 'and')}: "
                                            "the campaign would never start")
        if at is None or (day is None and (nth is None or weekday is None)):
            return None
        return Monthly(at, day=day, nth=nth, weekday=weekday, months=months)

    def month_day(self, value: Any) -> int | None:
        if isinstance(value, str) and value.strip().lower() == "last":
            return -1
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 31:
            return value
        self.problem("monthly.day", f"must be a day of the month from 1 to 31, or last, "
                                    f"not {_show(value)}")
        return None

    def cron(self, value: Any) -> Cron | None:
        if not isinstance(value, str):
            self.problem("cron", f"must be a cron expression such as {EXAMPLES['cron']}, "
                                 f"not {_show(value)}")
            return None
        fields = value.split()
        if len(fields) != 5:
            self.problem("cron", f"{value!r} has {len(fields)} field{'s' * (len(fields) != 1)}: "
                                 "cron takes 5 (minute hour day-of-month month day-of-week)")
            return None
        bad = []
        for index, (name, allowed) in enumerate(CRON_FIELDS):
            alone = ["*"] * 5
            alone[index] = fields[index]
            if not _cron_valid(" ".join(alone)):
                bad.append(f"the {name} field {fields[index]!r} is not valid ({allowed})")
        expression = " ".join(fields)
        if bad:
            for message in bad:
                self.problem("cron", f"{value!r}: {message}")
            return None
        if not _cron_valid(expression):
            self.problem("cron", f"{value!r} is not a valid cron expression")
            return None
        try:
            croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
        except CroniterBadDateError:
            self.problem("cron", f"{value!r} never matches a date: the campaign would never "
                                 "start")
            return None
        except Exception:
            self.problem("cron", f"{value!r} is not a valid cron expression")
            return None
        return Cron(expression)

    # ------------------------------------------------------------------ values
    def required_time(self, value: dict[Any, Any], kind: str) -> time | None:
        if "at" not in value:
            self.problem(f"{kind}.at", 'required setting is missing (a time such as "09:00")')
            return None
        return self.read_time(value["at"], f"{kind}.at")

    def read_time(self, value: Any, path: str) -> time | None:
        if isinstance(value, str):
            match = _TIME.fullmatch(value.strip())
            if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
                return time(int(match.group(1)), int(match.group(2)))
            if match:
                self.problem(path, f"{value!r} is not a time of day: HH:MM goes from 00:00 to "
                                   "23:59")
                return None
            if re.fullmatch(r"\d:\d{2}", value.strip()):
                self.problem(path, f'must be a time HH:MM, with two digits for the hour: '
                                   f'"0{value.strip()}", not {value!r}')
                return None
        elif isinstance(value, int) and not isinstance(value, bool) and 60 <= value < 24 * 60:
            hour, minute = divmod(value, 60)
            self.problem(path, f'must be a time HH:MM in quotes, such as "{hour:02d}:{minute:02d}"'
                               f": without quotes, YAML reads {hour}:{minute:02d} as the "
                               f"number {value}")
            return None
        self.problem(path, f'must be a time HH:MM such as "09:00", not {_show(value)}')
        return None

    def days(self, value: Any, path: str) -> tuple[int, ...] | None:
        if not isinstance(value, list):
            self.problem(path, f"must be a list of days such as [mon, thu], not {_show(value)}")
            return None
        if not value:
            self.problem(path, "must list at least one day (mon, tue, wed, thu, fri, sat, sun)")
            return None
        found = [self.day_name(item, f"{path}[{index}]") for index, item in enumerate(value)]
        if any(day is None for day in found):
            return None
        return tuple(sorted({day for day in found if day is not None}))

    def day_name(self, value: Any, path: str) -> int | None:
        if not isinstance(value, str):
            self.problem(path, f"must be a day name (mon, tue, wed, thu, fri, sat or sun): "
                               f"days are named, not numbered; not {_show(value)}")
            return None
        name = value.strip().lower()
        if name in DAY_NAMES:
            return DAY_NAMES.index(name)
        if len(name) > 3 and name[:3] in DAY_NAMES:
            close = [name[:3]]
        else:
            close = difflib.get_close_matches(name, DAY_NAMES, n=1, cutoff=0.6)
        if close:
            self.problem(path, f"unknown day {value!r}; did you mean {close[0]!r}?")
        else:
            self.problem(path, f"unknown day {value!r}: the days are mon, tue, wed, thu, fri, "
                               "sat and sun")
        return None

    def integer(self, value: Any, path: str, low: int, high: int | None) -> int | None:
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(path, f"must be a whole number, not {_show(value)}")
            return None
        if high is None and value < low:
            self.problem(path, f"must be {low} or more, not {value}")
            return None
        if high is not None and not low <= value <= high:
            self.problem(path, f"must be between {low} and {high}, not {value}")
            return None
        return value

    def integers(self, value: Any, path: str, low: int, high: int,
                 example: str) -> tuple[int, ...]:
        if not isinstance(value, list) or not value:
            self.problem(path, f"must be a list of numbers from {low} to {high} such as "
                               f"{example}, not {_show(value)}")
            return ()
        found = [self.integer(item, f"{path}[{index}]", low, high)
                 for index, item in enumerate(value)]
        if any(item is None for item in found):
            return ()
        return tuple(sorted({item for item in found if item is not None}))

    def duration(self, value: dict[Any, Any], path: str, minutes_only: bool) -> timedelta | None:
        key = path.rsplit(".", 1)[1]
        if key not in value:
            return None
        raw = value[key]
        units = "minutes or hours" if minutes_only else "seconds, minutes, hours or days"
        match = _DURATION.fullmatch(raw.strip()) if isinstance(raw, str) else None
        if match is None or (minutes_only and match.group(2)[0] not in "mh"):
            shown = '"30m" or "2h"' if minutes_only else '"90s", "30m", "1h" or "1d"'
            self.problem(path, f"must be a duration in {units} such as {shown}, "
                               f"not {_show(raw)}")
            return None
        unit = "m" if match.group(2).startswith("m") else match.group(2)[0]
        seconds = int(match.group(1)) * _UNIT_SECONDS[unit]
        if seconds <= 0:
            self.problem(path, "must be more than 0" + ("" if minutes_only else
                                                        " (leave it out for no limit)"))
            return None
        if minutes_only and seconds > 86400:
            self.problem(path, f"must be at most 24h, not {raw!r}")
            return None
        if seconds > 366 * 86400:
            self.problem(path, f"must be at most a year, not {raw!r}")
            return None
        return timedelta(seconds=seconds)


def _cron_valid(expression: str) -> bool:
    try:
        return bool(croniter.is_valid(expression))
    except Exception:
        return False


def _path(prefix: str, key: Any) -> str:
    name = key if isinstance(key, str) else repr(key)
    return f"{prefix}.{name}" if prefix else name


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _choices(names: Sequence[str], last: str = "or") -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"
