"""Bounces and complaints after a live run on the hand-countable workspace: the events
stored, the suppressions and unsubscribes written, what the next live run excludes,
and idempotency. The reports quote the messages the run put in the outbox.

By hand from ROWS: the live run emails 1 ana@, 2 ben@, 5 eve@, 8 hal@, 11 kim_100%@ and
12 lou@example.com (3 shares ana's address and 7 ben's, without consent).
"""

from __future__ import annotations

import mailbox
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.kit import BY_ID, Harness
from feedback import mta
from feedback.mta import MAIL, Rcpt, arf, dsn, original
from overture.channels.identity import message_id
from overture.data import events, messages, suppressions
from overture.feedback import FeedbackError
from overture.feedback.ingest import (
    FeedbackSummary,
    event_id,
    import_paths,
    ingest_reports,
    parse_report,
)

EMAILABLE = {1, 2, 5, 8, 11, 12}
NOW = datetime(2027, 3, 2, 12, 0)
STRANGER = "3f1e0c2a-9b8d-3e7f-a6c5-d4b3a2918070"  # a version-3 UUID no run produced


@pytest.fixture
def h(tmp_path: Path, data_url: str | None) -> Iterator[Harness]:
    """The workspace, its data plane once on DuckDB and once on PostgreSQL."""
    harness = Harness(tmp_path, data_url=data_url)
    yield harness
    harness.close()


def live_run(h: Harness, name: str = "news") -> str:
    result = h.run(MAIL, name=name, mode="live")
    assert result["status"] == "done", result
    return str(result["run"])


def sent_email(h: Harness, run: str, key: int) -> bytes:
    return mta.sent_email(h.ws.state_dir, run, key)


def mid(run: str, key: int) -> str:
    return str(message_id(run, "mail", key))


def stored_events(h: Harness) -> list[dict[str, Any]]:
    table = events.events(h.ws.data)
    assert table is not None
    return table.order_by(["type", "message_id"]).to_pyarrow().to_pylist()


def suppressed(h: Harness) -> list[tuple[str, str, str | None, datetime]]:
    return sorted((r["address"], r["reason"], r["source"], r["added_at"])
                  for r in suppressions.list_suppressions(h.ws.data))


def unsubscribes(h: Harness) -> list[dict[str, Any]]:
    if not h.ws.data.has_table(suppressions.UNSUBSCRIBES):
        return []
    table = h.ws.data.table_any(suppressions.UNSUBSCRIBES)
    return table.order_by("profile_key").to_pyarrow().to_pylist()


def mixed_mailbox(h: Harness, run: str) -> list[bytes]:
    """One of each: hard (1), soft (5), complaint (2), delivered (8), relayed (12),
    not-spam (11), a stranger's id and a message Overture did not send."""
    return [
        dsn(sent_email(h, run, 1), [Rcpt(BY_ID[1]["email"])],
            report_id="<hard-1@mx.shop.example>"),
        dsn(sent_email(h, run, 5), [Rcpt(BY_ID[5]["email"], "delayed", "4.2.2",
                                         "smtp; 452 4.2.2 Mailbox full")],
            report_id="<soft-5@mx.shop.example>", headers_only=True),
        arf(sent_email(h, run, 2), rcpt=BY_ID[2]["email"]),
        dsn(sent_email(h, run, 8), [Rcpt(BY_ID[8]["email"], "delivered", "2.0.0",
                                         "smtp; 250 2.0.0 Ok: queued as 1A2B3C", None)],
            report_id="<delivered-8@mx.shop.example>", headers_only=True),
        dsn(sent_email(h, run, 12), [Rcpt(BY_ID[12]["email"], "relayed", "2.0.0", None)],
            report_id="<relayed-12@mx.shop.example>", headers_only=True, mta="exim"),
        arf(sent_email(h, run, 11), feedback_type="not-spam", rcpt=BY_ID[11]["email"],
            report_id="<fbl-not-spam@fbl.isp.example>"),
        dsn(original(f"<{STRANGER}@shop.example>"), [Rcpt("who@example.com")],
            report_id="<stranger@mx.shop.example>"),
        dsn(original("<CAF=x1@mail.gmail.com>"), [Rcpt("ana@example.com")],
            report_id="<not-ours@mx.shop.example>"),
    ]


