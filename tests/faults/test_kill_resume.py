"""kill -9 at any point of a run, then `overture run --resume`: the same result as a run
that was never interrupted, port by port and row by row.

The first tests kill the process at chosen checkpoints (OVERTURE_FAULT); the slow one
kills a run from outside, at whatever point it has reached, on a 200k-customer data set.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.kit import CLOCK, OVERTURE, Harness, campaign, cli, cli_json
from overture.cli.main import app
from overture.data.workspace import Workspace
from overture.engine.api import run_campaign_file
from overture.store.repository import ControlStore

pytestmark = pytest.mark.xdist_group("faults")
REPO = Path(__file__).resolve().parents[2]
CLOCK_ARG = CLOCK.isoformat()

DOC = """
- {id: leads, type: load_file, path: leads.csv}
- {id: matched, type: reconcile, inputs: [leads], match: {email: email}, keep_unmatched: true}
- {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
- {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
- {id: both, type: combine, operation: union, inputs: [fr, gold, matched]}
- {id: dedup, type: deduplicate, inputs: [both], keys: [email], normalize: lower_trim,
   complement: true}
- id: more
  type: enrich
  inputs: [dedup]
  attributes: [store.region]
  aggregates: [{name: spent, link: purchases, fn: sum, field: amount}]
- id: tiers
  type: split
  inputs: [more]
  subsets:
    - {id: big, rule: {field: spent, op: gte, value: 100}}
    - {id: lucky, limit: {count: 2}, random: {seed: 4}}
  complement: true
- {id: pause, type: wait, inputs: [tiers.big], duration: 2 days}
- id: recent
  type: split
  inputs: [pause]
  subsets:
    - {id: r, rule: {exists: {link: purchases, where: {field: purchased_at, op: in_last,
                                                         value: 2 days}}}}
  complement: true
- {id: check, type: test, inputs: [tiers.lucky], conditions: [{id: two, count: {op: eq, value: 2}}]}
- {id: mail, type: email, inputs: [recent.complement], subject: hi, html: "<p>x</p>"}
- {id: never, type: alert, inputs: [check.default], title: never}
- {id: shops, type: change_dimension, inputs: [check.two], target: stores, link: store}
- {id: done, type: end, inputs: [mail]}
"""
LEADS = "email,source\nana@example.com,fair\nben@example.com,web\nhal@example.com,web\n"


def _port_rows(ws: Workspace, run_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every port's rows, sorted, by ACTIVITY.PORT; None for a port not taken."""
    out: dict[str, Any] = {}
    for activity, state in ws.control.activity_runs(run_id).items():
        for port, table in (state.tables or {}).items():
            if table is None:
                out[f"{activity}.{port}"] = None
                continue
            rows = ws.data.table_any(table).to_pyarrow().to_pylist()
            out[f"{activity}.{port}"] = sorted(tuple(r.values()) for r in rows)
    return out


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The summary and the rows of every port of a run that nothing interrupted."""
    h = Harness(tmp_path_factory.mktemp("uninterrupted"))
    (h.root / "leads.csv").write_text(LEADS)
    result = run_campaign_file(h.ws, h.write(campaign(DOC, name="crashy")), clock=CLOCK)
    assert result["status"] == "done"
    # the run must cross every kind of checkpoint the faults below hit
    assert result["activities"]["recent"]["ports"] == {"r": 1, "complement": 2}
    assert result["activities"]["never"]["status"] == "skipped"
    yield result, _port_rows(h.ws, result["run"])
    h.close()


def _killed(root: Path, path: Path, fault: str) -> str:
    """Start a run that the fault kills; the run id, found with `overture runs list`."""
    killed = cli(root, "run", str(path), "--test", "--json", "--clock", CLOCK_ARG, fault=fault)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    assert killed.stdout == ""  # killed before printing anything
    runs = cli_json(root, "runs", "list", "--json")
    assert len(runs) == 1 and runs[0]["status"] == "running"
    return str(runs[0]["run"])


def _same_as(root: Path, resumed: dict[str, Any],
             uninterrupted: tuple[dict[str, Any], dict[str, Any]]) -> None:
    expected, expected_rows = uninterrupted
    assert resumed["status"] == "done"
    assert resumed["activities"] == expected["activities"]  # every port's count
    ws = Workspace.open(root)
    try:
        assert _port_rows(ws, resumed["run"]) == expected_rows  # and every row
    finally:
        ws.close()


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    (harness.root / "leads.csv").write_text(LEADS)
    harness.close()
    return harness


def test_killed_after_an_activity_then_during_another_on_resume(
        h: Harness, uninterrupted: tuple[dict[str, Any], dict[str, Any]]) -> None:
    path = h.write(campaign(DOC, name="crashy"))
    run = _killed(h.ws.root, path, "after:dedup")
    # the resumed run is killed too, while `tiers` runs
    again = cli(h.ws.root, "run", "--resume", run, "--json", fault="during:tiers")
    assert again.returncode == -signal.SIGKILL
    resumed = cli_json(h.ws.root, "run", "--resume", run, "--json")
    assert resumed["run"] == run
    _same_as(h.ws.root, resumed, uninterrupted)


def test_killed_reading_a_file_then_right_after_a_wait(
        h: Harness, uninterrupted: tuple[dict[str, Any], dict[str, Any]]) -> None:
    path = h.write(campaign(DOC, name="crashy"))
    run = _killed(h.ws.root, path, "during:leads")
    control = ControlStore(f"sqlite:///{h.ws.root / '.overture' / 'control.db'}")
    try:
        assert control.activity_runs(run)["leads"].status == "running"
        again = cli(h.ws.root, "run", "--resume", run, "--json", fault="after:pause")
        assert again.returncode == -signal.SIGKILL
        assert control.activity_runs(run)["pause"].clock == CLOCK + timedelta(days=2)
        assert "recent" not in control.activity_runs(run)
        # `recent` runs only after this resume: its in_last rule must see the waited clock
        resumed = cli_json(h.ws.root, "run", "--resume", run, "--json")
        assert control.activity_runs(run)["recent"].clock == CLOCK + timedelta(days=2)
    finally:
        control.close()
    _same_as(h.ws.root, resumed, uninterrupted)


# ---------------------------------------------------------------- a real kill -9, from outside
HEAVY = """
- {id: everyone, type: build_audience}
- id: buyers
  type: build_audience
  rule:
    all:
      - exists: {link: purchases, where: {field: purchased_at, op: in_last, value: 365 days}}
      - {aggregate: {link: purchases, fn: sum, field: amount}, op: gte, value: 100}
- id: spend
  type: enrich
  inputs: [everyone]
  attributes: [store.region]
  aggregates:
    - {name: spent, link: purchases, fn: sum, field: amount}
    - {name: orders, link: purchases, fn: count}
  collect:
    - {name: top, link: purchases, fields: [amount], count: 2, sort: {by: amount, order: desc}}
- {id: dedup, type: deduplicate, inputs: [spend], keys: [email], normalize: lower_trim,
   keep: {method: expression, by: last_seen_at, order: desc}, complement: true}
- id: tiers
  type: split
  inputs: [dedup]
  subsets:
    - {id: vip, rule: {field: spent, op: gte, value: 500}, limit: {percent: 40},
       random: {seed: 3}}
    - {id: top, limit: {count: 20000}, sort: {by: spent, order: desc}}
    - {id: sample, limit: {percent: 10}, random: {seed: 5}}
  complement: true
- {id: both, type: combine, operation: intersection, inputs: [tiers.vip, buyers],
   complement: true}
- {id: others, type: combine, operation: exclusion, primary: everyone,
   inputs: [everyone, buyers], complement: true}
- {id: bought, type: change_dimension, inputs: [tiers.sample], target: purchases,
   link: purchases}
- {id: mail, type: email, inputs: [both], subject: hi, html: "<p>x</p>"}
- {id: texts, type: sms, inputs: [others], body: hi}
"""
TABLES = {"customers": "customer_id", "purchases": "purchase_id", "products": "product_id",
          "stores": "store_id"}


def _big_workspace(root: Path) -> Path:
    """~200k customers from examples/generate.py, loaded with `overture data load`."""
    data = root / "generated"
    subprocess.run([sys.executable, str(REPO / "examples" / "generate.py"), str(data),
                    "--customers", "200000", "--purchases-per-customer", "3"],
                   check=True, capture_output=True, timeout=300)
    ws_root = root / "ws"
    Workspace.init(ws_root).close()
    shutil.copyfile(REPO / "examples" / "schema.yaml", ws_root / "schema.yaml")
    runner = CliRunner()
    for table, key in TABLES.items():  # the command itself, in this process: no start-up cost
        loaded = runner.invoke(app, ["-w", str(ws_root), "data", "load", table,
                                     str(data / f"{table}.parquet"), "--key", key])
        assert loaded.exit_code == 0, loaded.output
    return ws_root


def _differ(ws: Workspace, left: str, right: str) -> int:
    """Rows in one table and not the other, both ways, counted by the engine."""
    a, b = ws.data.table_any(left), ws.data.table_any(right)
    return int(a.difference(b, distinct=False).count().execute()
               + b.difference(a, distinct=False).count().execute())


@pytest.mark.slow
def test_kill_9_from_outside_mid_run_then_resume(tmp_path: Path) -> None:
    ws_root = _big_workspace(tmp_path)
    path = tmp_path / "heavy.yaml"
    path.write_text(campaign(HEAVY, name="heavy"))
    control = ControlStore(f"sqlite:///{ws_root / '.overture' / 'control.db'}")
    env = {k: v for k, v in os.environ.items() if k != "OVERTURE_FAULT"}
    try:
        process = subprocess.Popen(
            [str(OVERTURE), "-w", str(ws_root), "run", str(path), "--test", "--json",
             "--clock", CLOCK_ARG], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 300  # a safety net on a loaded machine, not a race
        states: dict[str, Any] = {}
        run_id = None
        while True:  # poll the control plane until activities are done and another runs
            assert process.poll() is None, "the run ended before it could be killed: " \
                                           + process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the run never got going"
            runs = control.list_runs("heavy")
            if runs:
                run_id = runs[0].id
                states = control.activity_runs(run_id)
                statuses = [s.status for s in states.values()]
                # a few done, so the kill lands in the middle of the heavy activities
                if statuses.count("done") >= 3 and "running" in statuses:
                    break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        assert process.stdout.read() == b""
        process.stdout.close()
        process.stderr.close()
        assert run_id is not None
        # what the control plane held at the moment of the kill
        at_kill = control.activity_runs(run_id)
        done_before = {a: s.finished_at for a, s in at_kill.items() if s.status == "done"}
        running = [a for a, s in at_kill.items() if s.status == "running"]
        assert done_before and len(running) == 1
        assert control.get_run(run_id).status == "running"

        resumed = cli_json(ws_root, "run", "--resume", run_id, "--json")
        assert resumed["status"] == "done"
        after = control.activity_runs(run_id)
        for activity, finished in done_before.items():  # checkpoints were not executed again
            assert after[activity].finished_at == finished, activity
        assert after[running[0]].status == "done"
    finally:
        control.close()

    ws = Workspace.open(ws_root)
    try:
        fresh = run_campaign_file(ws, path, clock=CLOCK)
        assert fresh["status"] == "done"
        assert resumed["activities"] == fresh["activities"]  # every port's count
        assert fresh["activities"]["everyone"]["ports"] == {"out": 200_000}
        mine, theirs = ws.control.activity_runs(run_id), ws.control.activity_runs(fresh["run"])
        compared = 0
        for activity, state in theirs.items():
            for port, table in (state.tables or {}).items():
                other = (mine[activity].tables or {}).get(port)
                assert table and other, (activity, port)
                assert _differ(ws, table, other) == 0, (activity, port)  # and every row
                compared += 1
        assert compared == 16
    finally:
        ws.close()
