"""`overture run` and `overture runs` through the real command line, in new processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.kit import CLOCK, Harness, campaign, cli, cli_json, where
from overture.engine.api import run_campaign_file

CLOCK_ARG = CLOCK.isoformat()
FR = where(lambda r: r["country"] == "FR")
GOLD = where(lambda r: r["loyalty_tier"] == "gold")

DOC = """
- {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
- {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
- {id: both, type: combine, operation: union, inputs: [fr, gold]}
- id: tiers
  type: split
  inputs: [both]
  subsets:
    - {id: vip, rule: {field: loyalty_tier, op: in, value: [gold, platinum]}}
    - {id: sample, limit: {count: 2}}
  complement: true
- {id: check, type: test, inputs: [tiers.vip],
   conditions: [{id: empty, count: {op: eq, value: 0}}]}
- {id: vip_mail, type: email, inputs: [check.default], subject: "Hi {{ first_name }}",
   html: "<p>Hello</p>"}
- {id: nobody, type: alert, inputs: [check.empty], title: nobody}
"""
UNION = FR | GOLD                                                    # 1 3 4 5 7 9 10 12
VIP = where(lambda r: r["loyalty_tier"] in ("gold", "platinum")) & UNION  # 1 4 5 7 9 12
SAMPLE = {3, 10}                                                     # the lowest keys left
REST = UNION - VIP - SAMPLE                                          # none
MAIL = VIP - {4, 7, 9}  # 4: no address, 9: invalid address, 7: no consent


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    harness.close()  # the commands below open the workspace in their own processes
    return harness


def test_run_json_has_the_spec_shape(h: Harness) -> None:
    path = h.write(campaign(DOC, name="spring", label="Spring"))
    result = cli_json(h.ws.root, "run", str(path), "--test", "--json", "--clock", CLOCK_ARG)
    assert set(result) == {"run", "campaign", "mode", "status", "clock", "activities"}
    assert (result["campaign"], result["mode"], result["status"]) == ("spring", "test", "done")
    assert result["clock"] == CLOCK_ARG
    assert result["activities"] == {
        "fr": {"status": "done", "ports": {"out": len(FR)}},
        "gold": {"status": "done", "ports": {"out": len(GOLD)}},
        "both": {"status": "done", "ports": {"out": len(UNION)}},
        "tiers": {"status": "done", "ports": {"vip": len(VIP), "sample": len(SAMPLE),
                                              "complement": len(REST)}},
        "check": {"status": "done", "ports": {"empty": None, "default": len(VIP)}},
        "vip_mail": {"status": "done", "ports": {"out": len(MAIL)},
                     "excluded": {"no_address": 1, "invalid_address": 1, "no_consent": 1}},
        "nobody": {"status": "skipped", "ports": None},
    }
    assert (len(UNION), len(VIP), len(MAIL)) == (8, 6, 3)
    run = result["run"]

    shown = cli_json(h.ws.root, "runs", "show", run[:6], "--json")
    assert shown["run"] == run
    assert shown["activities"] == result["activities"]
    assert shown["transitions"] == [
        {"from": "fr", "port": "out", "to": "both", "count": len(FR)},
        {"from": "gold", "port": "out", "to": "both", "count": len(GOLD)},
        {"from": "both", "port": "out", "to": "tiers", "count": len(UNION)},
        {"from": "tiers", "port": "vip", "to": "check", "count": len(VIP)},
        {"from": "check", "port": "default", "to": "vip_mail", "count": len(VIP)},
        {"from": "check", "port": "empty", "to": "nobody", "count": None},
    ]

    rows = cli_json(h.ws.root, "runs", "preview", run, "tiers.vip", "--json")
    assert {r["customer_id"] for r in rows} == VIP and len(rows) == len(VIP)

    not_taken = cli(h.ws.root, "runs", "preview", run, "check.empty", "--json")
    assert not_taken.returncode == 1
    assert "check.empty was not taken in this run" in not_taken.stderr
    listed = cli_json(h.ws.root, "runs", "list", "--json")
    assert [(r["run"], r["campaign"], r["mode"], r["status"]) for r in listed] == [
        (run, "spring", "test", "done")]


LEADS_OK = "email,points\nana@example.com,10\nlou@example.com,20\n"
LEADS_BAD = "email,points\nana@example.com,10\nlou@example.com,many\n"
FILE_DOC = """
- {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
- {id: leads, type: load_file, path: leads.csv, columns: {points: int64}, on_error: fail}
- {id: matched, type: reconcile, inputs: [leads], match: {email: email}}
- {id: both, type: combine, operation: intersection, inputs: [gold, matched]}
"""


def test_a_failed_run_resumes_once_its_cause_is_fixed(h: Harness) -> None:
    leads = h.root / "leads.csv"
    leads.write_text(LEADS_BAD)
    path = h.write(campaign(FILE_DOC, name="files"))
    failed = cli(h.ws.root, "run", str(path), "--test", "--json", "--clock", CLOCK_ARG)
    assert failed.returncode == 1, failed.stderr
    result = _json(failed.stdout)
    assert result["status"] == "failed"
    message = "1 rejected rows, first at line 3: column points: not a int64"
    assert result["error"] == f"leads: {message}"
    assert result["activities"]["leads"] == {"status": "failed", "ports": None,
                                             "error": message}
    assert result["activities"]["gold"]["status"] == "done"
    assert result["activities"]["both"] == {"status": "pending", "ports": None}

    leads.unlink()  # the file is gone: the run cannot resume yet, and says why
    missing = cli(h.ws.root, "run", "--resume", result["run"], "--json")
    assert missing.returncode == 1
    assert "leads.path: file not found" in missing.stderr
    assert "Traceback" not in missing.stderr

    leads.write_text(LEADS_OK)  # restored, and fixed
    resumed = cli_json(h.ws.root, "run", "--resume", result["run"], "--json")
    assert resumed["run"] == result["run"] and resumed["status"] == "done"
    assert "error" not in resumed
    assert resumed["activities"]["leads"] == {"status": "done",
                                              "ports": {"out": 2, "rejects": 0}}
    assert resumed["activities"]["both"] == {"status": "done", "ports": {"out": 2}}

    again = cli(h.ws.root, "run", "--resume", result["run"], "--json")
    assert again.returncode == 1
    assert f"run {result['run']} is done already: nothing to resume" in again.stderr
    assert "Traceback" not in again.stderr


def _json(text: str) -> Any:
    return json.loads(text)


class Crash(BaseException):
    pass


def test_show_an_interrupted_run_prune_then_resume_it(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    path = h.write(campaign(DOC, name="spring"))
    done = run_campaign_file(h.ws, path, clock=CLOCK)

    def crash(activity: str, status: str, _: Any) -> None:
        if activity == "tiers" and status == "running":
            raise Crash

    with pytest.raises(Crash):
        run_campaign_file(h.ws, path, clock=CLOCK, observer=crash)
    crashed = h.ws.control.list_runs()[0].id
    assert crashed != done["run"]
    h.close()

    shown = cli_json(h.ws.root, "runs", "show", crashed, "--json")
    assert shown["status"] == "running"
    assert {a: e["status"] for a, e in shown["activities"].items()} == {
        "fr": "done", "gold": "done", "both": "done", "tiers": "running", "check": "pending",
        "vip_mail": "pending", "nobody": "pending"}
    counts = {(t["from"], t["port"]): t["count"] for t in shown["transitions"]}
    assert counts[("both", "out")] == len(UNION)
    assert counts[("tiers", "vip")] is None

    pruned = cli(h.ws.root, "runs", "prune", "--older-than", "0s")
    assert pruned.returncode == 0, pruned.stderr
    # the finished run: fr, gold, both, tiers (3 ports), vip_mail; the others pass tables on
    assert f"run {done['run']}: dropped 7 work tables" in pruned.stdout
    assert crashed not in pruned.stdout
    assert "1 finished runs older than 0s pruned" in pruned.stdout
    gone = cli(h.ws.root, "runs", "preview", done["run"], "tiers.vip")
    assert gone.returncode == 1 and "was pruned" in gone.stderr

    resumed = cli_json(h.ws.root, "run", "--resume", crashed, "--json")
    assert resumed["status"] == "done"
    assert resumed["activities"] == done["activities"]


def test_a_run_executing_elsewhere_is_not_resumed_twice(h: Harness) -> None:
    """Another worker holds the run's lease: resuming it here refuses, naming that
    worker; once the lease is released, the resume goes ahead."""
    from overture.data.workspace import Workspace
    from overture.store.claims import Claims

    leads = h.root / "leads.csv"
    leads.write_text(LEADS_BAD)
    path = h.write(campaign(FILE_DOC, name="files"))
    failed = _json(cli(h.ws.root, "run", str(path), "--test", "--json", "--clock",
                       CLOCK_ARG).stdout)
    leads.write_text(LEADS_OK)
    ws = Workspace.open(h.ws.root)
    store = ws.control
    elsewhere = Claims(store._engine, store._writer, owner="far-host:4242:ab")
    assert elsewhere.take_run(failed["run"]) is None
    busy = cli(h.ws.root, "run", "--resume", failed["run"], "--json")
    assert busy.returncode == 1
    assert f"run {failed['run']} is executing on worker far-host:4242:ab" in busy.stderr
    assert "Traceback" not in busy.stderr
    assert store.get_run(failed["run"]).status.value == "failed"  # untouched
    elsewhere.release_run(failed["run"])
    ws.close()
    resumed = cli_json(h.ws.root, "run", "--resume", failed["run"], "--json")
    assert resumed["status"] == "done"