def test_bounces_and_complaints_become_events_suppressions_and_an_unsubscribe(
        h: Harness) -> None:
    run = live_run(h)
    reports = [parse_report(data) for data in mixed_mailbox(h, run)]
    summary = ingest_reports(h.ws.data, reports, now=NOW)
    assert summary == FeedbackSummary(
        messages=0, reports=8, hard=1, soft=1, complaints=1, delivered=1, ignored=2,
        duplicates=0, unknown=[f"{STRANGER}@shop.example", "CAF=x1@mail.gmail.com"],
        suppressed={"hard_bounce": 1, "soft_bounce": 0, "complaint": 1}, unsubscribed=1)

    assert stored_events(h) == sorted([
        {"event_id": event_id("hard-1@mx.shop.example", "ana@example.com", "bounce"),
         "message_id": mid(run, 1), "type": "bounce", "at": datetime(2027, 3, 1, 9, 14, 59),
         "link": None, "url": None, "machine": False, "bounce_type": "hard",
         "detail": "5.1.1 failed: 550 5.1.1 <ana@example.com>: Recipient address rejected: "
                   "User unknown in virtual mailbox table", "source": "dsn"},
        {"event_id": event_id("soft-5@mx.shop.example", "eve@example.com", "bounce"),
         "message_id": mid(run, 5), "type": "bounce", "at": datetime(2027, 3, 1, 9, 14, 59),
         "link": None, "url": None, "machine": False, "bounce_type": "soft",
         "detail": "4.2.2 delayed: 452 4.2.2 Mailbox full", "source": "dsn"},
        {"event_id": event_id("fbl-20270302-0001@fbl.isp.example", "ben@example.com",
                              "complaint"),
         "message_id": mid(run, 2), "type": "complaint", "at": datetime(2027, 3, 2, 8, 0),
         "link": None, "url": None, "machine": False, "bounce_type": None,
         "detail": "abuse (ExampleFBL/1.0)", "source": "arf"},
        {"event_id": event_id("delivered-8@mx.shop.example", "hal@example.com", "delivered"),
         "message_id": mid(run, 8), "type": "delivered", "at": datetime(2027, 3, 1, 9, 15),
         "link": None, "url": None, "machine": False, "bounce_type": None,
         "detail": "2.0.0 delivered: 250 2.0.0 Ok: queued as 1A2B3C", "source": "dsn"},
    ], key=lambda row: (row["type"], row["message_id"]))

    # the message log's address, on the email channel; the soft bounce suppresses nothing
    assert suppressed(h) == [("ana@example.com", "hard_bounce", "dsn", NOW),
                             ("ben@example.com", "complaint", "arf", NOW)]
    assert unsubscribes(h) == [{"dimension": "customers", "profile_key": "2",
                                "channel": "email", "source": "arf",
                                "at": datetime(2027, 3, 2, 8, 0)}]

    # the next live run leaves out the hard-bounced address and the complaining profile
    result = h.run(MAIL, name="next", mode="live")
    entry = result["activities"]["mail"]
    assert entry["excluded"] == {"no_address": 2, "invalid_address": 2, "no_consent": 2,
                                 "unsubscribed": 1, "suppressed": 1}
    h.check(result, "mail", "out", EMAILABLE - {1, 2})
    log = messages.of_activity(h.ws.data, result["run"], "mail")
    assert log is not None
    reasons = {int(r["profile_key"]): r["reason"] for r in log.to_pyarrow().to_pylist()}
    assert (reasons[1], reasons[2]) == ("suppressed", "unsubscribed")


def test_ingesting_the_same_reports_twice_stores_nothing_new(h: Harness) -> None:
    run = live_run(h)
    mailbox_data = mixed_mailbox(h, run)
    first = ingest_reports(h.ws.data, [parse_report(d) for d in mailbox_data], now=NOW)
    events_before, suppressed_before = stored_events(h), suppressed(h)
    unsubscribed_before = unsubscribes(h)
    again = ingest_reports(h.ws.data, [parse_report(d) for d in mailbox_data],
                           now=datetime(2027, 3, 5))
    assert again == FeedbackSummary(
        reports=8, ignored=2, duplicates=4, unknown=first.unknown,
        suppressed={"hard_bounce": 0, "soft_bounce": 0, "complaint": 0})
    assert stored_events(h) == events_before
    assert suppressed(h) == suppressed_before  # the first date is kept
    assert unsubscribes(h) == unsubscribed_before


