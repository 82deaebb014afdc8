"""Bounces and complaints received by SMTP after a live run on the hand-countable
workspace: sent with `smtplib` to a receiver on a free port (in this process, through
`overture feedback smtp`, and through a real `overture serve`), then read back from
the events table and the suppression list.

By hand from ROWS: the live run emails 1 ana@, 2 ben@, 5 eve@, 8 hal@, 11 kim_100%@ and
12 lou@example.com.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.kit import BY_ID, OVERTURE, Harness
from feedback.mta import MAIL, Rcpt, arf, dsn, original, sent_email
from overture.channels.identity import message_id
from overture.cli.main import app
from overture.data import events, suppressions
from overture.data.plane import DataPlane
from overture.data.workspace import Workspace
from overture.feedback import FeedbackError, ingest
from overture.feedback.ingest import event_id
from overture.feedback.smtp import (
    DEFERRED,
    NOT_A_REPORT,
    STORED,
    FeedbackReceiver,
    SmtpSettings,
    smtp_settings,
)
from support.server import ServerProcess, free_port

NOW = datetime(2027, 3, 2, 12, 0)
STRANGER = "3f1e0c2a-9b8d-3e7f-a6c5-d4b3a2918070"
HARD_DETAIL = ("5.1.1 failed: 550 5.1.1 <ana@example.com>: Recipient address rejected: "
               "User unknown in virtual mailbox table")
#: the default Message-ID of mta.dsn's reports, without its brackets
DSN_ID = "20270301091500.4F2A81C0042@mx.shop.example"
OUT_OF_OFFICE = b"From: eve@example.com\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n"


# ---- the workspace, the receiver, a sending MTA ----

@pytest.fixture
def h(tmp_path: Path, data_url: str | None) -> Iterator[Harness]:
    """The workspace, its data plane once on DuckDB and once on PostgreSQL."""
    harness = Harness(tmp_path, data_url=data_url)
    yield harness
    harness.close()


def live_run(h: Harness) -> str:
    result = h.run(MAIL, name="news", mode="live")
    assert result["status"] == "done", result
    return str(result["run"])


def mid(run: str, key: int) -> str:
    return str(message_id(run, "mail", key))


class ThreadPlanes:
    """The data plane for the receiver's writer thread: a connection of its own."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self.local = threading.local()
        self.opened: list[DataPlane] = []

    def __call__(self) -> DataPlane:
        plane = getattr(self.local, "plane", None)
        if plane is None:
            plane = self.local.plane = self.plane.for_thread()
            self.opened.append(plane)
        return plane

    def close(self) -> None:
        if self.plane.backend != "duckdb":  # DuckDB cursors close with their connection
            for plane in self.opened:
                plane.close()


@pytest.fixture
def receive(h: Harness) -> Iterator[Callable[..., FeedbackReceiver]]:
    """Start a receiver on a free port of the workspace's data plane (stopped after)."""
    started: list[FeedbackReceiver] = []
    planes = ThreadPlanes(h.ws.data)

    def start(**options: Any) -> FeedbackReceiver:
        receiver = FeedbackReceiver(planes, "127.0.0.1", 0, now=lambda: NOW,
                                    server_name="mx.shop.example", **options)
        started.append(receiver.start())
        return receiver

    yield start
    for receiver in started:
        receiver.stop()
    planes.close()


def send(port: int, data: bytes, sender: str = "",
         rcpts: tuple[str, ...] = ("bounces@shop.example",)) -> tuple[int, str]:
    """One message as an MTA delivers it (a bounce: from the null sender; lines ending
    in CRLF, which smtplib leaves to the caller for bytes); the answer to its DATA."""
    data = re.sub(rb"\r?\n", b"\r\n", data)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.remote.example",
                      timeout=60) as client:
        assert client.ehlo()[0] == 250
        assert client.mail(sender)[0] == 250
        for rcpt in rcpts:
            assert client.rcpt(rcpt)[0] == 250
        code, text = client.data(data)
        return code, text.decode()


def answer(line: str) -> tuple[int, str]:
    code, text = line.split(" ", 1)
    return int(code), text


def stored_events(plane: DataPlane) -> list[dict[str, Any]]:
    table = events.events(plane)
    if table is None:
        return []
    return table.order_by(["type", "message_id"]).to_pyarrow().to_pylist()


def suppressed(plane: DataPlane) -> list[tuple[str, str, str | None, datetime]]:
    return sorted((r["address"], r["reason"], r["source"], r["added_at"])
                  for r in suppressions.list_suppressions(plane))


def unsubscribes(plane: DataPlane) -> list[dict[str, Any]]:
    if not plane.has_table(suppressions.UNSUBSCRIBES):
        return []
    return plane.table_any(suppressions.UNSUBSCRIBES).order_by(
        "profile_key").to_pyarrow().to_pylist()


