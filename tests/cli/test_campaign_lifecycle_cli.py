"""The lifecycle of stored campaigns through the command line, on a workspace no server
holds (spec §6): drafts, numbered versions, publication, statuses, duplicates, history,
test runs of drafts, signals, and what people do to runs (confirm, continue, pause,
stop, resume, restart, tasks).

Commands run in this process (typer's runner, as tests/cli/test_campaign_schedule_cli.py
does), with no OVERTURE_URL in the environment; expectations are counted by hand from
ROWS (tests/support/workspace.py) or compared with `overture run --test`.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from engine.kit import Harness, campaign
from overture.channels.outbox import OutboxReader, outbox_directory
from overture.cli.main import app

EMAILABLE = {1, 2, 5, 8, 11, 12}  # by hand from ROWS: valid address and consent
ME = f"cli:{getpass.getuser()}"
WEEKLY = {"weekly": {"days": ["mon", "thu"], "at": "09:00"}}
MAIL = """
- {id: all, type: build_audience}
- {id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "Hello {{ first_name }}", html: "<p>Hello {{ first_name }}</p>"}
"""


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def overture(root: Path, *args: str) -> Done:
    """`overture -w ROOT ARGS...`, never through a server."""
    env: dict[str, str | None] = {name: None for name in (
        "OVERTURE_URL", "OVERTURE_TOKEN", "OVERTURE_FAULT", "OVERTURE_CLOCK_FILE",
        "OVERTURE_WORKSPACE")}
    env["COLUMNS"] = "200"
    result = CliRunner().invoke(app, ["-w", str(root), *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    done = Done(result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def ok(root: Path, *args: str) -> str:
    done = overture(root, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def ok_json(root: Path, *args: str) -> Any:
    return json.loads(ok(root, *args, "--json"))


def refused(root: Path, *args: str) -> str:
    """The command exits 1 with a clean message: the message (stderr)."""
    done = overture(root, *args)
    assert done.returncode == 1, (args, done.stdout, done.stderr)
    return " ".join(done.stderr.split())


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    harness.close()  # the commands open the workspace in their own processes
    return harness


def write(h: Harness, name: str, activities: str, **extra: Any) -> Path:
    """A campaign file in the workspace's campaigns/ folder."""
    path = h.ws.root / "campaigns" / f"{name}.yaml"
    path.write_text(campaign(activities, name=name, **extra), encoding="utf-8")
    return path


def outbox(h: Harness) -> list[str]:
    reader = OutboxReader(outbox_directory(h.ws.root / ".overture"))
    return sorted(e.to for e in reader.messages(channel="email"))


def test_draft_publish_unpublish_live_run_then_versions_are_frozen(h: Harness) -> None:
    root = h.ws.root
    bad = write(h, "news", "- {id: all, type: build_audience, rule: {field: nope, op: eq, "
                           "value: 1}}")
    assert "created as a draft" in ok(root, "campaign", "create", str(bad))
    shown = ok_json(root, "campaign", "show", "news")
    assert shown["status"] == "draft" and shown["latest_version"] is None
    assert [p["path"] for p in shown["problems"]] == ["all.rule.field"]
    text = ok(root, "campaign", "show", "news")
    assert "draft: 1 problem(s)" in text and "all.rule.field" in text

    message = refused(root, "campaign", "publish", "news")
    assert "✗ all.rule.field" in message
    assert "campaign 'news' cannot be published: 1 problem(s)" in message

    good = write(h, "news", MAIL, schedule=WEEKLY)
    assert "the draft is valid" in ok(root, "campaign", "update", "news", str(good))
    published = ok_json(root, "campaign", "publish", "news")
    assert published["published"] == 1 and published["status"] == "scheduled"
    assert published["next_start"] is not None and published["runs"] == []

    back = ok(root, "campaign", "unpublish", "news")
    assert "version 1 withdrawn; back to draft" in back
    shown = ok_json(root, "campaign", "show", "news")
    assert (shown["status"], shown["latest_version"], shown["versions"]) == ("draft", None, [])

    assert ok_json(root, "campaign", "publish", "news")["published"] == 1
    # the file holds the latest version's document: the live run reuses version 1
    result = json.loads(ok(root, "run", str(good), "--live", "--json"))
    assert result["status"] == "done"
    assert result["activities"]["mail"]["ports"] == {"out": len(EMAILABLE)}
    runs = ok_json(root, "runs", "list")
    assert [(r["run"], r["mode"]) for r in runs] == [(result["run"], "live")]
    assert ok_json(root, "runs", "show", result["run"])["version"] == 1
    assert len(ok_json(root, "campaign", "show", "news")["versions"]) == 1

    assert "version 1 of 'news' has run already" in refused(root, "campaign", "unpublish",
                                                            "news")
    assert "only drafts (never published) can be deleted" in refused(root, "campaign",
                                                                     "delete", "news")
    # a changed file is a new version when run live
    changed = write(h, "news", MAIL.replace("Hello {{ first_name }}\"", "Hi\""),
                    schedule=WEEKLY)
    ok(root, "run", str(changed), "--live", "--json")
    assert [v["number"] for v in ok_json(root, "campaign", "show", "news")["versions"]] \
        == [1, 2]