def test_reading_an_old_report_again_does_not_undo_a_lifted_suppression(h: Harness) -> None:
    run = live_run(h)
    hard = dsn(sent_email(h, run, 1), [Rcpt("ana@example.com")])
    complaint = arf(sent_email(h, run, 2), rcpt="ben@example.com")
    ingest_reports(h.ws.data, [parse_report(hard), parse_report(complaint)], now=NOW)
    assert suppressions.remove_suppressions(
        h.ws.data, "email", ["ana@example.com", "ben@example.com"]) == 2
    again = ingest_reports(h.ws.data, [parse_report(hard), parse_report(complaint)], now=NOW)
    assert (again.duplicates, again.suppressed["hard_bounce"], again.suppressed["complaint"]) \
        == (2, 0, 0)
    assert suppressed(h) == []
    # a new bounce of the same address (another report) suppresses it again
    later = dsn(sent_email(h, run, 1), [Rcpt("ana@example.com")],
                report_id="<later@mx.shop.example>")
    assert ingest_reports(h.ws.data, [parse_report(later)], now=NOW).suppressed[
        "hard_bounce"] == 1
    assert suppressed(h) == [("ana@example.com", "hard_bounce", "dsn", NOW)]


def test_a_report_without_message_id_is_deduplicated_by_its_bytes(h: Harness) -> None:
    run = live_run(h)
    data = dsn(sent_email(h, run, 1), [Rcpt("ana@example.com")], report_id=None)
    assert ingest_reports(h.ws.data, [parse_report(data)] * 2).hard == 1
    assert ingest_reports(h.ws.data, [parse_report(data)]).duplicates == 1
    assert len(stored_events(h)) == 1


def soft(h: Harness, run: str, key: int, day: str, tag: str) -> bytes:
    return dsn(sent_email(h, run, key),
               [Rcpt(BY_ID[key]["email"], "failed", "4.2.2", "smtp; 452 4.2.2 Mailbox full",
                     f"{day} 2027 10:00:00 +0000")],
               report_id=f"<{tag}@mx.shop.example>", headers_only=True)


def test_three_soft_bounces_of_different_messages_within_30_days_suppress(
        h: Harness) -> None:
    runs = [live_run(h, name) for name in ("first", "second", "third")]

    def ingest(*reports: bytes) -> FeedbackSummary:
        return ingest_reports(h.ws.data, [parse_report(d) for d in reports], now=NOW)

    # the first and the second message of eve 45 days apart, the third 5 days later
    ingest(soft(h, runs[0], 5, "Mon, 01 Mar", "a"), soft(h, runs[1], 5, "Thu, 15 Apr", "b"),
           soft(h, runs[2], 5, "Tue, 20 Apr", "c"))
    assert suppressed(h) == []
    # a second soft bounce of the second message: still two messages within 30 days
    assert ingest(soft(h, runs[1], 5, "Sun, 18 Apr", "b2")).soft == 1
    assert suppressed(h) == []
    # three soft bounces of other addresses count for those addresses only
    ingest(*(soft(h, run, 8, "Sat, 10 Apr", f"hal-{n}") for n, run in enumerate(runs[:2])))
    assert suppressed(h) == []
    # a late report on the first message, inside the window: three messages now
    summary = ingest(soft(h, runs[0], 5, "Sat, 10 Apr", "a2"))
    assert summary.soft == 1
    assert summary.suppressed == {"hard_bounce": 0, "soft_bounce": 1, "complaint": 0}
    assert suppressed(h) == [("eve@example.com", "soft_bounce", "dsn", NOW)]
    assert ingest(soft(h, runs[0], 5, "Sat, 10 Apr", "a2")).suppressed["soft_bounce"] == 0
    # lifted: a new soft bounce months later is alone in its 30 days, and suppresses nothing
    suppressions.remove_suppressions(h.ws.data, "email", ["eve@example.com"])
    assert ingest(soft(h, runs[2], 5, "Thu, 01 Jul", "c2")).soft == 1
    assert suppressed(h) == []