def hard_event(run: str, report_id: str = DSN_ID) -> dict[str, Any]:
    return {"event_id": event_id(report_id, "ana@example.com", "bounce"),
            "message_id": mid(run, 1), "type": "bounce", "at": datetime(2027, 3, 1, 9, 14, 59),
            "link": None, "url": None, "machine": False, "bounce_type": "hard",
            "detail": HARD_DETAIL, "source": "dsn"}


# ---- in this process ----

def test_reports_sent_by_smtp_become_events_suppressions_and_an_unsubscribe(
        h: Harness, receive: Callable[..., FeedbackReceiver]) -> None:
    run = live_run(h)
    receiver = receive()
    mail = {key: sent_email(h.ws.state_dir, run, key) for key in (1, 2, 5)}
    hard = dsn(mail[1], [Rcpt(BY_ID[1]["email"])])
    soft = dsn(mail[5], [Rcpt(BY_ID[5]["email"], "delayed", "4.2.2",
                              "smtp; 452 4.2.2 Mailbox full")],
               report_id="<soft-5@mx.shop.example>", headers_only=True)
    complaint = arf(mail[2], rcpt=BY_ID[2]["email"])
    stranger = dsn(original(f"<{STRANGER}@shop.example>"), [Rcpt("who@example.com")],
                   report_id="<stranger@mx.shop.example>")

    assert send(receiver.port, hard) == answer(STORED)
    # any recipient, several of them; a feedback loop sends from an address, not <>
    assert send(receiver.port, soft, rcpts=("news@shop.example", "x@y.example")) == \
        answer(STORED)
    assert send(receiver.port, complaint, sender="staff@fbl.isp.example",
                rcpts=("fbl@shop.example",)) == answer(STORED)
    assert send(receiver.port, stranger) == answer(STORED)  # stored: nothing to store

    assert stored_events(h.ws.data) == sorted([
        hard_event(run),
        {"event_id": event_id("soft-5@mx.shop.example", "eve@example.com", "bounce"),
         "message_id": mid(run, 5), "type": "bounce", "at": datetime(2027, 3, 1, 9, 14, 59),
         "link": None, "url": None, "machine": False, "bounce_type": "soft",
         "detail": "4.2.2 delayed: 452 4.2.2 Mailbox full", "source": "dsn"},
        {"event_id": event_id("fbl-20270302-0001@fbl.isp.example", "ben@example.com",
                              "complaint"),
         "message_id": mid(run, 2), "type": "complaint", "at": datetime(2027, 3, 2, 8, 0),
         "link": None, "url": None, "machine": False, "bounce_type": None,
         "detail": "abuse (ExampleFBL/1.0)", "source": "arf"},
    ], key=lambda row: (row["type"], row["message_id"]))
    assert suppressed(h.ws.data) == [("ana@example.com", "hard_bounce", "dsn", NOW),
                                     ("ben@example.com", "complaint", "arf", NOW)]
    assert unsubscribes(h.ws.data) == [{"dimension": "customers", "profile_key": "2",
                                        "channel": "email", "source": "arf",
                                        "at": datetime(2027, 3, 2, 8, 0)}]

    # the same bounce again (an MTA that lost our 250): accepted, nothing stored twice
    assert send(receiver.port, hard) == answer(STORED)
    assert len(stored_events(h.ws.data)) == 3
    stats = receiver.stats
    assert (stats.messages, stats.unreadable, stats.deferred, stats.unknown) == (5, 0, 0, 1)
    assert (stats.stored.reports, stats.stored.hard, stats.stored.soft,
            stats.stored.complaints, stats.stored.duplicates, stats.stored.unsubscribed) == (
        5, 1, 1, 1, 1, 1)
    assert stats.stored.suppressed == {"hard_bounce": 1, "soft_bounce": 0, "complaint": 1}


def test_a_message_that_is_no_report_is_accepted_counted_and_stores_nothing(
        h: Harness, receive: Callable[..., FeedbackReceiver]) -> None:
    run = live_run(h)
    receiver = receive()
    broken = dsn(sent_email(h.ws.state_dir, run, 5), [Rcpt(BY_ID[5]["email"], action=None)])
    assert send(receiver.port, OUT_OF_OFFICE, sender="eve@example.com") == \
        answer(NOT_A_REPORT)
    assert send(receiver.port, broken) == answer(NOT_A_REPORT)
    assert send(receiver.port, b"\xff\xfe not even headers \x00") == answer(NOT_A_REPORT)
    stats = receiver.stats
    assert (stats.messages, stats.unreadable, stats.deferred, stats.stored.reports) == (
        3, 3, 0, 0)
    assert stored_events(h.ws.data) == []
    assert suppressed(h.ws.data) == []