def test_statuses_archive_duplicate_delete_and_history(h: Harness) -> None:
    root = h.ws.root
    path = write(h, "promo", MAIL, schedule=WEEKLY)
    ok(root, "campaign", "create", str(path))
    assert "a campaign named 'promo' exists already" in refused(root, "campaign", "create",
                                                                str(path))
    ok(root, "campaign", "publish", "promo")

    assert "cannot archive campaign 'promo': it is scheduled" in refused(
        root, "campaign", "archive", "promo")
    assert "promo · paused" in ok(root, "campaign", "pause", "promo")
    assert "cannot pause campaign 'promo': it is paused" in refused(root, "campaign",
                                                                    "pause", "promo")
    assert "promo · scheduled" in ok(root, "campaign", "resume", "promo")
    assert "promo · stopped" in ok(root, "campaign", "stop", "promo")
    assert "promo · archived" in ok(root, "campaign", "archive", "promo")
    assert "duplicate it to change it" in refused(root, "campaign", "update", "promo",
                                                  str(path))

    assert "created as a draft from 'promo'" in ok(root, "campaign", "duplicate", "promo",
                                                   "promo-2")
    copy = ok_json(root, "campaign", "show", "promo-2")
    assert (copy["status"], copy["draft"]["name"], copy["problems"]) == ("draft", "promo-2", [])
    listed = {c["name"]: c for c in ok_json(root, "campaign", "list")}
    assert {n: (c["status"], c["latest_version"]) for n, c in listed.items()} == {
        "promo": ("archived", 1), "promo-2": ("draft", None)}
    assert "campaign 'promo-2' deleted" in ok(root, "campaign", "delete", "promo-2")
    assert "no campaign 'promo-2'" in refused(root, "campaign", "show", "promo-2")

    history = ok_json(root, "campaign", "history", "promo")
    assert [(e["actor"], e["action"]) for e in history] == [
        (ME, "create"), (ME, "publish"), (ME, "pause"), (ME, "resume"), (ME, "stop"),
        (ME, "archive")]
    assert history[1]["detail"] == {"version": 1}
    assert f"{ME}  archive" in ok(root, "campaign", "history", "promo")


def test_schedule_name_reads_the_latest_version_else_the_draft(h: Harness) -> None:
    root = h.ws.root
    ok(root, "campaign", "create", str(write(h, "weekly", MAIL, schedule=WEEKLY,
                                             timezone="Europe/Paris")))
    after = ("--after", "2027-03-22T00:00", "--count", "3")
    assert ok(root, "campaign", "schedule", "weekly", *after).splitlines() == [
        "2027-03-22T09:00:00+01:00", "2027-03-25T09:00:00+01:00", "2027-03-29T09:00:00+02:00"]
    ok(root, "campaign", "publish", "weekly")
    daily = write(h, "weekly", MAIL, schedule={"daily": {"at": "07:00"}},
                  timezone="Europe/Paris")
    ok(root, "campaign", "update", "weekly", str(daily))
    # the version published, not the new draft
    assert json.loads(ok(root, "campaign", "schedule", "weekly", *after, "--json")) == {
        "starts": ["2027-03-22T09:00:00+01:00", "2027-03-25T09:00:00+01:00",
                   "2027-03-29T09:00:00+02:00"]}
    assert "no such file, and no campaign of that name" in refused(
        root, "campaign", "schedule", "nothing-here")


def test_a_test_run_of_the_draft_counts_as_overture_run_test(h: Harness) -> None:
    root = h.ws.root
    path = write(h, "split", MAIL + """
- {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
- {id: halves, type: split, inputs: [fr], subsets: [{id: two, limit: {count: 2}}],
   complement: true}
""")
    expected = json.loads(ok(root, "run", str(path), "--test", "--json"))
    ok(root, "campaign", "create", str(path))
    result = ok_json(root, "campaign", "test", "split")
    assert result["mode"] == "test" and result["status"] == "done"
    assert result["run"] != expected["run"]
    assert {k: v for k, v in result.items() if k not in ("run", "clock")} == \
        {k: v for k, v in expected.items() if k not in ("run", "clock")}
    assert result["activities"]["mail"]["ports"] == {"out": len(EMAILABLE)}
    assert outbox(h) == []  # a test run sends nothing
    assert "Run " in ok(root, "campaign", "test", "split")


def test_publishing_without_schedule_starts_a_run_that_waits_for_confirmation(
        h: Harness) -> None:
    root = h.ws.root
    ok(root, "campaign", "create", str(write(h, "once", MAIL)))
    published = ok_json(root, "campaign", "publish", "once")
    assert published["status"] == "live"
    [run] = published["runs"]
    assert run["status"] == "waiting" and run["activities"]["mail"]["status"] == "waiting"
    assert outbox(h) == []
    tasks = ok_json(root, "runs", "tasks")
    assert [(t["run"], t["activity"], t["kind"]) for t in tasks] == [
        (run["run"], "mail", "confirmation")]
    assert f"overture runs confirm {run['run']} mail" in ok(root, "runs", "tasks")

    confirmed = ok_json(root, "runs", "confirm", run["run"], "mail")
    assert confirmed["status"] == "done"
    assert confirmed["activities"]["mail"]["ports"] == {"out": len(EMAILABLE)}
    assert len(outbox(h)) == len(EMAILABLE)
    assert ok_json(root, "campaign", "show", "once")["status"] == "completed"
    assert ok_json(root, "runs", "tasks") == []
    assert f"cannot confirm run {run['run']}: it is done" in refused(
        root, "runs", "confirm", run["run"], "mail")


