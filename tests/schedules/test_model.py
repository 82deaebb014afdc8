"""The questions the scheduler asks a Schedule: next start, missed slots, the end."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from overture.schedules import Schedule, parse_schedule

from .helpers import PARIS, at, starts

DAILY = {"daily": {"at": "09:00"}}
WINDOW = {"daily": {"at": "09:00"}, "start": "2027-06-01", "end": date(2027, 6, 3)}


# ------------------------------------------------------------------ validity window

def test_a_validity_window_that_ends() -> None:
    schedule = parse_schedule(WINDOW)
    assert (schedule.start, schedule.end) == (date(2027, 6, 1), date(2027, 6, 3))
    assert starts(WINDOW, "2027-05-01T00:00+02:00") == [
        "2027-06-01T09:00:00+02:00", "2027-06-02T09:00:00+02:00", "2027-06-03T09:00:00+02:00"]
    assert starts(WINDOW, "2027-06-02T09:00+02:00") == ["2027-06-03T09:00:00+02:00"]
    assert not schedule.ended(PARIS, at("2027-05-01T00:00+02:00"))
    assert not schedule.ended(PARIS, at("2027-06-03T08:59+02:00"))
    assert schedule.ended(PARIS, at("2027-06-03T09:00+02:00"))
    assert schedule.ended(PARIS, at("2030-01-01T00:00+01:00"))
    assert schedule.next_start(PARIS, at("2027-06-03T09:00+02:00")) is None


def test_the_window_is_read_on_local_dates() -> None:
    # start and end are local days, whole: 23:30 on the end day still starts, and so
    # does 00:30 on the start day (22:30 UTC the day before)
    raw = {"daily": {"at": "23:30"}, "end": "2027-06-03"}
    assert starts(raw, "2027-06-02T12:00+02:00") == [
        "2027-06-02T23:30:00+02:00", "2027-06-03T23:30:00+02:00"]
    raw = {"daily": {"at": "00:30"}, "start": "2027-06-03"}
    assert starts(raw, "2027-06-01T00:00+02:00", count=1) == ["2027-06-03T00:30:00+02:00"]


def test_only_start_or_only_end() -> None:
    assert starts({**DAILY, "start": "2027-06-01"}, "2027-01-01T00:00+01:00", count=1) == [
        "2027-06-01T09:00:00+02:00"]
    assert starts({**DAILY, "end": "2027-01-02"}, "2027-01-01T00:00+01:00") == [
        "2027-01-01T09:00:00+01:00", "2027-01-02T09:00:00+01:00"]


def test_a_one_day_window() -> None:
    raw = {"hourly": {"hours": [9, 18]}, "start": "2027-06-01", "end": "2027-06-01"}
    assert starts(raw, "2027-01-01T00:00+01:00") == [
        "2027-06-01T09:00:00+02:00", "2027-06-01T18:00:00+02:00"]


def test_once_has_ended_once_it_has_passed() -> None:
    schedule = parse_schedule({"once": "2027-03-01T09:00"})
    assert schedule.once_at == datetime(2027, 3, 1, 9, 0)
    assert not schedule.ended(PARIS, at("2027-03-01T08:59+01:00"))
    assert schedule.ended(PARIS, at("2027-03-01T09:00+01:00"))
    assert schedule.next_start(PARIS, at("2027-02-01T00:00+01:00")) == at(
        "2027-03-01T09:00+01:00")


# ------------------------------------------------------------------ missed slots

def test_latest_due_picks_the_last_of_several_missed_slots() -> None:
    schedule = parse_schedule(DAILY)
    found = schedule.latest_due(PARIS, at("2027-03-01T09:00+01:00"), at("2027-03-05T12:00+01:00"))
    assert found is not None
    assert found.isoformat() == "2027-03-05T09:00:00+01:00"


def test_latest_due_includes_until_and_excludes_after() -> None:
    schedule = parse_schedule(DAILY)
    due = schedule.latest_due(PARIS, at("2027-03-04T09:00+01:00"), at("2027-03-05T09:00+01:00"))
    assert due == at("2027-03-05T09:00+01:00")
    assert schedule.latest_due(PARIS, at("2027-03-05T09:00+01:00"),
                               at("2027-03-06T08:59+01:00")) is None
    assert schedule.latest_due(PARIS, at("2027-03-05T09:00+01:00"),
                               at("2027-03-05T09:00+01:00")) is None
    assert schedule.latest_due(PARIS, at("2027-03-06T00:00+01:00"),
                               at("2027-03-05T00:00+01:00")) is None


def test_latest_due_after_a_long_outage_of_a_frequent_schedule() -> None:
    schedule = parse_schedule({"hourly": {"every": "1m"}})
    due = schedule.latest_due("UTC", at("2026-01-01T00:00+00:00"), at("2027-01-01T00:00:30+00:00"))
    assert due is not None
    assert due.isoformat() == "2027-01-01T00:00:00+00:00"


def test_latest_due_of_a_sparse_schedule_looks_far_back() -> None:
    schedule = parse_schedule({"monthly": {"day": 29, "months": [2], "at": "09:00"}})
    due = schedule.latest_due(PARIS, at("2020-01-01T00:00+01:00"), at("2031-01-01T00:00+01:00"))
    assert due is not None
    assert due.isoformat() == "2028-02-29T09:00:00+01:00"
    assert schedule.latest_due(PARIS, at("2028-03-01T00:00+01:00"),
                               at("2031-01-01T00:00+01:00")) is None


def test_latest_due_of_once_and_of_a_window() -> None:
    once = parse_schedule({"once": "2027-03-01T09:00"})
    assert once.latest_due(PARIS, at("2027-02-01T00:00+01:00"),
                           at("2027-04-01T00:00+02:00")) == at("2027-03-01T09:00+01:00")
    assert once.latest_due(PARIS, at("2027-03-01T09:00+01:00"),
                           at("2027-04-01T00:00+02:00")) is None
    window = parse_schedule(WINDOW)
    due = window.latest_due(PARIS, at("2027-05-01T00:00+02:00"), at("2027-07-01T00:00+02:00"))
    assert due == at("2027-06-03T09:00+02:00")


def test_latest_due_at_a_shifted_slot() -> None:
    schedule = parse_schedule({"daily": {"at": "02:30"}})
    due = schedule.latest_due(PARIS, at("2027-03-27T12:00+01:00"), at("2027-03-28T04:00+02:00"))
    assert due is not None and due.isoformat() == "2027-03-28T03:30:00+02:00"


# ------------------------------------------------------------------ signal

def test_a_signal_schedule() -> None:
    schedule = parse_schedule({"signal": {"min_interval": "1h"}})
    assert schedule.kind == "signal"
    assert schedule.is_signal
    assert schedule.min_interval == timedelta(hours=1)
    assert schedule.starts(PARIS, at("2027-01-01T00:00+01:00")) == []
    assert schedule.next_start(PARIS, at("2027-01-01T00:00+01:00")) is None
    assert schedule.latest_due(PARIS, at("2027-01-01T00:00+01:00"),
                               at("2028-01-01T00:00+01:00")) is None
    assert not schedule.ended(PARIS, at("2027-01-01T00:00+01:00"))


@pytest.mark.parametrize(("raw", "expected"), [
    ({}, None), (None, None), ({"min_interval": "30m"}, timedelta(minutes=30)),
    ({"min_interval": "90s"}, timedelta(seconds=90)), ({"min_interval": "2 hours"},
                                                       timedelta(hours=2)),
    ({"min_interval": "1d"}, timedelta(days=1)),
])
def test_signal_min_interval_forms(raw: object, expected: timedelta | None) -> None:
    assert parse_schedule({"signal": raw}).min_interval == expected


def test_only_signal_has_a_min_interval() -> None:
    schedule = parse_schedule(DAILY)
    assert schedule.kind == "daily"
    assert not schedule.is_signal
    assert schedule.min_interval is None


# ------------------------------------------------------------------ the model

def test_a_schedule_is_frozen_and_comparable() -> None:
    schedule = parse_schedule(MON_THU := {"weekly": {"days": ["thu", "mon"], "at": "09:00"}})
    assert schedule == parse_schedule({"weekly": {"days": ["mon", "thu", "mon"], "at": "09:00"}})
    assert hash(schedule) == hash(parse_schedule(MON_THU))
    with pytest.raises(AttributeError):
        schedule.kind = "daily"  # type: ignore[misc]
    assert isinstance(schedule, Schedule)


def test_questions_need_an_aware_instant_and_a_real_zone() -> None:
    schedule = parse_schedule(DAILY)
    with pytest.raises(ValueError, match="aware"):
        schedule.starts(PARIS, datetime(2027, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        schedule.latest_due(PARIS, at("2027-01-01T00:00+01:00"), datetime(2027, 1, 2))
    with pytest.raises(ValueError, match="time zone"):
        schedule.starts("Europe/Pariss", at("2027-01-01T00:00+01:00"))
    with pytest.raises(ValueError, match="count"):
        schedule.starts(PARIS, at("2027-01-01T00:00+01:00"), -1)
