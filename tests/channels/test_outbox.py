"""The outbox provider: email in a Maildir, SMS and push in JSON lines, idempotent by id."""

from __future__ import annotations

import json
import os
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from overture.channels.identity import message_id, message_id_header
from overture.channels.outbox import OutboxError, OutboxProvider, OutboxReader
from overture.channels.providers import OutgoingMessage, providers_for_workspace
from overture.cli.main import app
from overture.data.workspace import Workspace


def make_email(mid: object, to: str, subject: str, text: str, html: str | None = None
               ) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Shop <news@shop.example>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id_header(mid, "shop.example")  # type: ignore[arg-type]
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def email_out(profile: str, subject: str = "Spring sale", run: str = "run-1",
              campaign: str = "spring-sale") -> OutgoingMessage:
    mid = message_id(run, "vip_mail", profile)
    to = f"{profile}@example.com"
    return OutgoingMessage(mid, "email", to,
                           make_email(mid, to, subject, f"Hello {profile}\n",
                                      f"<p>Hello {profile}</p>"),
                           campaign=campaign, run_id=run, activity_id="vip_mail")


def sms_out(profile: str, body: str = "20% off today", channel: str = "sms",
            run: str = "run-1") -> OutgoingMessage:
    payload = {"body": body} if channel == "sms" else {"title": "Sale", "body": body}
    return OutgoingMessage(message_id(run, f"{channel}_act", profile), channel,  # type: ignore[arg-type]
                           f"+3360000{profile}", payload, campaign="spring-sale", run_id=run,
                           activity_id=f"{channel}_act")


def mail_files(outbox: Path) -> list[Path]:
    return [p for folder in ("new", "cur") for p in (outbox / "mail" / folder).iterdir()]


def test_email_stored_in_maildir_and_parsed_back(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path / "outbox")
    message = email_out("ana", subject="Ana, your spring sale — 20 %")
    result = provider.send(message)
    assert result.ok and result.provider_id == str(message.message_id)
    files = mail_files(tmp_path / "outbox")
    assert [f.name for f in files] == [str(message.message_id)]
    parsed = BytesParser(policy=policy.default).parse(files[0].open("rb"))
    assert parsed["Subject"] == "Ana, your spring sale — 20 %"
    assert parsed["To"] == "ana@example.com"
    assert parsed["Message-ID"] == f"<{message.message_id}@shop.example>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["X-Overture-Campaign"] == "spring-sale"
    assert parsed.get_body(("plain",)).get_content() == "Hello ana\n"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hello ana</p>"
    assert not list((tmp_path / "outbox" / "mail" / "tmp").iterdir())
    # the caller's message is not changed by storing it
    assert "X-Overture-Campaign" not in message.payload  # type: ignore[operator]


def test_sms_and_push_as_json_lines(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path)
    provider.send(sms_out("01", "Ça commence"))
    provider.send(sms_out("02"))
    provider.send(sms_out("01", "New arrivals", channel="push"))
    provider.close()
    sms = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text("utf-8").splitlines()]
    push = [json.loads(line) for line in (tmp_path / "push.jsonl").read_text("utf-8").splitlines()]
    assert [r["to"] for r in sms] == ["+336000001", "+336000002"]
    assert sms[0]["payload"] == {"body": "Ça commence"}
    assert sms[0]["message_id"] == str(message_id("run-1", "sms_act", "01"))
    assert sms[0]["campaign"] == "spring-sale" and sms[0]["run_id"] == "run-1"
    assert [r["payload"] for r in push] == [{"title": "Sale", "body": "New arrivals"}]
    assert not (tmp_path / "mail").exists()


