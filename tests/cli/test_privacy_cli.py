"""`overture privacy`: export, forget and expire through the real command line."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from channels.test_live_runs import MAIL
from engine.kit import ALL_IDS, BY_ID, Harness
from overture.cli.main import app
from overture.data import messages
from overture.data.workspace import Workspace
from overture.privacy import export_profile
from overture.server.serve import INFO_NAME, hold_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    """A workspace after one live run of MAIL (12 message log rows)."""
    harness = Harness(tmp_path)
    result = harness.run(MAIL % "", mode="live")
    assert result["status"] == "done", result
    harness.close()
    yield harness.ws.root


def run(ws: Path, *args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(app, ["--workspace", str(ws), "privacy", *args], input=stdin)
    assert "Traceback" not in result.output, result.output
    return result


def ok(ws: Path, *args: str, stdin: str | None = None) -> str:
    result = run(ws, *args, stdin=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return str(result.stdout)


def error(ws: Path, *args: str, stdin: str | None = None) -> str:
    result = run(ws, *args, stdin=stdin)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    return " ".join(str(result.stderr).split())


def customer_ids(ws: Path) -> set[int]:
    workspace = Workspace.open(ws)
    try:
        return set(workspace.data.table("customers").to_pyarrow().column(0).to_pylist())
    finally:
        workspace.close()


def test_export_prints_the_json_of_one_person(ws: Path) -> None:
    data = json.loads(ok(ws, "export", "5"))
    assert data["profile"]["email"] == BY_ID[5]["email"]
    assert [m["profile_key"] for m in data["messages"]] == ["5"]
    workspace = Workspace.open(ws)
    try:
        direct = export_profile(workspace, "5")
    finally:
        workspace.close()
    data.pop("exported_at"), direct.pop("exported_at")
    assert data == direct
    stores = json.loads(ok(ws, "export", "3", "--dimension", "stores"))
    assert (stores["dimension"], stores["profile"]["name"]) == ("stores", "Berlin Mitte")


def test_export_to_a_file_readable_by_its_owner_only(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "eve.json"
    line = ok(ws, "export", "5", "--out", str(out))
    assert " ".join(line.split()) == (f"exported customers 5 to {out}: profile, 1 messages, "
                                      "0 events, 2 linked rows, 0 audiences, 3 work tables")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["profile"]["first_name"] == "Eve"


def test_a_profile_that_does_not_exist_is_a_clear_error(ws: Path) -> None:
    assert error(ws, "export", "99") == "error: no profile '99' in 'customers' (key customer_id)"
    message = error(ws, "forget", "99")  # refused before asking anything
    assert message == "error: no profile '99' in 'customers' (key customer_id)"
    assert "is not a key of customers.customer_id" in error(ws, "forget", "abc", "--yes")
    assert "'nope' is not a table of schema.yaml" in error(ws, "export", "1",
                                                           "--dimension", "nope")
    assert customer_ids(ws) == ALL_IDS


def test_forget_asks_first_and_a_no_erases_nothing(ws: Path) -> None:
    stderr = error(ws, "forget", "5", stdin="n\n")
    assert "Erase customers 5 and everything held about it" in stderr
    assert stderr.endswith("nothing erased")
    assert error(ws, "forget", "5").endswith("nothing erased")  # no answer at all
    assert customer_ids(ws) == ALL_IDS


def test_forget_after_a_yes_prints_what_it_did(ws: Path) -> None:
    out = ok(ws, "forget", "5", stdin="y\n")
    lines = [" ".join(line.split()) for line in out.strip().splitlines()]
    assert "customers: deleted 1 profile rows" in lines
    assert "purchases: deleted 2 rows (link purchases)" in lines
    assert ("overture_messages: anonymised 1 message log rows (address erased, profile key "
            "hashed)") in lines
    assert ("overture_suppressions: suppressed 1 email addresses added as sha256 hashes "
            "(0 hashed already)") in lines
    assert lines[-1] == "forgot customers 5"
    assert customer_ids(ws) == ALL_IDS - {5}


def test_forget_yes_json(ws: Path) -> None:
    report = json.loads(ok(ws, "forget", "12", "--yes", "--json"))
    assert (report["dimension"], report["key"]) == ("customers", "12")
    steps = {(s["table"], s["action"]): s["count"] for s in report["steps"]}
    assert steps[("customers", "deleted")] == 1
    assert steps[("purchases", "deleted")] == 2
    assert steps[("overture_messages", "anonymised")] == 1
    assert customer_ids(ws) == ALL_IDS - {12}


def test_expire_needs_a_setting_then_deletes_what_is_old(ws: Path) -> None:
    assert "no retention is set: add `retention_days = N` (days) under [privacy]" in error(
        ws, "expire")
    config = ws / "overture.toml"
    config.write_text(config.read_text() + "\n[privacy]\nretention_days = 30\n")
    workspace = Workspace.open(ws)
    try:
        workspace.data.execute([
            ("UPDATE overture_messages SET created_at = ? WHERE CAST(profile_key AS INTEGER) "
             "<= 4", [datetime(2000, 1, 1)])])
    finally:
        workspace.close()
    dry = ok(ws, "expire", "--dry-run")
    assert "overture_messages: would delete 4 rows" in dry
    assert dry.strip().endswith("(dry run: nothing deleted)")
    report = json.loads(ok(ws, "expire", "--json"))
    assert report["deleted"]["overture_messages"] == 4 and not report["dry_run"]
    workspace = Workspace.open(ws)
    try:
        log = messages.message_log(workspace.data)
        assert log is not None
        assert {int(k) for k in log.to_pyarrow().column("profile_key").to_pylist()} == \
            ALL_IDS - {1, 2, 3, 4}
    finally:
        workspace.close()
    assert "overture_messages: deleted 0 rows" in ok(ws, "expire")


def test_a_bad_retention_setting_is_an_error(ws: Path) -> None:
    config = ws / "overture.toml"
    config.write_text(config.read_text() + '\n[privacy]\nretention_days = "a month"\n')
    assert "retention_days = 'a month' in overture.toml: write a whole number of days" in \
        error(ws, "expire")


def test_every_command_refuses_while_a_server_holds_the_workspace(ws: Path) -> None:
    state = ws / ".overture"
    with hold_workspace(state):
        (state / INFO_NAME).write_text(json.dumps({"url": "http://127.0.0.1:8765",
                                                   "token": "t"}))
        for args in (("export", "5"), ("forget", "5", "--yes"), ("expire",)):
            assert error(ws, *args) == (
                "error: the workspace is held by `overture serve` at http://127.0.0.1:8765: "
                "stop the server first (privacy commands work on the workspace directly)")
    assert customer_ids(ws) == ALL_IDS


def test_a_server_named_by_overture_url_is_refused_too(ws: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERTURE_URL", "http://127.0.0.1:9")
    assert error(ws, "forget", "5", "--yes").startswith(
        "error: OVERTURE_URL names the server at http://127.0.0.1:9: privacy commands work "
        "on the workspace directly")
    assert customer_ids(ws) == ALL_IDS
