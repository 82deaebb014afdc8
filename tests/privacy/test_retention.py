"""`expire`: message history older than [privacy] retention_days, with explicit timestamps.

Two live runs of MAIL (12 log rows each). Run 1's rows of customers 1-6 are dated
2027-01-01, those of 7-12 2027-05-25; run 2 (paused: unfinished) is dated 2027-01-01
throughout. Now is 2027-06-01 and the window 30 days: the cut is 2027-05-02.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from channels.test_live_runs import MAIL
from engine.kit import Harness
from overture.channels.identity import message_id
from overture.data import events, messages
from overture.privacy import PrivacyError, expire, retention_days
from overture.store.status import RunStatus

NOW = datetime(2027, 6, 1, tzinfo=UTC)
OLD, RECENT = datetime(2027, 1, 1), datetime(2027, 5, 25)
OLD_KEYS, RECENT_KEYS = set(range(1, 7)), set(range(7, 13))


def setup(h: Harness) -> tuple[str, str]:
    first = h.run(MAIL % "", mode="live")["run"]
    second = h.run(MAIL % "", mode="live")["run"]
    plane = h.ws.data
    plane.execute([
        ('UPDATE overture_messages SET created_at = ? WHERE run_id = ? AND '
         f'CAST(profile_key AS INTEGER) IN ({", ".join(map(str, sorted(OLD_KEYS)))})',
         [OLD, first]),
        ('UPDATE overture_messages SET created_at = ? WHERE run_id = ? AND '
         f'CAST(profile_key AS INTEGER) IN ({", ".join(map(str, sorted(RECENT_KEYS)))})',
         [RECENT, first]),
        ("UPDATE overture_messages SET created_at = ? WHERE run_id = ?", [OLD, second]),
    ])
    h.ws.control.update_run(second, status=RunStatus.PAUSED.value)

    def mid(key: int, run: str = first) -> str:
        return str(message_id(run, "mail", key))

    events.append(plane, [
        {"event_id": "old-message", "message_id": mid(1), "type": "open",
         "at": datetime(2027, 1, 2)},
        {"event_id": "recent", "message_id": mid(8), "type": "open",
         "at": datetime(2027, 5, 26)},
        {"event_id": "old-event", "message_id": mid(11), "type": "click",
         "at": datetime(2027, 4, 30)},
        {"event_id": "unfinished-run", "message_id": mid(2, second), "type": "open",
         "at": datetime(2027, 5, 30)},
    ])
    events.record_links(plane, [{"message_id": mid(k), "link": 0, "url": "https://x.example"}
                                for k in (1, 2, 8)])
    messages.record_results(plane, [
        {"message_id": mid(k), "status": "sent", "attempts": 1, "at": datetime(2027, 1, 1)}
        for k in (2, 12)])
    h.ws.config = {**h.ws.config, "privacy": {"retention_days": 30}}
    return first, second


def column(h: Harness, table: str, name: str) -> list[Any]:
    return sorted(h.ws.data.table(table).to_pyarrow().column(name).to_pylist())


def test_expire_deletes_exactly_what_is_older_than_the_window(h: Harness) -> None:
    first, second = setup(h)
    expected = {events.EVENTS: 2, events.LINKS: 2, messages.RESULTS: 1,
                messages.MESSAGES: len(OLD_KEYS)}

    dry = expire(h.ws, dry_run=True, now=NOW)
    assert dry.counts == expected
    assert (dry.days, dry.before, dry.kept) == (30, datetime(2027, 5, 2, tzinfo=UTC), 12)
    assert len(column(h, messages.MESSAGES, "message_id")) == 24  # nothing deleted

    done = expire(h.ws, now=NOW)
    assert (done.counts, done.kept, done.dry_run) == (expected, 12, False)
    log = messages.message_log(h.ws.data)
    assert log is not None
    left = {(r["run_id"], int(r["profile_key"])) for r in log.to_pyarrow().to_pylist()}
    assert left == {(first, k) for k in RECENT_KEYS} | {(second, k) for k in range(1, 13)}
    assert column(h, events.EVENTS, "event_id") == ["recent", "unfinished-run"]
    assert column(h, events.LINKS, "message_id") == [str(message_id(first, "mail", 8))]
    assert column(h, messages.RESULTS, "message_id") == [str(message_id(first, "mail", 12))]

    again = expire(h.ws, now=NOW)
    assert set(again.counts.values()) == {0}


def test_once_the_run_is_finished_its_old_messages_expire_too(h: Harness) -> None:
    _, second = setup(h)
    h.ws.control.update_run(second, status=RunStatus.STOPPED.value)
    report = expire(h.ws, now=NOW)
    assert report.kept == 0
    assert report.counts[messages.MESSAGES] == len(OLD_KEYS) + 12
    assert report.counts[events.EVENTS] == 3  # the second run's open goes with its message


@pytest.mark.parametrize("config, expected", [
    ({}, None), ({"privacy": {}}, None), ({"privacy": {"retention_days": 400}}, 400)])
def test_the_retention_setting(config: dict[str, Any], expected: int | None) -> None:
    assert retention_days(config) == expected


@pytest.mark.parametrize("value", [0, -3, "30", 1.5, True])
def test_a_bad_retention_setting_is_a_clear_error(value: Any) -> None:
    with pytest.raises(PrivacyError, match=r"retention_days = .* whole number of days"):
        retention_days({"privacy": {"retention_days": value}})


def test_expire_without_a_setting_says_how_to_set_one(h: Harness) -> None:
    with pytest.raises(PrivacyError, match=r"add `retention_days = N` \(days\) under "
                                           r"\[privacy\] in overture.toml"):
        expire(h.ws, now=NOW)
