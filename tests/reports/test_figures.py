"""Every figure of a report equals the count made by hand from `scenario` (its table of
events and ROWS): per activity, per campaign, per run, over all time and the last 24
hours; links, domains, hourly and daily buckets; scope and errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from overture.channels.identity import message_id
from overture.data import events
from overture.data.messages import MESSAGES
from overture.reports import ReportError, campaign_report, report_resource
from reports.scenario import (
    CAMPAIGN,
    EXPECTED,
    EXPECTED_24H,
    EXPECTED_DAILY,
    EXPECTED_DOMAINS,
    EXPECTED_HOURLY,
    EXPECTED_LINKS,
    LINK_A,
    LINK_B,
    MAIL,
    NOW,
    PLANNED,
    Scenario,
    all_time,
    build,
    use_refusing_provider,
)


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory,
         data_urls: Callable[[], str | None]) -> Iterator[Scenario]:
    """One scenario for the tests that only read it, on each data-plane backend."""
    scenario = build(tmp_path_factory.mktemp("news"), data_url=data_urls())
    yield scenario
    scenario.h.close()


@pytest.fixture
def fresh(tmp_path: Path, data_url: str | None) -> Iterator[Scenario]:
    """A scenario of its own, for tests that add runs or events."""
    scenario = build(tmp_path, data_url=data_url)
    yield scenario
    scenario.h.close()


def test_every_figure_of_the_activity_and_the_campaign_equals_the_hand_count(
        news: Scenario) -> None:
    report = campaign_report(news.h.ws.data, CAMPAIGN, now=NOW)
    assert (report["campaign"], report["run"], report["activity"]) == (CAMPAIGN, None, None)
    assert report["runs"] == 1
    assert report["include_machine"] is False
    assert list(report["activities"]) == ["mail"]
    mail = report["activities"]["mail"]
    assert mail["channel"] == "email"
    assert all_time(mail) == EXPECTED
    assert all_time(report["totals"]) == EXPECTED  # one activity: the campaign's figures
    assert [entry["run"] for entry in report["by_run"]] == [news.run]
    assert all_time(report["by_run"][0]) == EXPECTED
    assert report["by_run"][0]["first_message_at"] == PLANNED.isoformat() + "+00:00"
    assert mail["variants"] == []  # no A/B test in this activity


def test_the_last_24_hours_count_what_happened_in_them(news: Scenario) -> None:
    report = campaign_report(news.h.ws.data, CAMPAIGN, now=NOW)
    assert report["now"] == "2027-03-02T09:30:00+00:00"
    assert report["windows"] == {"last_24h": {"from": "2027-03-01T09:30:00+00:00",
                                              "to": "2027-03-02T09:30:00+00:00"}}
    assert all_time(report["activities"]["mail"]["last_24h"]) == EXPECTED_24H
    assert all_time(report["totals"]["last_24h"]) == EXPECTED_24H
    # a day later only the sends' day is left out too: nothing at all happened
    later = campaign_report(news.h.ws.data, CAMPAIGN, now=NOW.replace(day=4))
    window = later["totals"]["last_24h"]
    assert (window["targeted"], window["opens"]["total"], window["clicks"]["total"],
            window["unsubscribes"]) == (0, 0, 0, 0)
    assert all_time(later["totals"]) == EXPECTED  # all time does not move


def test_links_domains_and_hourly_and_daily_buckets(news: Scenario) -> None:
    report = campaign_report(news.h.ws.data, CAMPAIGN, now=NOW)
    mail = report["activities"]["mail"]
    assert mail["links"] == EXPECTED_LINKS
    assert mail["domains"] == EXPECTED_DOMAINS
    assert report["totals"]["domains"] == EXPECTED_DOMAINS
    assert mail["timeline"] == {"hourly": EXPECTED_HOURLY, "daily": EXPECTED_DAILY}
    assert report["totals"]["timeline"] == {"hourly": EXPECTED_HOURLY,
                                            "daily": EXPECTED_DAILY}


def test_machine_opens_and_clicks_count_with_peoples_when_asked(news: Scenario) -> None:
    report = campaign_report(news.h.ws.data, CAMPAIGN, now=NOW, include_machine=True)
    mail = report["activities"]["mail"]
    assert report["include_machine"] is True
    # Eve's machine open and click join Ana's and Ben's; Ben's machine open adds one
    assert mail["opens"] == {"total": 5, "unique": 3, "machine": 2}
    assert mail["clicks"] == {"total": 5, "unique": 3, "machine": 1}
    assert (mail["ctr"], mail["ctr_basis"], mail["ctor"]) == (1.0, "delivered", 1.0)
    assert mail["links"][1] == {"link": 1, "url": LINK_B, "clicks": 2, "unique": 2,
                                "machine": 1}
    hourly = {b["at"]: b for b in mail["timeline"]["hourly"]}
    assert hourly["2027-03-01T08:00:00+00:00"] == {
        "at": "2027-03-01T08:00:00+00:00", "sent": 5, "opens": 2, "clicks": 1}


def test_without_delivery_receipts_the_ctr_is_over_sent_messages(fresh: Scenario) -> None:
    fresh.h.ws.data.log.execute([(f"DELETE FROM {events.EVENTS} WHERE type = ?", ["delivered"])])
    mail = campaign_report(fresh.h.ws.data, CAMPAIGN, now=NOW)["activities"]["mail"]
    assert mail["delivered"] == 0
    assert (mail["ctr"], mail["ctr_basis"]) == (round(2 / 5, 4), "sent")
    assert mail["ctor"] == 1.0


def test_a_bounce_without_its_type_counts_as_soft_and_once_per_message(
        fresh: Scenario) -> None:
    events.append(fresh.h.ws.data, [
        {"event_id": "untyped", "message_id": fresh.ids[2], "type": "bounce",
         "at": PLANNED.replace(hour=12)},
        {"event_id": "again", "message_id": fresh.ids[8], "type": "bounce",
         "bounce_type": "soft", "at": PLANNED.replace(hour=13)}])  # Hal's second
    mail = campaign_report(fresh.h.ws.data, CAMPAIGN, now=NOW)["activities"]["mail"]
    assert mail["bounces"] == {"hard": 1, "soft": 2}  # Hal once, Ben's untyped one


def test_a_second_run_is_reported_apart_and_with_the_first(fresh: Scenario) -> None:
    h = fresh.h
    second = h.run(MAIL, mode="live", name=CAMPAIGN)["run"]
    h.ws.data.log.execute([(f"UPDATE {MESSAGES} SET created_at = ?, sent_at = ? WHERE run_id = ?",
                        [PLANNED.replace(day=3), PLANNED.replace(day=3), second])])
    one = str(message_id(second, "mail", 1))
    events.append(h.ws.data, [{"event_id": "second-open", "message_id": one, "type": "open",
                               "at": PLANNED.replace(day=3, hour=12), "machine": False}])
    report = campaign_report(h.ws.data, CAMPAIGN, now=NOW)
    assert report["runs"] == 2
    assert [entry["run"] for entry in report["by_run"]] == [fresh.run, second]
    assert all_time(report["by_run"][0]) == EXPECTED
    again = report["by_run"][1]
    assert (again["targeted"], again["sent"], again["errors"], again["delivered"]) == \
        (12, 5, 1, 0)
    assert again["opens"] == {"total": 1, "unique": 1, "machine": 0}
    assert again["excluded"] == EXPECTED["excluded"]
    mail = report["activities"]["mail"]
    assert (mail["targeted"], mail["sent"], mail["errors"], mail["delivered"]) == \
        (24, 10, 2, 3)
    assert mail["excluded"] == {k: 2 * v for k, v in EXPECTED["excluded"].items()}
    assert mail["opens"] == {"total": 4, "unique": 3, "machine": 2}
    assert (mail["ctr"], mail["ctr_basis"], mail["ctor"]) == (round(2 / 3, 4), "delivered",
                                                              round(2 / 3, 4))
    # one run, by id: the first run's figures alone
    first = campaign_report(h.ws.data, CAMPAIGN, run_id=fresh.run, now=NOW)
    assert first["run"] == fresh.run and first["runs"] == 1
    assert all_time(first["activities"]["mail"]) == EXPECTED
    only = report_resource(h.ws, CAMPAIGN, run=second[:6], now=NOW)
    assert only["run"] == second
    assert only["activities"]["mail"]["sent"] == 5


def test_other_campaigns_and_activities_are_left_out(fresh: Scenario) -> None:
    h = fresh.h
    other = h.run(MAIL, mode="live", name="other")["run"]
    events.append(h.ws.data, [{"event_id": "other-click", "type": "click", "link": 0,
                               "url": LINK_A, "message_id": str(message_id(other, "mail", 2)),
                               "at": PLANNED, "machine": False}])
    news = campaign_report(h.ws.data, CAMPAIGN, now=NOW)
    assert all_time(news["activities"]["mail"]) == EXPECTED
    assert news["activities"]["mail"]["links"] == EXPECTED_LINKS
    theirs = campaign_report(h.ws.data, "other", now=NOW)["activities"]["mail"]
    assert theirs["clicks"] == {"total": 1, "unique": 1, "machine": 0}
    assert (theirs["ctr"], theirs["ctr_basis"]) == (round(1 / 5, 4), "sent")
    filtered = campaign_report(h.ws.data, CAMPAIGN, activity_id="mail", now=NOW)
    assert filtered["activity"] == "mail"
    assert all_time(filtered["activities"]["mail"]) == EXPECTED
    with pytest.raises(ReportError, match="no live run of campaign 'news' has a channel "
                                          "activity 'nope'") as caught:
        campaign_report(h.ws.data, CAMPAIGN, activity_id="nope")
    assert caught.value.code == "no_live_run"


def test_nothing_to_report_is_said_in_words(tmp_path: Path, data_url: str | None) -> None:
    from engine.kit import Harness

    h = Harness(tmp_path, data_url=data_url)
    try:
        with pytest.raises(ReportError, match="has no live run") as caught:
            campaign_report(h.ws.data, CAMPAIGN)  # no message log at all yet
        assert caught.value.code == "no_live_run"
        with pytest.raises(ReportError, match="no campaign 'news'") as caught:
            report_resource(h.ws, CAMPAIGN)
        assert caught.value.code == "not_found"
        use_refusing_provider(h)
        tested = h.run(MAIL, mode="test", name="tried")["run"]
        live = h.run(MAIL, mode="live", name="sent")["run"]
        with pytest.raises(ReportError, match="campaign 'tried' has no live run") as caught:
            report_resource(h.ws, "tried")  # known (it ran), never live
        assert caught.value.code == "no_live_run"
        with pytest.raises(ReportError, match=f"run {tested} is a test run") as caught:
            report_resource(h.ws, "tried", run=tested)
        assert caught.value.code == "no_live_run"
        with pytest.raises(ReportError, match=f"run {live} is a run of campaign 'sent'"):
            report_resource(h.ws, "tried", run=live)
        with pytest.raises(ReportError, match="no run") as caught:
            report_resource(h.ws, "sent", run="ffffffffffff")
        assert caught.value.code == "not_found"
        assert report_resource(h.ws, "sent")["activities"]["mail"]["sent"] == 5
    finally:
        h.close()