def test_same_message_id_stored_once(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path)
    for _ in range(3):
        assert provider.send(email_out("ana")).ok
        assert provider.send(sms_out("01")).ok
    provider.send(email_out("bob"))
    provider.close()
    assert len(mail_files(tmp_path)) == 2
    assert len((tmp_path / "sms.jsonl").read_text().splitlines()) == 1
    # a new process (a fresh index) does not store them again either
    again = OutboxProvider(tmp_path)
    again.send(email_out("ana"))
    again.send(sms_out("01"))
    again.send(sms_out("02"))
    again.close()
    assert len(mail_files(tmp_path)) == 2
    assert len((tmp_path / "sms.jsonl").read_text().splitlines()) == 2


def test_email_moved_to_cur_by_a_mail_client_still_counts(tmp_path: Path) -> None:
    OutboxProvider(tmp_path).send(email_out("ana"))
    (stored,) = mail_files(tmp_path)
    stored.rename(tmp_path / "mail" / "cur" / f"{stored.name}:2,S")
    OutboxProvider(tmp_path).send(email_out("ana"))
    assert len(mail_files(tmp_path)) == 1
    assert [e.message_id for e in OutboxReader(tmp_path).messages()] == [stored.name]


def test_crash_between_write_and_index(tmp_path: Path) -> None:
    """The line was written, the process died before it knew: no second copy, ever."""
    first = OutboxProvider(tmp_path)
    first.send(sms_out("01"))
    first.send(sms_out("02"))
    first.close()
    path = tmp_path / "sms.jsonl"
    lines = path.read_text().splitlines()
    # a second writer that did not see the first line, then a line torn mid-write
    with path.open("a") as handle:
        handle.write(lines[0] + "\n" + lines[1][:25])
    reader = OutboxReader(tmp_path)
    assert sorted(e.to for e in reader.messages()) == ["+336000001", "+336000002"]
    resumed = OutboxProvider(tmp_path)
    resumed.send(sms_out("02"))        # already there: not stored again
    resumed.send(sms_out("03"))        # new: stored on a line of its own after the torn one
    resumed.close()
    assert sorted(e.to for e in reader.messages()) == ["+336000001", "+336000002", "+336000003"]
    assert json.loads(path.read_text().splitlines()[-1])["to"] == "+336000003"


def test_crash_before_link_leaves_nothing_visible(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path)
    provider.send(email_out("bob"))
    message = email_out("ana")
    (tmp_path / "mail" / "tmp" / f"{message.message_id}.999.dead").write_bytes(b"Subject: half")
    assert [e.to for e in OutboxReader(tmp_path).messages()] == ["bob@example.com"]
    OutboxProvider(tmp_path).send(message)
    assert sorted(e.to for e in OutboxReader(tmp_path).messages()) == [
        "ana@example.com", "bob@example.com"]


def test_reader_lists_newest_first_and_filters(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path)
    provider.send(email_out("ana"))
    provider.send(sms_out("01"))
    provider.send(email_out("bob", campaign="other", run="run-2"))
    provider.send(sms_out("02", channel="push"))
    reader = OutboxReader(tmp_path)
    assert [e.to for e in reader.messages()] == [
        "+336000002", "bob@example.com", "+336000001", "ana@example.com"]
    assert [e.to for e in reader.messages(channel="email")] == [
        "bob@example.com", "ana@example.com"]
    assert [e.to for e in reader.messages(campaign="other")] == ["bob@example.com"]
    assert [e.to for e in reader.messages(run="run-1", limit=2)] == [
        "+336000002", "+336000001"]
    assert reader.messages(channel="email")[0].summary == "Spring sale"
    with pytest.raises(OutboxError, match="unknown channel"):
        reader.messages(channel="fax")


def test_reader_get_by_prefix(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path)
    message = email_out("ana")
    provider.send(message)
    reader = OutboxReader(tmp_path)
    full = str(message.message_id)
    assert reader.get(full[:8]).to == "ana@example.com"
    assert reader.get(f"<{full}@shop.example>").message_id == full
    assert reader.get(full[:8]).email()["Subject"] == "Spring sale"
    with pytest.raises(OutboxError, match="no message"):
        reader.get("ffffffff-0000")


