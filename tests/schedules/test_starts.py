"""The start instants of every kind of schedule (spec §7), exact, in Europe/Paris.

Paris moves to summer time on 2027-03-28 (02:00 → 03:00, +01:00 → +02:00) and back
on 2027-10-31 (03:00 → 02:00): the tests that cross those dates pin the offsets.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from overture.schedules import parse_schedule

from .helpers import PARIS, at, starts

MON_THU = {"weekly": {"days": ["mon", "thu"], "at": "09:00"}}


# ------------------------------------------------------------------ weekly

def test_weekly_monday_and_thursday_over_eight_weeks_across_the_spring_change() -> None:
    assert starts(MON_THU, "2027-03-07T12:00+01:00", count=16) == [
        "2027-03-08T09:00:00+01:00", "2027-03-11T09:00:00+01:00",
        "2027-03-15T09:00:00+01:00", "2027-03-18T09:00:00+01:00",
        "2027-03-22T09:00:00+01:00", "2027-03-25T09:00:00+01:00",
        "2027-03-29T09:00:00+02:00", "2027-04-01T09:00:00+02:00",
        "2027-04-05T09:00:00+02:00", "2027-04-08T09:00:00+02:00",
        "2027-04-12T09:00:00+02:00", "2027-04-15T09:00:00+02:00",
        "2027-04-19T09:00:00+02:00", "2027-04-22T09:00:00+02:00",
        "2027-04-26T09:00:00+02:00", "2027-04-29T09:00:00+02:00",
    ]


def test_the_same_eight_weeks_as_a_validity_window_then_nothing() -> None:
    raw = {**MON_THU, "start": date(2027, 3, 8), "end": "2027-05-02"}
    found = starts(raw, "2027-01-01T00:00+01:00", count=40)
    assert len(found) == 16
    assert found[0] == "2027-03-08T09:00:00+01:00"
    assert found[-1] == "2027-04-29T09:00:00+02:00"


def test_starts_are_in_the_campaigns_zone_whatever_the_zone_of_after() -> None:
    in_utc = starts(MON_THU, "2027-03-28T00:00+00:00", count=2)
    in_tokyo = starts(MON_THU, "2027-03-28T09:00+09:00", count=2)
    assert in_utc == in_tokyo == ["2027-03-29T09:00:00+02:00", "2027-04-01T09:00:00+02:00"]
    first = parse_schedule(MON_THU).starts(PARIS, at("2027-03-28T00:00+00:00"), 1)[0]
    assert first.tzinfo == ZoneInfo(PARIS)


def test_starts_are_strictly_after_after() -> None:
    assert starts(MON_THU, "2027-03-08T09:00+01:00", count=1) == ["2027-03-11T09:00:00+01:00"]
    assert starts(MON_THU, "2027-03-08T08:59:59+01:00", count=1) == [
        "2027-03-08T09:00:00+01:00"]


def test_weekly_every_two_weeks_counts_from_the_week_of_start() -> None:
    # 2027-01-06 is a Wednesday: its week begins Monday 2027-01-04, which is before
    # start, so the first start is Friday the 8th; then every other week
    raw = {"weekly": {"days": ["mon", "fri"], "at": "10:00", "every": 2}, "start": "2027-01-06"}
    assert starts(raw, "2026-12-01T00:00+01:00", count=6) == [
        "2027-01-08T10:00:00+01:00", "2027-01-18T10:00:00+01:00",
        "2027-01-22T10:00:00+01:00", "2027-02-01T10:00:00+01:00",
        "2027-02-05T10:00:00+01:00", "2027-02-15T10:00:00+01:00",
    ]
    # months later the weeks are still counted from 2027-01-04 (22 weeks before June 7)
    assert starts(raw, "2027-06-01T00:00+02:00", count=4) == [
        "2027-06-07T10:00:00+02:00", "2027-06-11T10:00:00+02:00",
        "2027-06-21T10:00:00+02:00", "2027-06-25T10:00:00+02:00",
    ]
    # and from inside an "off" week
    assert starts(raw, "2027-06-14T00:00+02:00", count=1) == ["2027-06-21T10:00:00+02:00"]


def test_weekly_every_three_weeks() -> None:
    raw = {"weekly": {"days": ["sun"], "at": "20:00", "every": 3}, "start": "2027-03-01"}
    assert starts(raw, "2027-03-01T00:00+01:00", count=4) == [
        "2027-03-07T20:00:00+01:00", "2027-03-28T20:00:00+02:00",
        "2027-04-18T20:00:00+02:00", "2027-05-09T20:00:00+02:00",
    ]


def test_day_names_are_case_insensitive() -> None:
    raw = {"weekly": {"days": ["MON", "Thu"], "at": "09:00"}}
    assert starts(raw, "2027-03-07T12:00+01:00", count=2) == [
        "2027-03-08T09:00:00+01:00", "2027-03-11T09:00:00+01:00"]


# ------------------------------------------------------------------ daily

def test_daily_on_working_days() -> None:
    raw = {"daily": {"at": "08:30", "days": ["mon", "tue", "wed", "thu", "fri"]}}
    assert starts(raw, "2027-03-26T09:00+01:00", count=3) == [
        "2027-03-29T08:30:00+02:00", "2027-03-30T08:30:00+02:00", "2027-03-31T08:30:00+02:00"]


def test_daily_without_days_is_every_day() -> None:
    raw = {"daily": {"at": "07:00"}}
    assert starts(raw, "2027-03-26T09:00+01:00", count=3) == [
        "2027-03-27T07:00:00+01:00", "2027-03-28T07:00:00+02:00", "2027-03-29T07:00:00+02:00"]


# ------------------------------------------------------------------ hourly

def test_hourly_every_two_hours_between_eight_and_twenty_is_seven_a_day() -> None:
    raw = {"hourly": {"every": "2h", "between": ["08:00", "20:00"]}}
    assert starts(raw, "2027-05-03T00:00+02:00", count=8) == [
        "2027-05-03T08:00:00+02:00", "2027-05-03T10:00:00+02:00",
        "2027-05-03T12:00:00+02:00", "2027-05-03T14:00:00+02:00",
        "2027-05-03T16:00:00+02:00", "2027-05-03T18:00:00+02:00",
        "2027-05-03T20:00:00+02:00", "2027-05-04T08:00:00+02:00",
    ]
    two_days = starts(raw, "2027-05-03T00:00+02:00", count=30)
    assert len([s for s in two_days if s.startswith(("2027-05-03", "2027-05-04"))]) == 14


def test_hourly_every_ninety_minutes_stops_before_the_end_when_it_does_not_fall_on_it() -> None:
    raw = {"hourly": {"every": "90m", "between": ["09:00", "13:00"]}}
    assert starts(raw, "2027-05-03T00:00+02:00", count=4) == [
        "2027-05-03T09:00:00+02:00", "2027-05-03T10:30:00+02:00",
        "2027-05-03T12:00:00+02:00", "2027-05-04T09:00:00+02:00",
    ]


def test_hourly_without_between_is_the_whole_day_from_midnight() -> None:
    raw = {"hourly": {"every": "6h"}}
    assert starts(raw, "2027-05-03T00:00+02:00", count=5) == [
        "2027-05-03T06:00:00+02:00", "2027-05-03T12:00:00+02:00",
        "2027-05-03T18:00:00+02:00", "2027-05-04T00:00:00+02:00",
        "2027-05-04T06:00:00+02:00",
    ]


def test_hourly_at_listed_hours() -> None:
    raw = {"hourly": {"hours": [17, 9, 13], "minute": 15}}
    assert starts(raw, "2027-05-03T10:00+02:00", count=4) == [
        "2027-05-03T13:15:00+02:00", "2027-05-03T17:15:00+02:00",
        "2027-05-04T09:15:00+02:00", "2027-05-04T13:15:00+02:00",
    ]
    assert starts({"hourly": {"hours": [9]}}, "2027-05-03T10:00+02:00", count=1) == [
        "2027-05-04T09:00:00+02:00"]


# ------------------------------------------------------------------ monthly

def test_monthly_second_tuesday_for_twelve_months() -> None:
    raw = {"monthly": {"nth": 2, "weekday": "tue", "at": "09:00"}}
    assert starts(raw, "2027-01-01T00:00+01:00", count=12) == [
        "2027-01-12T09:00:00+01:00", "2027-02-09T09:00:00+01:00",
        "2027-03-09T09:00:00+01:00", "2027-04-13T09:00:00+02:00",
        "2027-05-11T09:00:00+02:00", "2027-06-08T09:00:00+02:00",
        "2027-07-13T09:00:00+02:00", "2027-08-10T09:00:00+02:00",
        "2027-09-14T09:00:00+02:00", "2027-10-12T09:00:00+02:00",
        "2027-11-09T09:00:00+01:00", "2027-12-14T09:00:00+01:00",
    ]


def test_monthly_last_friday() -> None:
    raw = {"monthly": {"nth": -1, "weekday": "fri", "at": "17:00"}}
    assert starts(raw, "2027-01-01T00:00+01:00", count=4) == [
        "2027-01-29T17:00:00+01:00", "2027-02-26T17:00:00+01:00",
        "2027-03-26T17:00:00+01:00", "2027-04-30T17:00:00+02:00",
    ]


def test_monthly_last_day_in_listed_months() -> None:
    raw = {"monthly": {"day": "last", "at": "18:00", "months": [1, 4, 7, 10]}}
    assert starts(raw, "2027-01-01T00:00+01:00", count=5) == [
        "2027-01-31T18:00:00+01:00", "2027-04-30T18:00:00+02:00",
        "2027-07-31T18:00:00+02:00", "2027-10-31T18:00:00+01:00",
        "2028-01-31T18:00:00+01:00",
    ]


def test_monthly_first_day() -> None:
    raw = {"monthly": {"day": 1, "at": "09:00"}}
    assert starts(raw, "2027-03-01T09:00+01:00", count=2) == [
        "2027-04-01T09:00:00+02:00", "2027-05-01T09:00:00+02:00"]


def test_monthly_day_31_skips_the_months_without_one() -> None:
    raw = {"monthly": {"day": 31, "at": "09:00"}}
    assert starts(raw, "2027-01-01T00:00+01:00", count=7) == [
        "2027-01-31T09:00:00+01:00", "2027-03-31T09:00:00+02:00",
        "2027-05-31T09:00:00+02:00", "2027-07-31T09:00:00+02:00",
        "2027-08-31T09:00:00+02:00", "2027-10-31T09:00:00+01:00",
        "2027-12-31T09:00:00+01:00",
    ]


def test_monthly_day_29_of_february_waits_for_a_leap_year() -> None:
    raw = {"monthly": {"day": 29, "at": "09:00", "months": [2]}}
    assert starts(raw, "2027-01-01T00:00+01:00", count=2) == [
        "2028-02-29T09:00:00+01:00", "2032-02-29T09:00:00+01:00"]


# ------------------------------------------------------------------ cron

def test_cron_day_of_week_0_and_7_are_both_sunday() -> None:
    expected = ["2027-03-28T09:00:00+02:00", "2027-04-04T09:00:00+02:00",
                "2027-04-11T09:00:00+02:00"]
    assert starts({"cron": "0 9 * * 0"}, "2027-03-22T00:00+01:00", count=3) == expected
    assert starts({"cron": "0 9 * * 7"}, "2027-03-22T00:00+01:00", count=3) == expected
    assert starts({"cron": "0 9 * * sun"}, "2027-03-22T00:00+01:00", count=3) == expected


def test_cron_1_to_5_is_monday_to_friday_never_saturday() -> None:
    found = starts({"cron": "15 9 * * 1-5"}, "2027-03-26T10:00+01:00", count=6)
    assert found == [
        "2027-03-29T09:15:00+02:00", "2027-03-30T09:15:00+02:00",
        "2027-03-31T09:15:00+02:00", "2027-04-01T09:15:00+02:00",
        "2027-04-02T09:15:00+02:00", "2027-04-05T09:15:00+02:00",
    ]
    many = parse_schedule({"cron": "15 9 * * 1-5"}).starts(PARIS, at("2027-01-01T00:00+01:00"),
                                                           300)
    assert {s.weekday() for s in many} == {0, 1, 2, 3, 4}


def test_cron_reads_local_wall_clock_times() -> None:
    assert starts({"cron": "30 2 * * *"}, "2027-03-26T12:00+01:00", count=3) == [
        "2027-03-27T02:30:00+01:00", "2027-03-28T03:30:00+02:00", "2027-03-29T02:30:00+02:00"]


# ------------------------------------------------------------------ once, signal

def test_once_in_the_future_starts_once() -> None:
    raw = {"once": "2027-03-01T09:00"}
    assert starts(raw, "2027-01-01T00:00+01:00") == ["2027-03-01T09:00:00+01:00"]


def test_once_in_the_past_has_no_start() -> None:
    raw = {"once": "2027-03-01T09:00"}
    assert starts(raw, "2027-03-01T09:00+01:00") == []
    assert starts(raw, "2028-01-01T00:00+01:00") == []


def test_a_signal_schedule_has_no_timed_start() -> None:
    assert starts({"signal": {"min_interval": "1h"}}, "2027-01-01T00:00+01:00") == []


# ------------------------------------------------------------------ clock changes

def test_a_local_time_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    assert starts({"once": "2027-03-28T02:30"}, "2027-03-01T00:00+01:00") == [
        "2027-03-28T03:30:00+02:00"]
    assert starts({"daily": {"at": "02:30"}}, "2027-03-27T00:00+01:00", count=3) == [
        "2027-03-27T02:30:00+01:00", "2027-03-28T03:30:00+02:00", "2027-03-29T02:30:00+02:00"]


def test_a_local_time_in_the_autumn_overlap_runs_once_at_its_first_occurrence() -> None:
    assert starts({"once": "2027-10-31T02:30"}, "2027-10-01T00:00+02:00") == [
        "2027-10-31T02:30:00+02:00"]
    assert starts({"daily": {"at": "02:30"}}, "2027-10-30T00:00+02:00", count=3) == [
        "2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"]
    # asked from between the two occurrences: the slot has passed, it is not run again
    assert starts({"daily": {"at": "02:30"}}, "2027-10-31T02:00+01:00", count=1) == [
        "2027-11-01T02:30:00+01:00"]


def test_two_local_times_landing_on_one_instant_give_one_start() -> None:
    # 02:00 and 02:30 do not exist on 2027-03-28: they become 03:00 and 03:30, which
    # are also slots of their own
    raw = {"hourly": {"every": "30m", "between": ["01:00", "04:00"]}}
    assert starts(raw, "2027-03-28T00:00+01:00", count=5) == [
        "2027-03-28T01:00:00+01:00", "2027-03-28T01:30:00+01:00",
        "2027-03-28T03:00:00+02:00", "2027-03-28T03:30:00+02:00",
        "2027-03-28T04:00:00+02:00",
    ]


def test_the_gap_keeps_starts_in_order() -> None:
    # 02:45 becomes 03:45, after the real 03:15: the instants still come in order
    raw = {"hourly": {"hours": [2, 3], "minute": 45}}
    assert starts(raw, "2027-03-27T12:00+01:00", count=3) == [
        "2027-03-28T03:45:00+02:00", "2027-03-29T02:45:00+02:00",
        "2027-03-29T03:45:00+02:00"]
    raw = {"hourly": {"every": "15m", "between": ["01:45", "03:30"]}}
    assert starts(raw, "2027-03-28T00:00+01:00", count=4) == [
        "2027-03-28T01:45:00+01:00", "2027-03-28T03:00:00+02:00",
        "2027-03-28T03:15:00+02:00", "2027-03-28T03:30:00+02:00"]


def test_the_overlap_hour_runs_once() -> None:
    raw = {"hourly": {"every": "30m", "between": ["01:00", "04:00"]}}
    assert starts(raw, "2027-10-31T00:00+02:00", count=7) == [
        "2027-10-31T01:00:00+02:00", "2027-10-31T01:30:00+02:00",
        "2027-10-31T02:00:00+02:00", "2027-10-31T02:30:00+02:00",
        "2027-10-31T03:00:00+01:00", "2027-10-31T03:30:00+01:00",
        "2027-10-31T04:00:00+01:00",
    ]


def test_other_zones_and_the_southern_hemisphere() -> None:
    # New York springs forward on 2027-03-14; Sydney falls back on 2027-04-04
    raw = {"daily": {"at": "02:30"}}
    assert starts(raw, "2027-03-13T12:00-05:00", count=2, tz="America/New_York") == [
        "2027-03-14T03:30:00-04:00", "2027-03-15T02:30:00-04:00"]
    assert starts(raw, "2027-04-03T12:00+11:00", count=2, tz="Australia/Sydney") == [
        "2027-04-04T02:30:00+11:00", "2027-04-05T02:30:00+10:00"]


def test_count_limits_and_zero_gives_nothing() -> None:
    raw = {"daily": {"at": "09:00"}}
    assert len(starts(raw, "2027-01-01T00:00+01:00", count=25)) == 25
    assert starts(raw, "2027-01-01T00:00+01:00", count=0) == []
    assert len(parse_schedule(raw).starts(PARIS, datetime.fromisoformat(
        "2027-01-01T00:00+01:00"))) == 10
