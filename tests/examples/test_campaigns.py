"""The sample campaigns: valid, together they use every targeting and flow activity and
every rule form the docs promise, and the demo runs them all on generated data."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from overture.definition.validation import validate
from support.server import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CAMPAIGNS = sorted((EXAMPLES / "campaigns").glob("*.yaml"))
CAMPAIGN_NAMES = [yaml.safe_load(p.read_text(encoding="utf-8"))["name"] for p in CAMPAIGNS]

ACTIVITY_TYPES = {
    "build_audience", "read_audience", "load_file", "reconcile", "incremental_query",
    "combine", "deduplicate", "enrich", "split", "change_dimension", "save_audience", "fork",
    "and_join", "test", "alert", "wait", "end", "email",
}
OPERATORS = {"in_last", "between", "starts_with"}
RULE_KINDS = {"exists", "aggregate", "not", "any", "filter"}


def documents() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in CAMPAIGNS]


def walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_there_are_at_least_three_campaigns() -> None:
    assert len(CAMPAIGNS) >= 3


@pytest.mark.parametrize("path", CAMPAIGNS, ids=lambda p: p.stem)
def test_each_campaign_is_valid_offline(path: Path) -> None:
    result = validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert result.ok, [str(p) for p in result.problems]


def test_together_they_use_every_activity() -> None:
    used = {a["type"] for doc in documents() for a in doc["activities"]}
    assert used >= ACTIVITY_TYPES, ACTIVITY_TYPES - used
    operations = {a.get("operation") for doc in documents() for a in doc["activities"]}
    assert {"union", "intersection", "exclusion"} <= operations


def test_together_they_use_every_split_setting() -> None:
    subsets = [s for doc in documents() for a in doc["activities"] if a["type"] == "split"
               for s in a["subsets"]]
    assert any("count" in (s.get("limit") or {}) for s in subsets)
    assert any("percent" in (s.get("limit") or {}) for s in subsets)
    assert any("sort" in s for s in subsets)
    assert any("random" in s for s in subsets)
    assert any(a.get("complement") for doc in documents() for a in doc["activities"]
               if a["type"] == "split")


def test_together_they_use_every_rule_form() -> None:
    nodes = [n for doc in documents() for n in walk(doc) if isinstance(n, dict)]
    assert {n.get("op") for n in nodes} >= OPERATORS
    kinds = {k for n in nodes for k in n if k in RULE_KINDS}
    assert kinds == RULE_KINDS
    fields = {n["field"] for n in nodes if isinstance(n.get("field"), str) and "op" in n}
    assert "store.region" in fields  # a field through a one-cardinality link


def test_saved_filters_and_files_exist() -> None:
    nodes = [n for doc in documents() for n in walk(doc) if isinstance(n, dict)]
    for name in {n["filter"] for n in nodes if "filter" in n}:
        assert (EXAMPLES / "filters" / f"{name}.yaml").exists()
    for node in nodes:
        for value in node.values():
            if isinstance(value, dict) and set(value) == {"file"}:
                assert (EXAMPLES / "campaigns" / value["file"]).exists()
        if node.get("type") == "load_file":
            assert (EXAMPLES / "campaigns" / node["path"]).exists()


def test_the_trade_fair_file_has_bad_and_unknown_lines() -> None:
    lines = (EXAMPLES / "campaigns" / "files" / "trade-fair-visitors.csv").read_text(
        encoding="utf-8").splitlines()
    assert lines[0] == "email,name,scanned_on,interest"
    assert any(line.count(",") != 3 for line in lines[1:])
    assert any("fair-visitor.example" in line for line in lines)


def ports(output: str, activity: str) -> str:
    match = re.search(rf"│ {activity}\s+│[^│]*│([^│]*)│", output)
    assert match, f"no row for {activity}"
    return match.group(1).strip()


@pytest.mark.slow
@pytest.mark.xdist_group("examples_demo")
def test_the_demo_runs_every_campaign_and_is_idempotent(tmp_path: Path) -> None:
    command = [sys.executable, str(EXAMPLES / "demo.py"), "--dir", str(tmp_path / "demo"),
               "--customers", "2000"]
    first = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    output = first.stdout
    assert first.returncode == 0, output + first.stderr
    assert "schema.yaml matches the loaded tables" in output
    for campaign in ("spring-sale", "vip-buyers", "trade-fair"):
        assert re.search(rf"Run \w+ · {campaign} · test · done", output), campaign
    assert "audience vip_buyers saved" in output
    # the trade-fair file: 3 unreadable lines, 4 addresses matching no customer or several
    assert ports(output, "visitors").endswith("rejects: 3")
    assert ports(output, "matched").endswith("unmatched: 4")
    assert not ports(output, "not_vip").endswith("complement: 0")
    assert "What to try next" in output

    again = subprocess.run([*command, "--setup-only"], capture_output=True, text=True,
                           check=False, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reusing" in again.stdout
    assert "tables already loaded" in again.stdout
    assert "schema.yaml matches the loaded tables" in again.stdout

    # `make demo` ends by serving: the sample campaigns are drafts behind the API
    port = free_port()
    server = subprocess.Popen([*command, "--setup-only", "--serve", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # the demo prints a fresh admin password before serving: the web app's login
        lines: list[str] = []
        assert server.stdout is not None
        while not (lines and lines[-1].startswith("Open http://")):
            line = server.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        password = lines[lines.index("password for admin:\n") + 1].strip()
        client = ServerProcess(tmp_path / "demo", port=port)
        client.process = server  # type: ignore[assignment]
        client._wait_ready()
        login = client.call("POST", "/api/auth/login",
                            {"username": "admin", "password": password})
        assert login.status == 200, login.body
        assert login.body["user"]["role"] == "admin"
        names = [c["name"] for c in client.call("GET", "/api/campaigns").body["campaigns"]]
        assert sorted(names) == sorted(CAMPAIGN_NAMES)
        assert all(c["status"] == "draft"
                   for c in client.call("GET", "/api/campaigns").body["campaigns"])
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert "stopped cleanly" in output
