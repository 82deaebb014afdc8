"""`overture run --live` through the real command line: sends, or refuses before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.kit import BY_ID, Harness, campaign, cli, cli_json
from overture.channels.outbox import OutboxReader, outbox_directory
from overture.data.workspace import Workspace

EMAILABLE = {1, 2, 5, 8, 11, 12}  # by hand from ROWS: valid address and consent


def mail(subject: str) -> str:
    return f"""
- {{id: all, type: build_audience}}
- {{id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "{subject}", html: "<p>Hello {{{{ first_name }}}}</p>"}}
"""


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    harness.close()  # the commands open the workspace in their own processes
    return harness


def outbox(h: Harness) -> list[str]:
    reader = OutboxReader(outbox_directory(h.ws.root / ".overture"))
    return sorted(e.to for e in reader.messages(channel="email"))


def test_a_live_run_sends_to_the_outbox_and_reports_exclusions(h: Harness) -> None:
    path = h.write(campaign(mail("Hi {{ first_name }}"), name="news"))
    result = cli_json(h.ws.root, "run", str(path), "--live", "--json")
    assert result["mode"] == "live" and result["status"] == "done"
    assert result["activities"]["mail"] == {
        "status": "done", "ports": {"out": len(EMAILABLE)},
        "excluded": {"no_address": 2, "invalid_address": 2, "no_consent": 2}}
    assert outbox(h) == sorted(BY_ID[i]["email"] for i in EMAILABLE)
    listed = cli(h.ws.root, "outbox", "list")
    assert listed.returncode == 0 and "Hi Ana" in listed.stdout


def test_a_template_reaching_for_python_internals_is_refused_and_nothing_is_sent(
        h: Harness) -> None:
    path = h.write(campaign(mail("{{ ''.__class__.__mro__ }}"), name="evil"))
    done = cli(h.ws.root, "run", str(path), "--live")
    assert done.returncode == 1
    assert "mail.subject" in done.stderr and "'__class__', '__mro__' is not allowed" \
        in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert outbox(h) == []
    ws = Workspace.open(h.ws.root)
    try:
        assert ws.control.list_runs() == []  # refused before a run was even recorded
    finally:
        ws.close()


@pytest.mark.parametrize("flags", [[], ["--test", "--live"]])
def test_the_mode_must_be_chosen(h: Harness, flags: list[str]) -> None:
    path = h.write(campaign(mail("Hi"), name="news"))
    done = cli(h.ws.root, "run", str(path), *flags)
    assert done.returncode == 1
    assert "--test (real data, nothing sent) or --live (sends)" in done.stderr
    assert outbox(h) == []
