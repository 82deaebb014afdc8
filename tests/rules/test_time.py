"""Time in rules: in_last / not_in_last on TIMESTAMP (exact elapsed time, naive = UTC)
and on DATE (the campaign-local date), between on dates and timestamps, the clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from overture.data.workspace import Workspace
from support.workspace import CLOCK, ROWS, make_workspace

from .helpers import PARIS, matching, rows_with, sql_ids

PURCHASES = ROWS["purchases"]
NAIVE_CLOCK = CLOCK.astimezone(UTC).replace(tzinfo=None)  # 2027-03-01 09:00 UTC


def bought_within(span: timedelta, clock: datetime = NAIVE_CLOCK) -> set[int]:
    return {p["purchase_id"] for p in PURCHASES
            if p["purchased_at"] is not None and clock - span <= p["purchased_at"] <= clock}


def on_purchases(ws: Workspace, rule: dict[str, Any], **ctx: Any) -> set[int]:
    return matching(ws, rule, "purchases", **ctx)


# ---------------------------------------------------------------- TIMESTAMP
@pytest.mark.parametrize(("duration", "span"), [
    ("30 days", timedelta(days=30)),
    ("12 hours", timedelta(hours=12)),
    ("10 hours", timedelta(hours=10)),    # 2027-02-28 23:00 is exactly on the edge: kept
    ("599 minutes", timedelta(minutes=599)),  # ... one minute less: dropped
    ("1 minute", timedelta(minutes=1)),   # 08:59 is exactly on the edge
    ("2 weeks", timedelta(weeks=2)),
    ("90 days", timedelta(days=90)),
    ("3600 s", timedelta(hours=1)),
    ("1.5 days", timedelta(hours=36)),
])
def test_in_last_on_a_timestamp_is_exact_elapsed_time(ws: Workspace, duration: str,
                                                      span: timedelta) -> None:
    got = on_purchases(ws, {"field": "purchased_at", "op": "in_last", "value": duration})
    assert got == bought_within(span)
    # and with SQL written here: naive timestamps are UTC, the clock is 09:00 UTC
    seconds = int(span.total_seconds())
    assert got == sql_ids(ws, f"""
        SELECT purchase_id FROM purchases
        WHERE purchased_at BETWEEN TIMESTAMP '2027-03-01 09:00:00' - INTERVAL '{seconds} seconds'
                               AND TIMESTAMP '2027-03-01 09:00:00'""")


def test_in_last_edges_are_where_expected(ws: Workspace) -> None:
    """Hand-counted: the boundary cases above really are boundary cases."""
    ten = on_purchases(ws, {"field": "purchased_at", "op": "in_last", "value": "10 hours"})
    less = on_purchases(ws, {"field": "purchased_at", "op": "in_last", "value": "599 minutes"})
    assert ten == {4, 11} and less == {11}
    # purchase 12 (09:01) is after the clock: in the future, not in the last anything
    assert 12 not in on_purchases(ws, {"field": "purchased_at", "op": "in_last",
                                       "value": "3650 days"})


def test_the_clock_is_an_instant_whatever_its_offset(ws: Workspace) -> None:
    rule = {"field": "purchased_at", "op": "in_last", "value": "10 hours"}
    same_instant = datetime.fromisoformat("2027-03-01T10:00:00+01:00")
    assert on_purchases(ws, rule, clock=same_instant) == on_purchases(ws, rule) == {4, 11}
    # the campaign's zone does not move timestamps
    assert on_purchases(ws, rule, timezone=ZoneInfo("America/New_York")) == {4, 11}
    assert on_purchases(ws, rule, timezone=ZoneInfo("Asia/Tokyo")) == {4, 11}


def test_twenty_four_hours_is_one_day_across_a_dst_change(ws: Workspace) -> None:
    """Exact elapsed time: a day is 24 hours even on the night clocks change in Paris."""
    clock = datetime.fromisoformat("2027-03-28T12:00:00+02:00")  # Paris springs forward at 02:00
    day = on_purchases(ws, {"field": "purchased_at", "op": "in_last", "value": "30 days"},
                       clock=clock)
    hours = on_purchases(ws, {"field": "purchased_at", "op": "in_last", "value": "720 hours"},
                         clock=clock)
    naive = clock.astimezone(UTC).replace(tzinfo=None)
    assert day == hours == bought_within(timedelta(days=30), naive)


def test_not_in_last_keeps_null_timestamps(tmp_path: Path, data_url: str | None) -> None:
    extra = {"purchase_id": 13, "customer_id": 3, "product_id": 1, "amount": 1.0,
             "purchased_at": None}
    ws = make_workspace(tmp_path / "ws", data_url=data_url, rows=rows_with(purchases=[extra]))
    try:
        inside = on_purchases(ws, {"field": "purchased_at", "op": "in_last",
                                   "value": "30 days"})
        outside = on_purchases(ws, {"field": "purchased_at", "op": "not_in_last",
                                    "value": "30 days"})
    finally:
        ws.close()
    every = {p["purchase_id"] for p in PURCHASES} | {13}
    assert inside == bought_within(timedelta(days=30))
    assert outside == every - inside
    assert 13 in outside and 12 in outside  # NULL (unknown) and the future (false)


def test_timestamp_literals_are_utc(ws: Workspace) -> None:
    """A naive literal is UTC; an aware one is converted to UTC before comparing."""
    naive = on_purchases(ws, {"field": "purchased_at", "op": "eq", "value": "2027-02-20T10:00"})
    aware = on_purchases(ws, {"field": "purchased_at", "op": "eq",
                              "value": "2027-02-20T11:00:00+01:00"})
    zulu = on_purchases(ws, {"field": "purchased_at", "op": "eq", "value": "2027-02-20T10:00Z"})
    assert naive == aware == zulu == {1}


def test_between_timestamps_is_inclusive(ws: Workspace) -> None:
    got = on_purchases(ws, {"field": "purchased_at", "op": "between",
                            "value": ["2027-02-01T15:00", "2027-02-20T10:00"]})
    assert got == {p["purchase_id"] for p in PURCHASES
                   if datetime(2027, 2, 1, 15) <= p["purchased_at"] <= datetime(2027, 2, 20, 10)}
    assert got == {1, 7, 8}


def test_a_date_compared_to_a_timestamp_is_its_midnight(ws: Workspace) -> None:
    got = on_purchases(ws, {"field": "purchased_at", "op": "gte", "value": "2027-03-01"})
    assert got == {p["purchase_id"] for p in PURCHASES
                   if p["purchased_at"] >= datetime(2027, 3, 1)} == {11, 12}


# ---------------------------------------------------------------- DATE
NEAR_MIDNIGHT = datetime.fromisoformat("2027-02-28T23:30:00+00:00")  # 00:30 on 1 March in Paris
SIGNUPS = {101: date(2027, 2, 25), 102: date(2027, 2, 26), 103: date(2027, 2, 27),
           104: date(2027, 2, 28), 105: date(2027, 3, 1), 106: date(2027, 3, 2)}


@pytest.fixture(scope="module")
def dates_ws(tmp_path_factory: pytest.TempPathFactory,
             data_urls: Callable[[], str | None]) -> Iterator[Workspace]:
    """ROWS plus six customers who signed up around the end of February 2027."""
    base = dict(ROWS["customers"][0])
    extra = [{**base, "customer_id": cid, "signup_date": day} for cid, day in SIGNUPS.items()]
    ws = make_workspace(tmp_path_factory.mktemp("dates") / "ws", data_url=data_urls(),
                        rows=rows_with(customers=extra))
    yield ws
    ws.close()


def recent(ws: Workspace, duration: str, op: str = "in_last", **ctx: Any) -> set[int]:
    got = matching(ws, {"field": "signup_date", "op": op, "value": duration}, **ctx)
    return {cid for cid in got if cid > 100} if op == "in_last" else got


def test_in_last_on_a_date_uses_the_campaign_local_date(dates_ws: Workspace) -> None:
    # 23:30 UTC on 28 February is 00:30 on 1 March in Paris: "today" is 1 March there
    assert recent(dates_ws, "0 days", clock=NEAR_MIDNIGHT, timezone=PARIS) == {105}
    assert recent(dates_ws, "1 day", clock=NEAR_MIDNIGHT, timezone=PARIS) == {104, 105}
    assert recent(dates_ws, "2 days", clock=NEAR_MIDNIGHT, timezone=PARIS) == {103, 104, 105}
    # the same instant for a campaign in UTC: "today" is still 28 February
    utc = ZoneInfo("UTC")
    assert recent(dates_ws, "0 days", clock=NEAR_MIDNIGHT, timezone=utc) == {104}
    assert recent(dates_ws, "2 days", clock=NEAR_MIDNIGHT, timezone=utc) == {102, 103, 104}
    # and for one in New York (18:30 on 28 February)
    ny = ZoneInfo("America/New_York")
    assert recent(dates_ws, "1 day", clock=NEAR_MIDNIGHT, timezone=ny) == {103, 104}


def test_in_last_on_a_date_counts_whole_local_days(dates_ws: Workspace) -> None:
    """12 hours back from 00:30 in Paris is 28 February: the window starts that day."""
    assert recent(dates_ws, "12 hours", clock=NEAR_MIDNIGHT, timezone=PARIS) == {104, 105}
    assert recent(dates_ws, "30 minutes", clock=NEAR_MIDNIGHT, timezone=PARIS) == {105}
    assert recent(dates_ws, "31 minutes", clock=NEAR_MIDNIGHT, timezone=PARIS) == {104, 105}


def test_not_in_last_on_a_date_is_the_complement(dates_ws: Workspace) -> None:
    every = {r["customer_id"] for r in ROWS["customers"]} | set(SIGNUPS)
    inside = matching(dates_ws, {"field": "signup_date", "op": "in_last", "value": "2 days"},
                      clock=NEAR_MIDNIGHT, timezone=PARIS)
    outside = matching(dates_ws, {"field": "signup_date", "op": "not_in_last",
                                  "value": "2 days"}, clock=NEAR_MIDNIGHT, timezone=PARIS)
    assert inside | outside == every and not inside & outside
    assert {101, 102, 106} <= outside  # too old, and in the future


def test_in_last_on_original_rows(ws: Workspace) -> None:
    """On ROWS with the pinned clock: Lou signed up on 28 Feb 2026, Jo on 24 Dec 2026."""
    today = date(2027, 3, 1)  # 10:00 in Paris
    for days in (1, 66, 67, 366, 367, 3650):
        got = matching(ws, {"field": "signup_date", "op": "in_last", "value": f"{days} days"})
        since = today - timedelta(days=days)
        expected = {r["customer_id"] for r in ROWS["customers"]
                    if since <= r["signup_date"] <= today}
        assert got == expected, days
    assert matching(ws, {"field": "signup_date", "op": "in_last", "value": "66 days"}) == set()
    assert matching(ws, {"field": "signup_date", "op": "in_last", "value": "67 days"}) == {10}


@pytest.fixture
def tokyo_machine() -> Iterator[None]:
    """The process's local time zone set to Asia/Tokyo, restored afterwards."""
    import os

    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_naive_clock_is_utc_not_the_machine_zone(dates_ws: Workspace,
                                                   tokyo_machine: None) -> None:
    """`overture rule count --clock 2027-02-28T23:30` gives a naive clock: it is UTC."""
    naive = NEAR_MIDNIGHT.replace(tzinfo=None)
    for duration in ("0 days", "1 day", "2 days"):
        assert recent(dates_ws, duration, clock=naive, timezone=PARIS) == \
            recent(dates_ws, duration, clock=NEAR_MIDNIGHT, timezone=PARIS), duration
    rule = {"field": "purchased_at", "op": "in_last", "value": "10 hours"}
    assert on_purchases(dates_ws, rule, clock=NAIVE_CLOCK) == {4, 11}
