"""`overture feedback import` through the real command line, after a live run of the
hand-countable workspace (1 ana@, 2 ben@, 5 eve@ … are emailed; see ROWS)."""

from __future__ import annotations

import fcntl
import json
import mailbox
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.kit import BY_ID, Harness
from feedback.mta import Rcpt, arf, dsn, original, sent_email
from overture.cli.main import app
from overture.data import suppressions
from overture.data.workspace import Workspace

MAIL = """
- {id: all, type: build_audience}
- {id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "Hi {{ first_name }}", html: "<p>Hello {{ first_name }}</p>"}
"""
STRANGER = "3f1e0c2a-9b8d-3e7f-a6c5-d4b3a2918070"


class Shop:
    """A workspace after one live run, closed: the commands open it themselves."""

    def __init__(self, root: Path) -> None:
        harness = Harness(root)
        try:
            result = harness.run(MAIL, name="news", mode="live")
            assert result["status"] == "done", result
            self.run = str(result["run"])
            self.mails = {key: sent_email(harness.ws.state_dir, self.run, key)
                          for key in (1, 2, 5)}
        finally:
            harness.close()
        self.root = harness.ws.root
        self.state_dir = harness.ws.state_dir
        self.tmp = root


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return Shop(tmp_path)


def bounces(shop: Shop) -> Path:
    """A folder of .eml files: hard (1), complaint (2), soft (5), a stranger, an auto-reply."""
    folder = shop.tmp / "bounces"
    folder.mkdir()
    (folder / "01.eml").write_bytes(dsn(shop.mails[1], [Rcpt(BY_ID[1]["email"])]))
    (folder / "02.eml").write_bytes(arf(shop.mails[2], rcpt=BY_ID[2]["email"]))
    (folder / "03.eml").write_bytes(dsn(shop.mails[5], [Rcpt(
        BY_ID[5]["email"], "delayed", "4.4.1", "smtp; 421 4.4.1 try later")],
        report_id="<delay-5@mx.shop.example>", headers_only=True))
    (folder / "04.eml").write_bytes(dsn(original(f"<{STRANGER}@shop.example>"),
                                        [Rcpt("who@example.com")],
                                        report_id="<who@mx.shop.example>"))
    (folder / "05.eml").write_bytes(b"From: eve@example.com\r\nSubject: Out of office\r\n\r\n"
                                    b"Back on Monday.\r\n")
    return folder


def invoke(shop: Shop, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--workspace", str(shop.root), "feedback", *args])
    assert "Traceback" not in result.output, result.output
    return result


def ok(shop: Shop, *args: str) -> str:
    result = invoke(shop, *args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def error(shop: Shop, *args: str) -> str:
    result = invoke(shop, *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    return " ".join(str(result.stderr).split())


def suppressed(shop: Shop) -> list[tuple[str, str, str | None]]:
    ws = Workspace.open(shop.root)
    try:
        return sorted((r["address"], r["reason"], r["source"])
                      for r in suppressions.list_suppressions(ws.data))
    finally:
        ws.close()


def test_import_prints_the_counts_and_a_second_import_only_duplicates(shop: Shop) -> None:
    folder = bounces(shop)
    out = ok(shop, "import", str(folder))
    assert out.splitlines() == [
        "read 5 messages: 4 reports, 1 unreadable",
        "bounces: 1 hard, 1 soft",
        "complaints: 1",
        "duplicates: 0 (stored by an earlier import)",
        "unknown messages: 1 (not in the message log)",
        f"  {STRANGER}@shop.example",
        "suppressed: 2 email addresses (1 hard_bounce, 0 soft_bounce, 1 complaint); "
        "unsubscribed: 1 profile",
        "unreadable: 1",
        f"  {folder / '05.eml'}: not a bounce or complaint report: the message is text/plain, "
        "not a multipart/report with a delivery-status or feedback-report part",
    ]
    assert suppressed(shop) == [("ana@example.com", "hard_bounce", "dsn"),
                                ("ben@example.com", "complaint", "arf")]

    again = json.loads(ok(shop, "import", str(folder), "--json"))
    assert again == {
        "messages": 5, "reports": 4, "bounces": {"hard": 0, "soft": 0}, "complaints": 0,
        "delivered": 0, "ignored": 0, "duplicates": 3, "unknown": 1,
        "unknown_messages": [f"{STRANGER}@shop.example"],
        "suppressed": {"hard_bounce": 0, "soft_bounce": 0, "complaint": 0},
        "unsubscribed": 0,
        "unreadable": [{"file": str(folder / "05.eml"),
                        "reason": "not a bounce or complaint report: the message is "
                                  "text/plain, not a multipart/report with a delivery-status "
                                  "or feedback-report part"}]}
    assert suppressed(shop) == [("ana@example.com", "hard_bounce", "dsn"),
                                ("ben@example.com", "complaint", "arf")]


def test_import_reads_a_maildir_and_single_files(shop: Shop) -> None:
    box = mailbox.Maildir(shop.tmp / "Maildir", factory=None, create=True)
    box.add(dsn(shop.mails[1], [Rcpt(BY_ID[1]["email"])]))
    box.add(arf(shop.mails[2], rcpt=BY_ID[2]["email"]))
    broken = shop.tmp / "broken.eml"
    broken.write_bytes(dsn(shop.mails[5], [Rcpt(BY_ID[5]["email"], action=None)]))
    result = json.loads(ok(shop, "import", str(shop.tmp / "Maildir"), str(broken), "--json"))
    assert (result["messages"], result["reports"], result["bounces"], result["complaints"]) == (
        3, 2, {"hard": 1, "soft": 0}, 1)
    assert result["unreadable"] == [{
        "file": str(broken),
        "reason": "recipient eve@example.com: no Action (failed, delayed, delivered, relayed "
                  "or expanded)"}]
    assert result["unsubscribed"] == 1


def test_a_missing_path_is_an_error_and_nothing_is_imported(shop: Shop) -> None:
    folder = bounces(shop)
    message = error(shop, "import", str(folder), str(shop.tmp / "nowhere"))
    assert message == f"error: no such file or folder: {shop.tmp / 'nowhere'}"
    assert suppressed(shop) == []


@pytest.fixture
def held(shop: Shop) -> Iterator[str]:
    """The workspace as a running `overture serve` leaves it: server.json, a held lock."""
    url = "http://127.0.0.1:8765"
    (shop.state_dir / "server.json").write_text(json.dumps({"url": url, "token": "t"}),
                                                encoding="utf-8")
    with open(shop.state_dir / "server.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield url
        fcntl.flock(lock, fcntl.LOCK_UN)


def test_a_server_holding_the_workspace_must_be_stopped_first(shop: Shop, held: str) -> None:
    folder = bounces(shop)
    assert error(shop, "import", str(folder)) == (
        f"error: the workspace is held by `overture serve` at {held}: `overture feedback "
        "import` writes the data plane directly, so stop the server first (the API has no "
        "feedback import yet)")


def test_a_server_named_by_overture_url_is_refused(shop: Shop,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = bounces(shop)
    monkeypatch.setenv("OVERTURE_URL", "http://127.0.0.1:8765")
    assert error(shop, "import", str(folder)) == (
        "error: OVERTURE_URL names a server, and `overture feedback import` works only on a "
        "workspace directly (the API has no feedback import yet): run it where the workspace "
        "is, with OVERTURE_URL unset")
    assert suppressed(shop) == []


def test_help_names_the_command() -> None:
    result = CliRunner().invoke(app, ["feedback", "--help"])
    assert result.exit_code == 0 and "import" in result.stdout
