"""Reading schedules: every problem at once, each with its path and a precise message."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from overture.schedules import ScheduleError, parse_schedule, schedule_problems
from overture.schedules.forms import Cron, Daily, Hourly, Monthly, Once, Weekly

KINDS = "once, daily, hourly, weekly, monthly, cron or signal"


# ------------------------------------------------------------------ valid forms

@pytest.mark.parametrize(("raw", "form"), [
    ({"once": "2027-03-01T09:00"}, Once(datetime(2027, 3, 1, 9, 0))),
    ({"once": "2027-03-01 09:00:30"}, Once(datetime(2027, 3, 1, 9, 0, 30))),
    ({"once": datetime(2027, 3, 1, 9, 0)}, Once(datetime(2027, 3, 1, 9, 0))),
    ({"daily": {"at": "09:00"}}, Daily(time(9, 0), (0, 1, 2, 3, 4, 5, 6))),
    ({"daily": {"at": "09:00", "days": ["fri", "mon"]}}, Daily(time(9, 0), (0, 4))),
    ({"hourly": {"every": "2h", "between": ["08:00", "20:00"]}},
     Hourly(tuple(time(h, 0) for h in range(8, 21, 2)))),
    ({"hourly": {"every": "8 hours"}}, Hourly((time(0), time(8), time(16)))),
    ({"hourly": {"every": "30m", "between": ["08:00", "08:00"]}}, Hourly((time(8, 0),))),
    ({"hourly": {"hours": [13, 9], "minute": 5}}, Hourly((time(9, 5), time(13, 5)))),
    ({"weekly": {"days": ["mon", "thu"], "at": "09:00"}}, Weekly((0, 3), time(9, 0), 1)),
    ({"weekly": {"days": ["sun"], "at": "23:59", "every": 2}, "start": "2027-01-01"},
     Weekly((6,), time(23, 59), 2)),
    ({"monthly": {"day": 1, "at": "09:00"}}, Monthly(time(9, 0), day=1)),
    ({"monthly": {"day": "Last", "at": "09:00", "months": [10, 1, 4, 7]}},
     Monthly(time(9, 0), day=-1, months=(1, 4, 7, 10))),
    ({"monthly": {"nth": 2, "weekday": "tue", "at": "09:00"}},
     Monthly(time(9, 0), nth=2, weekday=1)),
    ({"monthly": {"nth": -1, "weekday": "FRI", "at": "09:00"}},
     Monthly(time(9, 0), nth=-1, weekday=4)),
    ({"cron": " 15 9  * * 1-5 "}, Cron("15 9 * * 1-5")),
])
def test_valid_forms(raw: dict[str, Any], form: object) -> None:
    assert schedule_problems(raw) == []
    schedule = parse_schedule(raw)
    assert schedule.form == form
    assert schedule.kind == next(iter(raw))


def test_start_and_end_as_dates_or_strings() -> None:
    raw = {"daily": {"at": "09:00"}, "start": "2027-01-01", "end": date(2027, 12, 31)}
    schedule = parse_schedule(raw)
    assert (schedule.start, schedule.end) == (date(2027, 1, 1), date(2027, 12, 31))
    assert parse_schedule({"daily": {"at": "09:00"}, "start": None}).start is None


# ------------------------------------------------------------------ problems

CASES: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
    # kinds
    ({}, [("", f"no kind of schedule: give one of {KINDS}")]),
    ({"start": "2027-01-01"}, [("", f"no kind of schedule: give one of {KINDS}")]),
    ({"daily": {"at": "09:00"}, "weekly": {"days": ["mon"], "at": "09:00"}},
     [("", "one kind per schedule, found daily and weekly")]),
    ({"weekley": {"days": ["mon"], "at": "09:00"}},
     [("weekley", "unknown setting; did you mean 'weekly'?"),
      ("", f"no kind of schedule: give one of {KINDS}")]),
    ({"daily": {"at": "09:00"}, "every": "day"},
     [("every", f"unknown setting: a schedule takes one kind ({KINDS}) and start, end")]),
    # days
    ({"weekly": {"days": ["mon", "mox"], "at": "09:00"}},
     [("weekly.days[1]", "unknown day 'mox'; did you mean 'mon'?")]),
    ({"weekly": {"days": ["monday", "Thursday"], "at": "09:00"}},
     [("weekly.days[0]", "unknown day 'monday'; did you mean 'mon'?"),
      ("weekly.days[1]", "unknown day 'Thursday'; did you mean 'thu'?")]),
    ({"daily": {"at": "09:00", "days": ["xyz"]}},
     [("daily.days[0]", "unknown day 'xyz': the days are mon, tue, wed, thu, fri, sat and sun")]),
    ({"weekly": {"days": [1, 4], "at": "09:00"}},
     [("weekly.days[0]", "must be a day name (mon, tue, wed, thu, fri, sat or sun): days are "
                         "named, not numbered; not 1"),
      ("weekly.days[1]", "must be a day name (mon, tue, wed, thu, fri, sat or sun): days are "
                         "named, not numbered; not 4")]),
    ({"weekly": {"days": [], "at": "09:00"}},
     [("weekly.days", "must list at least one day (mon, tue, wed, thu, fri, sat, sun)")]),
    ({"weekly": {"days": "mon", "at": "09:00"}},
     [("weekly.days", "must be a list of days such as [mon, thu], not 'mon'")]),
    # at
    ({"daily": {"at": "9:00"}},
     [("daily.at", 'must be a time HH:MM, with two digits for the hour: "09:00", not \'9:00\'')]),
    ({"daily": {"at": "9am"}}, [("daily.at", 'must be a time HH:MM such as "09:00", not \'9am\'')]),
    ({"daily": {"at": "24:00"}},
     [("daily.at", "'24:00' is not a time of day: HH:MM goes from 00:00 to 23:59")]),
    ({"daily": {"at": 810}},
     [("daily.at", 'must be a time HH:MM in quotes, such as "13:30": without quotes, YAML '
                   'reads 13:30 as the number 810')]),
    ({"daily": {}}, [("daily.at", 'required setting is missing (a time such as "09:00")')]),
    ({"weekly": {}}, [("weekly.days", "required setting is missing (such as [mon, thu])"),
                      ("weekly.at", 'required setting is missing (a time such as "09:00")')]),
    # weekly every
    ({"weekly": {"days": ["mon"], "at": "09:00", "every": 0}, "start": "2027-01-01"},
     [("weekly.every", "must be 1 or more, not 0")]),
    ({"weekly": {"days": ["mon"], "at": "09:00", "every": "2"}, "start": "2027-01-01"},
     [("weekly.every", "must be a whole number, not '2'")]),
    ({"weekly": {"days": ["mon"], "at": "09:00", "every": 2}},
     [("weekly.every", "every 2 weeks are counted from the week of `start`: set "
                       "schedule.start")]),
    # hourly
    ({"hourly": {"every": "2x"}},
     [("hourly.every", 'must be a duration in minutes or hours such as "30m" or "2h", not '
                       "'2x'")]),
    ({"hourly": {"every": "30s"}},
     [("hourly.every", 'must be a duration in minutes or hours such as "30m" or "2h", not '
                       "'30s'")]),
    ({"hourly": {"every": "0m"}}, [("hourly.every", "must be more than 0")]),
    ({"hourly": {"every": "25h"}}, [("hourly.every", "must be at most 24h, not '25h'")]),
    ({"hourly": {"every": "2h", "between": ["20:00", "08:00"]}},
     [("hourly.between", "ends (08:00) before it starts (20:00): a window across midnight is "
                         "not supported")]),
    ({"hourly": {"every": "2h", "between": ["08:00"]}},
     [("hourly.between", "must be two times such as [\"08:00\", \"20:00\"], not ['08:00']")]),
    ({"hourly": {"every": "2h", "between": ["08:00", 1200]}},
     [("hourly.between[1]", 'must be a time HH:MM in quotes, such as "20:00": without quotes, '
                            "YAML reads 20:00 as the number 1200")]),
    ({"hourly": {"between": ["08:00", "20:00"]}},
     [("hourly.every", 'required setting is missing: give every (such as "2h") or hours '
                       "(such as [9, 13, 17])")]),
    ({"hourly": {"every": "2h", "hours": [9]}},
     [("hourly", "give either every (with between) or hours (with minute), not both")]),
    ({"hourly": {"hours": [9, 24]}},
     [("hourly.hours[1]", "must be between 0 and 23, not 24")]),
    ({"hourly": {"hours": []}},
     [("hourly.hours", "must be a list of numbers from 0 to 23 such as [9, 13, 17], not []")]),
    ({"hourly": {"minute": 5}},
     [("hourly.hours", "required setting is missing (such as [9, 13, 17]); minute goes with "
                       "hours")]),
    ({"hourly": {"hours": [9], "minute": 60}},
     [("hourly.minute", "must be between 0 and 59, not 60")]),
    # monthly
    ({"monthly": {"day": 32, "at": "09:00"}},
     [("monthly.day", "must be a day of the month from 1 to 31, or last, not 32")]),
    ({"monthly": {"day": "first", "at": "09:00"}},
     [("monthly.day", "must be a day of the month from 1 to 31, or last, not 'first'")]),
    ({"monthly": {"day": 1, "nth": 2, "weekday": "tue", "at": "09:00"}},
     [("monthly", "give either day or nth (with weekday), not both")]),
    ({"monthly": {"at": "09:00"}},
     [("monthly", "give day (1 to 31, or last) or nth with weekday (such as nth: 2, "
                  "weekday: tue)")]),
    ({"monthly": {"nth": 0, "weekday": "tue", "at": "09:00"}},
     [("monthly.nth", "must be 1 to 5 (the first to the fifth such weekday of the month) or "
                      "-1 (the last) to -5, not 0")]),
    ({"monthly": {"nth": 2, "at": "09:00"}},
     [("monthly.weekday", "required setting is missing: nth needs a weekday (such as tue)")]),
    ({"monthly": {"day": 1, "weekday": "tue", "at": "09:00"}},
     [("monthly.weekday", "goes with nth (such as nth: 2, weekday: tue); for a day of the "
                          "month use day")]),
    ({"monthly": {"nth": 2, "weekday": "tues", "at": "09:00"}},
     [("monthly.weekday", "unknown day 'tues'; did you mean 'tue'?")]),
    ({"monthly": {"day": 1, "at": "09:00", "months": [0, 13]}},
     [("monthly.months[0]", "must be between 1 and 12, not 0"),
      ("monthly.months[1]", "must be between 1 and 12, not 13")]),
    ({"monthly": {"day": 31, "at": "09:00", "months": [2, 4]}},
     [("monthly.day", "day 31 never comes in months 2 and 4: the campaign would never start")]),
    # cron
    ({"cron": "15 9 * *"},
     [("cron", "'15 9 * *' has 4 fields: cron takes 5 (minute hour day-of-month month "
               "day-of-week)")]),
    ({"cron": "0 15 9 * * 1"},
     [("cron", "'0 15 9 * * 1' has 6 fields: cron takes 5 (minute hour day-of-month month "
               "day-of-week)")]),
    ({"cron": "@daily"},
     [("cron", "'@daily' has 1 field: cron takes 5 (minute hour day-of-month month "
               "day-of-week)")]),
    ({"cron": "61 25 * * 8"},
     [("cron", "'61 25 * * 8': the minute field '61' is not valid (0-59)"),
      ("cron", "'61 25 * * 8': the hour field '25' is not valid (0-23)"),
      ("cron", "'61 25 * * 8': the day-of-week field '8' is not valid (0-7 or sun-sat; 0 "
               "and 7 are Sunday)")]),
    ({"cron": "0 9 * * 1-5x"},
     [("cron", "'0 9 * * 1-5x': the day-of-week field '1-5x' is not valid (0-7 or sun-sat; "
               "0 and 7 are Sunday)")]),
    ({"cron": "0 0 31 2 *"},
     [("cron", "'0 0 31 2 *' never matches a date: the campaign would never start")]),
    ({"cron": 15}, [("cron", 'must be a cron expression such as "15 9 * * 1-5", not 15')]),
    # once
    ({"once": "2027-03-01T09:00+01:00"},
     [("once", "'2027-03-01T09:00+01:00' has a UTC offset: the schedule is read in the "
               'campaign\'s timezone, so write "2027-03-01T09:00"')]),
    ({"once": "2027-03-01T09:00Z"},
     [("once", "'2027-03-01T09:00Z' has a UTC offset: the schedule is read in the "
               'campaign\'s timezone, so write "2027-03-01T09:00"')]),
    ({"once": "2027-03-01"},
     [("once", "'2027-03-01' needs a time of day, such as \"2027-03-01T09:00\"")]),
    ({"once": date(2027, 3, 1)},
     [("once", 'needs a time of day, such as "2027-03-01T09:00"')]),
    ({"once": datetime(2027, 3, 1, 9, tzinfo=UTC)},
     [("once", "must be a local date and time, without a UTC offset: the schedule is read "
               "in the campaign's timezone")]),
    ({"once": "2027-02-30T09:00"}, [("once", "'2027-02-30T09:00' is not a real date and time")]),
    ({"once": "next monday"},
     [("once", 'must be a local date and time such as "2027-03-01T09:00", not \'next monday\'')]),
    ({"once": "2027-03-01T09:00", "start": "2027-04-01"},
     [("once", "2027-03-01T09:00 is outside the validity window (2027-04-01 to …): it would "
               "never start")]),
    # signal
    ({"signal": {"min_interval": "soon"}},
     [("signal.min_interval", 'must be a duration in seconds, minutes, hours or days such as '
                              '"90s", "30m", "1h" or "1d", not \'soon\'')]),
    ({"signal": {"min_interval": "0h"}},
     [("signal.min_interval", "must be more than 0 (leave it out for no limit)")]),
    ({"signal": {"min_intervall": "1h"}},
     [("signal.min_intervall", "unknown setting; did you mean 'min_interval'?")]),
    ({"signal": "1h"}, [("signal", 'must be a mapping such as {min_interval: "1h"}, not \'1h\'')]),
    # window
    ({"daily": {"at": "09:00"}, "start": "2027-12-31", "end": "2027-01-01"},
     [("end", "2027-01-01 is before start 2027-12-31")]),
    ({"daily": {"at": "09:00"}, "start": "2027-02-30"},
     [("start", "'2027-02-30' is not a real date")]),
    ({"daily": {"at": "09:00"}, "end": "tomorrow"},
     [("end", "must be a date such as 2027-01-01, not 'tomorrow'")]),
    ({"daily": {"at": "09:00"}, "end": datetime(2027, 1, 1, 9)},
     [("end", "must be a date such as 2027-01-01, without a time of day (not "
              "2027-01-01T09:00:00)")]),
]


@pytest.mark.parametrize(("raw", "problems"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_problems(raw: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    assert schedule_problems(raw) == problems
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(raw)
    assert caught.value.problems == problems


@pytest.mark.parametrize(("kind", "raw", "key", "message"), [
    ("daily", {"at": "09:00", "day": ["mon"]}, "day", "unknown setting; did you mean 'days'?"),
    ("daily", {"at": "09:00", "zone": "UTC"}, "zone", "unknown setting: daily takes at and days"),
    ("hourly", {"every": "2h", "betwen": ["08:00", "20:00"]}, "betwen",
     "unknown setting; did you mean 'between'?"),
    ("hourly", {"hours": [9], "minutes": 5}, "minutes", "unknown setting; did you mean 'minute'?"),
    ("weekly", {"days": ["mon"], "at": "09:00", "evry": 1}, "evry",
     "unknown setting; did you mean 'every'?"),
    ("monthly", {"day": 1, "at": "09:00", "month": [1]}, "month",
     "unknown setting; did you mean 'months'?"),
    ("signal", {"min_interval": "1h", "max": 3}, "max",
     "unknown setting: signal takes min_interval"),
])
def test_unknown_settings_in_each_kind(kind: str, raw: dict[str, Any], key: str,
                                       message: str) -> None:
    assert schedule_problems({kind: raw}) == [(f"{kind}.{key}", message)]


@pytest.mark.parametrize("kind", ["daily", "hourly", "weekly", "monthly"])
def test_a_kind_that_takes_a_mapping(kind: str) -> None:
    problems = schedule_problems({kind: "09:00"})
    assert len(problems) == 1
    assert problems[0][0] == kind
    assert problems[0][1].startswith("must be a mapping such as {")


@pytest.mark.parametrize("raw", [None, "weekly", ["once"], 3])
def test_a_schedule_must_be_a_mapping(raw: Any) -> None:
    problems = schedule_problems(raw)
    assert problems == [("", 'must be a mapping such as {weekly: {days: [mon, thu], at: '
                             f'"09:00"}}}}, not {raw!r}')]


def test_every_problem_at_once() -> None:
    raw = {"weekly": {"days": ["mox", "thu"], "at": "9h", "every": 0, "color": "red"},
           "start": "2027-06-01", "end": "2027-01-01", "extra": 1}
    assert schedule_problems(raw) == [
        ("extra", f"unknown setting: a schedule takes one kind ({KINDS}) and start, end"),
        ("end", "2027-01-01 is before start 2027-06-01"),
        ("weekly.color", "unknown setting: weekly takes days, at and every"),
        ("weekly.days[0]", "unknown day 'mox'; did you mean 'mon'?"),
        ("weekly.at", 'must be a time HH:MM such as "09:00", not \'9h\''),
        ("weekly.every", "must be 1 or more, not 0"),
    ]


def test_schedule_error_is_a_value_error_that_lists_every_problem() -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule({"daily": {"at": "9h", "days": ["mox"]}})
    assert isinstance(caught.value, ScheduleError)
    assert str(caught.value) == ('daily.at: must be a time HH:MM such as "09:00", not \'9h\'; '
                                 "daily.days[0]: unknown day 'mox'; did you mean 'mon'?")