def test_a_failure_to_store_answers_451_and_the_retry_stores_the_report_once(
        h: Harness, receive: Callable[..., FeedbackReceiver],
        monkeypatch: pytest.MonkeyPatch) -> None:
    run = live_run(h)
    receiver = receive()
    hard = dsn(sent_email(h.ws.state_dir, run, 1), [Rcpt(BY_ID[1]["email"])])
    append = events.append
    failures = [RuntimeError("disk full")]

    def flaky_append(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return append(*args, **kwargs)

    monkeypatch.setattr(events, "append", flaky_append)
    assert send(receiver.port, hard) == answer(DEFERRED)
    assert stored_events(h.ws.data) == []
    assert receiver.stats.deferred == 1
    # the sending MTA tries again later
    assert send(receiver.port, hard) == answer(STORED)
    assert stored_events(h.ws.data) == [hard_event(run)]
    assert suppressed(h.ws.data) == [("ana@example.com", "hard_bounce", "dsn", NOW)]
    stats = receiver.stats
    assert (stats.messages, stats.deferred, stats.stored.hard, stats.stored.duplicates) == (
        2, 1, 1, 0)


def test_reports_arriving_together_are_stored_in_one_batch_and_one_failing_defers_only_itself(
        h: Harness, receive: Callable[..., FeedbackReceiver],
        monkeypatch: pytest.MonkeyPatch) -> None:
    run = live_run(h)
    receiver = receive()
    mail = {key: sent_email(h.ws.state_dir, run, key) for key in (1, 2, 5)}
    first = dsn(mail[1], [Rcpt(BY_ID[1]["email"])])
    second = arf(mail[2], rcpt=BY_ID[2]["email"])
    poison = dsn(mail[5], [Rcpt(BY_ID[5]["email"])], report_id="<poison@mx.shop.example>")
    real = ingest.ingest_reports
    gate = threading.Event()
    batches: list[list[str]] = []

    def ingest_reports(plane: DataPlane, reports: Any, **kwargs: Any) -> Any:
        batches.append([report.report_id for report in reports])
        gate.wait(60)  # the first batch is being stored while the others arrive
        if "poison@mx.shop.example" in batches[-1]:
            raise RuntimeError("cannot store this one")
        return real(plane, reports, **kwargs)

    monkeypatch.setattr(ingest, "ingest_reports", ingest_reports)
    answers: dict[str, tuple[int, str]] = {}

    def deliver(name: str, data: bytes) -> None:
        answers[name] = send(receiver.port, data)

    senders = [threading.Thread(target=deliver, args=("first", first))]
    senders[0].start()
    deadline = time.monotonic() + 60
    while not batches and time.monotonic() < deadline:
        time.sleep(0.01)
    senders += [threading.Thread(target=deliver, args=item)
                for item in (("second", second), ("poison", poison))]
    for thread in senders[1:]:
        thread.start()
    while receiver._queue.qsize() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.set()
    for thread in senders:
        thread.join(60)

    assert answers == {"first": answer(STORED), "second": answer(STORED),
                       "poison": answer(DEFERRED)}
    assert batches[0] == [DSN_ID]
    assert sorted(batches[1]) == sorted(["fbl-20270302-0001@fbl.isp.example",
                                         "poison@mx.shop.example"])
    assert sorted(map(tuple, batches[2:])) == [("fbl-20270302-0001@fbl.isp.example",),
                                               ("poison@mx.shop.example",)]
    assert [(row["type"], row["message_id"]) for row in stored_events(h.ws.data)] == [
        ("bounce", mid(run, 1)), ("complaint", mid(run, 2))]
    assert receiver.stats.deferred == 1


def test_a_message_over_the_size_limit_is_refused_with_552(
        h: Harness, receive: Callable[..., FeedbackReceiver]) -> None:
    run = live_run(h)
    receiver = receive(size_limit=20_000)
    mail = sent_email(h.ws.state_dir, run, 1)
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=60) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "20000"
    report = dsn(mail, [Rcpt(BY_ID[1]["email"])])
    assert send(receiver.port, report) == answer(STORED)
    # 23,400 bytes more in the preamble of its multipart body
    padded = report.replace(b"\n\n", b"\n\n" + (b"x" * 76 + b"\n") * 300, 1)
    assert send(receiver.port, padded) == (552, "Error: Too much mail data")
    assert receiver.stats.messages == 1  # refused before it was a message