def test_breakpoints_pause_stop_resume_restart(h: Harness) -> None:
    root = h.ws.root
    ok(root, "campaign", "create", str(write(h, "steps", MAIL)))
    first = ok_json(root, "campaign", "test", "steps", "--breakpoint", "mail")
    run = first["run"]
    assert first["status"] == "waiting" and first["activities"]["all"]["status"] == "done"
    assert [(t["activity"], t["kind"]) for t in ok_json(root, "runs", "tasks")] == [
        ("mail", "breakpoint")]
    assert ok_json(root, "runs", "pause", run)["status"] == "paused"
    assert ok_json(root, "runs", "resume", run)["status"] == "waiting"  # the breakpoint holds
    done = ok_json(root, "runs", "continue", run, "mail")
    assert done["status"] == "done" and done["activities"]["mail"]["ports"] == {
        "out": len(EMAILABLE)}

    second = ok_json(root, "campaign", "test", "steps", "--breakpoint", "mail")
    assert ok_json(root, "runs", "stop", second["run"])["status"] == "stopped"
    assert "was stopped: it does not resume" in refused(root, "runs", "resume", second["run"])
    again = ok_json(root, "runs", "restart", second["run"])
    assert again["run"] not in (run, second["run"]) and again["status"] == "done"
    assert "cannot pause run" in refused(root, "runs", "pause", again["run"])


def test_signals_start_runs_at_most_once_per_interval(h: Harness) -> None:
    root = h.ws.root
    path = write(h, "ping", "- {id: all, type: build_audience}\n- {id: fin, type: end, "
                            "inputs: [all]}", schedule={"signal": {"min_interval": "1h"}})
    ok(root, "campaign", "create", str(path))
    assert "is not published" in refused(root, "campaign", "signal", "ping")
    assert ok_json(root, "campaign", "publish", "ping")["runs"] == []
    result = ok_json(root, "campaign", "signal", "ping")
    assert result["mode"] == "live" and result["status"] == "done"
    assert result["activities"]["all"]["ports"] == {"out": 12}
    assert "retry in" in refused(root, "campaign", "signal", "ping")


def test_errors_are_messages(h: Harness) -> None:
    root = h.ws.root
    assert refused(root, "campaign", "publish", "ghost") == "error: no campaign 'ghost'"
    assert refused(root, "runs", "confirm", "nope", "mail").startswith("error: ")
    other = h.root / "other.yaml"
    other.write_text(yaml.safe_dump({"name": "other", "activities": []}), encoding="utf-8")
    ok(root, "campaign", "create", str(write(h, "one", MAIL)))
    assert "the document's name must stay 'one'" in refused(root, "campaign", "update", "one",
                                                            str(other))
    nameless = h.root / "nameless.yaml"
    nameless.write_text("activities: []\n", encoding="utf-8")
    assert "the document needs a `name`" in refused(root, "campaign", "create", str(nameless))


def test_a_file_outside_campaigns_keeps_its_relative_content_paths(h: Harness) -> None:
    root = h.ws.root
    (h.root / "hello.html").write_text("<p>Hello {{ first_name }}</p>", encoding="utf-8")
    path = h.root / "away.yaml"  # not in the workspace's campaigns/ folder
    path.write_text(campaign(MAIL.replace('"<p>Hello {{ first_name }}</p>"',
                                          "{file: hello.html}"), name="away"),
                    encoding="utf-8")
    ok(root, "campaign", "create", str(path))
    draft = ok_json(root, "campaign", "show", "away")["draft"]
    assert draft["activities"][1]["html"] == {"file": str((h.root / "hello.html").resolve())}
    result = ok_json(root, "campaign", "test", "away")
    assert result["activities"]["mail"]["ports"] == {"out": len(EMAILABLE)}


def test_yaml_dates_are_stored_as_iso_dates(h: Harness) -> None:
    root = h.ws.root
    path = write(h, "dated", MAIL, schedule={**WEEKLY, "start": date(2027, 3, 24)})
    assert "start: 2027-03-24\n" in path.read_text()  # a YAML date, not a string
    assert json.loads(ok(root, "run", str(path), "--test", "--json"))["status"] == "done"
    ok(root, "campaign", "create", str(path))
    assert ok_json(root, "campaign", "show", "dated")["draft"]["schedule"]["start"] \
        == "2027-03-24"
    assert ok(root, "campaign", "schedule", "dated", "--after", "2027-03-01T00:00Z",
              "--count", "1").splitlines() == ["2027-03-25T09:00:00+00:00"]