# ---- the command line ----
@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    chosen = providers_for_workspace(ws.config, os.environ, state_dir=ws.state_dir)
    chosen["email"].send(email_out("ana"))
    chosen["sms"].send(sms_out("01", "Flash sale until 8pm"))
    chosen["push"].send(sms_out("02", "New arrivals", channel="push", run="run-2"))
    for provider in chosen.values():
        provider.close()
    return ws


def invoke(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["-w", str(ws.root), "outbox", *args])
    return result.exit_code, result.output


def test_cli_list_json(workspace: Workspace) -> None:
    code, out = invoke(workspace, "list", "--json")
    assert code == 0, out
    rows = json.loads(out)
    assert [(r["channel"], r["to"]) for r in rows] == [
        ("push", "+336000002"), ("sms", "+336000001"), ("email", "ana@example.com")]
    assert rows[2]["summary"] == "Spring sale"
    assert rows[1]["summary"] == "Flash sale until 8pm"
    code, out = invoke(workspace, "list", "--json", "--channel", "sms")
    assert [r["to"] for r in json.loads(out)] == ["+336000001"]
    code, out = invoke(workspace, "list", "--json", "--limit", "1")
    assert len(json.loads(out)) == 1


def test_cli_list_table(workspace: Workspace) -> None:
    code, out = invoke(workspace, "list", "--campaign", "spring-sale")
    assert code == 0, out
    assert "ana@exam" in out and "+336000001" in out      # cut to fit 80 columns at most
    assert "Spring sale" in out and "Flash sale" in out
    assert str(message_id("run-1", "vip_mail", "ana"))[:8] in out
    assert str(message_id("run-1", "sms_act", "01"))[:8] in out
    code, out = invoke(workspace, "list", "--channel", "email")
    assert "ana@exam" in out and "+336000001" not in out


def test_cli_show_email(workspace: Workspace) -> None:
    mid = str(message_id("run-1", "vip_mail", "ana"))
    code, out = invoke(workspace, "show", mid[:10])
    assert code == 0, out
    assert "Subject: Spring sale" in out
    assert f"Message-ID: <{mid}@shop.example>" in out
    assert "Hello ana" in out and "<p>" not in out
    code, out = invoke(workspace, "show", mid, "--json")
    data = json.loads(out)
    assert data["text"] == "Hello ana\n" and "<p>Hello ana</p>" in data["html"]
    assert ["Subject", "Spring sale"] in data["headers"]


def test_cli_show_sms(workspace: Workspace) -> None:
    mid = str(message_id("run-1", "sms_act", "01"))
    code, out = invoke(workspace, "show", mid, "--json")
    assert code == 0, out
    assert json.loads(out)["payload"] == {"body": "Flash sale until 8pm"}
    code, out = invoke(workspace, "show", mid[:6])
    assert code == 0 and "Flash sale until 8pm" in out


def test_cli_unknown_id_is_a_clean_error(workspace: Workspace) -> None:
    result = CliRunner().invoke(app, ["-w", str(workspace.root), "outbox", "show", "zzz"])
    assert result.exit_code == 1
    assert "no message 'zzz'" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_empty_outbox(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "empty")
    code, out = invoke(ws, "list")
    assert code == 0 and "empty" in out
    code, out = invoke(ws, "list", "--json")
    assert json.loads(out) == []


def test_concurrent_workers_store_each_id_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    provider = OutboxProvider(tmp_path)
    messages = [m for p in range(20) for m in (email_out(f"p{p}"), sms_out(f"{p:02d}"))]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(provider.send, messages * 3))
    provider.close()
    assert all(r.ok for r in results)
    assert len(mail_files(tmp_path)) == 20
    lines = (tmp_path / "sms.jsonl").read_text().splitlines()
    assert len(lines) == 20 and len({json.loads(line)["message_id"] for line in lines}) == 20