def test_events_of_unknown_messages_are_refused_and_counted(h: Harness) -> None:
    live_run(h)
    summary = ingest_reports(h.ws.data, [parse_report(arf(original(
        f"<{STRANGER}@shop.example>")))], now=NOW)
    assert (summary.complaints, summary.unknown) == (0, [f"{STRANGER}@shop.example"])
    assert events.events(h.ws.data) is None or stored_events(h) == []
    assert suppressed(h) == [] and unsubscribes(h) == []


def test_import_reads_eml_files_folders_and_maildirs(h: Harness, tmp_path: Path) -> None:
    run = live_run(h)
    data = mixed_mailbox(h, run)
    folder = tmp_path / "bounces"
    folder.mkdir()
    (folder / "1-hard.eml").write_bytes(data[0])
    (folder / "2-soft.EML").write_bytes(data[1])
    (folder / "notes.txt").write_bytes(b"not read: not .eml")
    (folder / "3-reply.eml").write_bytes(b"From: eve@example.com\r\nSubject: Re: Hi\r\n\r\nok\r\n")
    box = mailbox.Maildir(tmp_path / "Maildir", factory=None, create=True)
    for item in data[2:7]:
        box.add(item)
    keys = sorted(box.keys())
    # one message read by a mail client already (in cur/, flagged seen)
    seen = mailbox.MaildirMessage(box.get_bytes(keys[0]))
    seen.set_subdir("cur")
    seen.add_flag("S")
    box[keys[0]] = seen
    box.add(data[7])
    empty = tmp_path / "empty"
    empty.mkdir()
    single = tmp_path / "hard-again.eml"
    single.write_bytes(data[0])
    files_before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    summary = import_paths(h.ws.data, [folder, tmp_path / "Maildir", empty, single], now=NOW,
                           batch=3)
    assert (summary.messages, summary.reports) == (11, 9)  # the empty folder is one
    assert (summary.hard, summary.soft, summary.complaints, summary.delivered) == (1, 1, 1, 1)
    assert (summary.ignored, summary.duplicates) == (2, 1)  # the file given twice
    assert summary.unknown == [f"{STRANGER}@shop.example", "CAF=x1@mail.gmail.com"]
    assert summary.unreadable == [
        (str(folder / "3-reply.eml"),
         "not a bounce or complaint report: the message is text/plain, not a multipart/report "
         "with a delivery-status or feedback-report part"),
        (str(empty), "no .eml files, and not a Maildir (no cur/ and new/ folders)")]
    assert summary.to_json()["suppressed"] == {"hard_bounce": 1, "soft_bounce": 0,
                                                "complaint": 1}
    # read only: every file where it was, under the same name (no flag added)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == files_before
    again = import_paths(h.ws.data, [folder, tmp_path / "Maildir"], now=NOW)
    assert (again.hard, again.soft, again.complaints, again.delivered, again.duplicates) == (
        0, 0, 0, 0, 4)


def test_import_refuses_missing_paths_before_reading_anything(h: Harness,
                                                               tmp_path: Path) -> None:
    run = live_run(h)
    good = tmp_path / "a.eml"
    good.write_bytes(dsn(sent_email(h, run, 1), [Rcpt("ana@example.com")]))
    with pytest.raises(FeedbackError, match=r"no such file or folder: .*nowhere\.eml"):
        import_paths(h.ws.data, [good, tmp_path / "nowhere.eml"])
    assert events.events(h.ws.data) is None or stored_events(h) == []


def test_event_ids_are_stable_and_distinct() -> None:
    one = event_id("r@mx", "Ana@Example.com", "bounce")
    assert one == event_id("r@mx", "ana@example.com", "bounce") and len(one) == 32
    assert len({one, event_id("r@mx", "ana@example.com", "complaint"),
                event_id("r@mx", "ben@example.com", "bounce"),
                event_id("r@mx2", "ana@example.com", "bounce")}) == 4
    assert uuid.UUID(hex=one)  # 32 hex digits, like the tracking events' ids