def test_the_smtp_settings_of_overture_toml() -> None:
    assert smtp_settings({}) is None
    assert smtp_settings({"feedback": {}}) is None
    assert smtp_settings({"feedback": {"smtp_port": 2525}}) == SmtpSettings("127.0.0.1", 2525)
    assert smtp_settings({"feedback": {"smtp_port": 25, "smtp_host": "0.0.0.0"}}) == \
        SmtpSettings("0.0.0.0", 25)
    for bad, message in [
        ({"smtp_port": "25"}, r"smtp_port = '25' in overture.toml: write a port number"),
        ({"smtp_port": True}, "smtp_port = True"),
        ({"smtp_port": 70000}, "smtp_port = 70000"),
        ({"smtp_port": 25, "smtp_host": ""}, "smtp_host = '' in overture.toml"),
        ({"smtp_host": "0.0.0.0"}, "smtp_host is set but smtp_port is not"),
    ]:
        with pytest.raises(FeedbackError, match=message):
            smtp_settings({"feedback": bad})
    with pytest.raises(FeedbackError, match=r"\[feedback\] in overture.toml must be a table"):
        smtp_settings({"feedback": 25})


# ---- through the command line and the server ----

class Shop:
    """A workspace after one live run, closed: the processes open it themselves."""

    def __init__(self, root: Path) -> None:
        harness = Harness(root)
        try:
            self.run = live_run(harness)
            self.hard = dsn(sent_email(harness.ws.state_dir, self.run, 1),
                            [Rcpt(BY_ID[1]["email"])])
        finally:
            harness.close()
        self.root = harness.ws.root
        self.state_dir = harness.ws.state_dir

    def configure(self, port: int) -> None:
        config = self.root / "overture.toml"
        config.write_text(config.read_text(encoding="utf-8")
                          + f"\n[feedback]\nsmtp_port = {port}\n", encoding="utf-8")

    def tables(self) -> tuple[list[dict[str, Any]], list[tuple[str, str, str | None,
                                                               datetime]]]:
        ws = Workspace.open(self.root)
        try:
            return stored_events(ws.data), suppressed(ws.data)
        finally:
            ws.close()


def wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # polling for the port to open, not for a result
    raise AssertionError("the receiver did not listen")


def test_overture_serve_runs_the_receiver_when_smtp_port_is_set(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    port = free_port()
    shop.configure(port)
    clock = datetime(2027, 3, 2, 12, 0, tzinfo=UTC)
    server = ServerProcess(shop.root, clock_at=clock).start()
    try:
        assert send(port, shop.hard) == answer(STORED)
    finally:
        assert server.stop() == 0
    rows, addresses = shop.tables()
    assert rows == [hard_event(shop.run)]
    assert addresses == [("ana@example.com", "hard_bounce", "dsn", NOW)]


def test_overture_feedback_smtp_receives_until_sigterm_and_prints_the_counts(
        tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    port = free_port()
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("OVERTURE_URL", None)
    process = subprocess.Popen(
        [OVERTURE, "-w", str(shop.root), "feedback", "smtp", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_listening(port, process)
        assert send(port, shop.hard) == answer(STORED)
        assert send(port, OUT_OF_OFFICE) == answer(NOT_A_REPORT)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"receiving bounces and complaints by SMTP on 127.0.0.1:{port}" in err
    assert "no readable report, dropped: not a bounce or complaint report" in err
    assert out.splitlines() == [
        "received 2 messages: 1 stored, 1 unreadable, 0 deferred (451, the sender tries "
        "again)",
        "bounces: 1 hard, 0 soft",
        "complaints: 0",
        "duplicates: 0 (stored by an earlier import)",
        "unknown messages: 0 (not in the message log)",
        "suppressed: 1 email address (1 hard_bounce, 0 soft_bounce, 0 complaint); "
        "unsubscribed: 0 profiles",
    ]
    rows, addresses = shop.tables()
    assert rows == [hard_event(shop.run)]
    assert [address[:3] for address in addresses] == [("ana@example.com", "hard_bounce",
                                                       "dsn")]


def test_overture_feedback_smtp_refuses_while_a_server_holds_the_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = Shop(tmp_path)
    url = "http://127.0.0.1:8765"
    monkeypatch.delenv("OVERTURE_URL", raising=False)
    (shop.state_dir / "server.json").write_text(json.dumps({"url": url, "token": "t"}),
                                                encoding="utf-8")
    with open(shop.state_dir / "server.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = CliRunner().invoke(app, ["--workspace", str(shop.root), "feedback", "smtp",
                                          "--port", str(free_port())])
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert result.exit_code == 1, result.output
    assert " ".join(result.stderr.split()) == (
        f"error: the workspace is held by `overture serve` at {url}: `overture feedback "
        "smtp` writes the data plane directly, so stop the server first, or let the server "
        "receive the reports: `overture serve` runs the SMTP receiver itself when "
        "overture.toml sets [feedback] smtp_port")
