"""Properties with generated values: reading never raises, starts are ordered and once.

(a) Whatever a `schedule:` holds, `schedule_problems` returns (path, message) pairs.
(b) For valid schedules in several zones and from any instant: starts are strictly
    increasing, strictly after `after`, and `latest_due` up to a start is that start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from overture.schedules import parse_schedule, schedule_problems

SETTINGS = settings(max_examples=150, deadline=None)
KEYS = ["once", "daily", "hourly", "weekly", "monthly", "cron", "signal", "start", "end", "at",
        "days", "every", "between", "hours", "minute", "day", "nth", "weekday", "months",
        "min_interval"]
SCALARS = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats()
           | st.sampled_from(["mon", "last", "09:00", "2h", "30m", "2027-03-28T02:30",
                              "2027-01-01", "0 9 * * 7", "* * * * *", "", "\x00"])
           | st.text(max_size=8))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
VALID = [
    {"once": "2027-03-28T02:30"},
    {"daily": {"at": "02:30"}},
    {"daily": {"at": "09:00", "days": ["sat", "sun"]}, "start": "2027-01-01", "end": "2027-12-31"},
    {"hourly": {"every": "45m", "between": ["00:30", "03:30"]}},
    {"hourly": {"hours": [1, 2, 3], "minute": 59}},
    {"weekly": {"days": ["sun"], "at": "02:00", "every": 3}, "start": "2026-12-30"},
    {"monthly": {"day": 31, "at": "02:30"}},
    {"monthly": {"nth": -1, "weekday": "sun", "at": "02:30", "months": [3, 10]}},
    {"cron": "*/20 1-3 * * *"},
    {"cron": "0 2 * * 0"},
]
ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC",
         "Pacific/Apia"]
AFTER = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2029, 1, 1),
                     timezones=st.just(UTC))


@SETTINGS
@given(raw=JSON)
def test_any_value_gives_problems_not_exceptions(raw: Any) -> None:
    problems = schedule_problems(raw)
    for path, message in problems:
        assert isinstance(path, str) and isinstance(message, str) and message
    if isinstance(raw, dict):
        problems = schedule_problems({"daily": {"at": "09:00"}, **raw})
        assert all(isinstance(p, tuple) and len(p) == 2 for p in problems)


@SETTINGS
@given(raw=st.sampled_from(VALID), zone=st.sampled_from(ZONES), after=AFTER)
def test_starts_are_strictly_increasing_after_after(raw: dict[str, Any], zone: str,
                                                    after: datetime) -> None:
    schedule = parse_schedule(raw)
    found = schedule.starts(zone, after, 12)
    utc = [s.astimezone(UTC) for s in found]  # compared in one zone, Python ignores fold
    assert all(s > after for s in utc)
    assert all(a < b for a, b in pairwise(utc))
    assert all(str(s.tzinfo) == zone for s in found)
    if found:
        assert schedule.next_start(zone, after) == found[0]
        assert schedule.latest_due(zone, after, found[-1]) == found[-1]
        # just before the last start (in UTC: aware arithmetic in one zone is wall-clock)
        before_last = found[-1].astimezone(UTC) - timedelta(microseconds=1)
        assert schedule.latest_due(zone, after, before_last) == (
            found[-2] if len(found) > 1 else None)
        # asking again from a start gives the rest
        assert schedule.starts(zone, found[0], 11) == found[1:]
    else:
        assert schedule.ended(zone, after)
