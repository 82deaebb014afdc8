"""The scheduler on a clock the test moves: the right instants, across DST, once each."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from overture.store.status import CampaignStatus
from service.conftest import START, Rig, document

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def drive(rig: Rig, campaign: str, expected: list[datetime], until: datetime,
          step: timedelta) -> None:
    """Tick on a grid of `step` plus a second before and at each expected slot; after
    every tick the runs started are exactly the slots that are due."""
    grid = set()
    moment = rig.clock.now()
    while moment <= until:
        grid.add(moment)
        moment += step
    for slot in expected:
        grid.update({slot - timedelta(seconds=1), slot})
    for instant in sorted(grid):
        rig.at(instant)
        assert rig.slots(campaign) == [s for s in expected if s <= instant], instant


def test_weekly_monday_and_thursday_0900_paris_for_eight_weeks_across_dst(rig: Rig) -> None:
    rig.life.create(document(schedule={"weekly": {"days": ["mon", "thu"], "at": "09:00"}}),
                    "ana")
    rig.life.publish("weekly", "ana")
    assert rig.life.get("weekly").status == CampaignStatus.SCHEDULED
    days = [1, 4, 8, 11, 15, 18, 22, 25]  # March 2027: winter time, 09:00 is 08:00 UTC
    expected = [datetime(2027, 3, d, 8, 0, tzinfo=UTC) for d in days]
    # Europe/Paris moves to summer time on Sunday 28 March: 09:00 is 07:00 UTC
    expected += [datetime(2027, 3, 29, 7, 0, tzinfo=UTC)] + [
        datetime(2027, 4, d, 7, 0, tzinfo=UTC) for d in (1, 5, 8, 12, 15, 19, 22)]
    assert len(expected) == 16
    assert expected == [paris(s.astimezone(PARIS).year, s.astimezone(PARIS).month,
                              s.astimezone(PARIS).day, 9, 0) for s in expected]
    drive(rig, "weekly", expected, START + timedelta(weeks=8), timedelta(hours=1))
    runs = rig.h.ws.control.list_runs("weekly", limit=100)
    assert {r.trigger for r in runs} == {"schedule"} and {r.mode for r in runs} == {"live"}
    assert {r.version for r in runs} == {1}
    assert rig.life.get("weekly").status == CampaignStatus.LIVE


def test_monthly_second_tuesday(rig: Rig) -> None:
    rig.life.create(document("monthly", schedule={
        "monthly": {"nth": 2, "weekday": "tue", "at": "10:30"}}), "ana")
    rig.life.publish("monthly", "ana")
    second_tuesdays = [date(2027, 3, 9), date(2027, 4, 13), date(2027, 5, 11),
                       date(2027, 6, 8), date(2027, 7, 13), date(2027, 8, 10),
                       date(2027, 9, 14), date(2027, 10, 12), date(2027, 11, 9),
                       date(2027, 12, 14), date(2028, 1, 11), date(2028, 2, 8)]
    expected = [paris(d.year, d.month, d.day, 10, 30) for d in second_tuesdays]
    assert all(s.astimezone(PARIS).weekday() == 1 for s in expected)
    drive(rig, "monthly", expected, datetime(2028, 2, 29, tzinfo=UTC), timedelta(days=1))


def test_every_two_hours_between_0800_and_2000(rig: Rig) -> None:
    rig.life.create(document("hourly", schedule={
        "hourly": {"every": "2h", "between": ["08:00", "20:00"]}}), "ana")
    rig.life.publish("hourly", "ana")
    expected = [paris(2027, 3, day, hour, 0) for day in (1, 2, 3)
                for hour in (8, 10, 12, 14, 16, 18, 20)]
    drive(rig, "hourly", expected, datetime(2027, 3, 4, tzinfo=UTC), timedelta(minutes=15))


def test_a_validity_window_that_ends_completes_the_campaign(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(document("window", schedule={"daily": {"at": "09:00"},
                                                 "end": "2027-03-03"}), "ana")
    rig.life.publish("window", "ana")
    expected = [paris(2027, 3, d, 9, 0) for d in (1, 2, 3)]
    drive(rig, "window", expected, datetime(2027, 3, 10, tzinfo=UTC), timedelta(hours=1))
    runs = rig.h.ws.control.list_runs("window", limit=100)
    assert {r.status.value for r in runs} == {"done"}
    assert rig.life.get("window").status == CampaignStatus.COMPLETED
    assert rig.life.get("window").next_start is None


def test_missed_slots_during_downtime_produce_exactly_one_run(rig: Rig) -> None:
    rig.life.create(document("daily", schedule={"daily": {"at": "09:00"}}), "ana")
    rig.life.publish("daily", "ana")
    first = rig.at(paris(2027, 3, 1, 9, 0))
    assert len(first) == 1
    # the server is down from March 1 to March 6 at noon: five slots pass unseen
    rig.scheduler = rig.new_scheduler()
    rig.scheduler.recover()
    started = rig.at(paris(2027, 3, 6, 12, 0))
    assert len(started) == 1
    assert rig.slots("daily") == [paris(2027, 3, 1, 9, 0), paris(2027, 3, 6, 9, 0)]
    # later passes, and a second scheduler at the same instant, start nothing more
    assert rig.at(paris(2027, 3, 6, 12, 1)) == []
    assert rig.new_scheduler().tick() == []
    assert rig.at(paris(2027, 3, 7, 9, 0)) != []
    assert len(rig.slots("daily")) == 3


def test_two_schedulers_never_start_one_slot_twice(rig: Rig) -> None:
    rig.life.create(document("twice", schedule={"daily": {"at": "09:00"}}), "ana")
    rig.life.publish("twice", "ana")
    published = rig.life.get("twice").last_slot
    assert len(rig.at(paris(2027, 3, 1, 9, 0))) == 1
    # a second scheduler that read the campaign before the first recorded the slot:
    # the control plane refuses the second run of the slot
    rig.life.campaigns.set_scheduler_state("twice", last_slot=published)
    assert rig.new_scheduler().tick() == []
    assert rig.slots("twice") == [paris(2027, 3, 1, 9, 0)]
    assert len(rig.h.ws.control.list_runs("twice")) == 1


def test_slots_before_publication_never_fire(rig: Rig) -> None:
    rig.clock.set(paris(2027, 3, 1, 9, 30))  # half an hour after today's slot
    rig.life.create(document("late", schedule={"daily": {"at": "09:00"}}), "ana")
    rig.life.publish("late", "ana")
    assert rig.at(paris(2027, 3, 1, 23, 0)) == []
    assert rig.life.get("late").next_start == paris(2027, 3, 2, 9, 0)
    assert len(rig.at(paris(2027, 3, 2, 9, 0))) == 1


def test_a_paused_campaign_starts_nothing_and_a_closed_one_completes(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(document("paused", schedule={"daily": {"at": "09:00"}}), "ana")
    rig.life.publish("paused", "ana")
    rig.life.act("paused", "pause", "bob")
    assert rig.at(paris(2027, 3, 1, 9, 0)) == []
    rig.life.act("paused", "resume", "bob")
    assert len(rig.at(paris(2027, 3, 1, 9, 5))) == 1  # the due slot, once resumed
    rig.life.act("paused", "close", "bob")  # no run active: completed at once
    assert rig.life.get("paused").status == CampaignStatus.COMPLETED
    assert rig.at(paris(2027, 3, 2, 9, 0)) == []
    actions = [(h.actor, h.action) for h in rig.life.campaigns.history("paused")]
    assert actions[:4] == [("ana", "create"), ("ana", "publish"), ("bob", "pause"),
                           ("bob", "resume")]
