"""The command line while `overture serve` holds the workspace: commands go through the
API (found in .overture/server.json, or named by OVERTURE_URL and OVERTURE_TOKEN) and
print what they print locally; commands that need the data plane say the server holds
it, in one line.

One real server per module, on a retail workspace with a frozen file clock, so a test
run through the server counts what `overture run --test --clock` counted on the same
workspace before the server started.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from support.retail import retail_workspace
from support.server import OVERTURE, ServerProcess, free_port

pytestmark = pytest.mark.xdist_group("cli-server")

CUSTOMERS = 300
#: the instant the sample campaigns are written for (examples/campaigns/*.yaml)
CLOCK_AT = datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
EVERYONE = [{"id": "all", "type": "build_audience"},
            {"id": "fin", "type": "end", "inputs": ["all"]}]


def overture(*args: str, cwd: Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    """`overture ARGS...` in its own process, with only the OVERTURE_* variables given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OVERTURE_")}
    done = subprocess.run([OVERTURE, *args], cwd=cwd, capture_output=True, text=True,
                          env={**base, "COLUMNS": "200", **(env or {})}, timeout=300,
                          check=False)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


@dataclass
class Shop:
    root: Path
    server: ServerProcess
    #: `overture run campaigns/vip-buyers.yaml --test --json` before the server started
    local_vip: dict[str, Any]

    def cli(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = overture("-w", str(self.root), *args, cwd=self.root)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def write(self, name: str, document: dict[str, Any]) -> Path:
        path = self.root / "campaigns" / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    root = retail_workspace(tmp_path_factory.mktemp("cli-server") / "shop", CUSTOMERS)
    local = overture("-w", str(root), "run", "campaigns/vip-buyers.yaml", "--test", "--json",
                     "--clock", CLOCK_AT.isoformat(), cwd=root)
    assert local.returncode == 0, local.stderr
    server = ServerProcess(root, clock_at=CLOCK_AT).start()
    try:
        yield Shop(root, server, json.loads(local.stdout))
    finally:
        code = server.stop()
        assert code == 0, server.log_path.read_text(errors="replace")[-3000:]


def test_create_list_publish_show_and_signal_through_the_server(shop: Shop) -> None:
    path = shop.write("ping", {"name": "ping", "schedule": {"signal": {"min_interval": "1h"}},
                               "activities": EVERYONE})
    assert "created as a draft; the draft is valid" in shop.cli("campaign", "create",
                                                                str(path)).stdout
    listed = {c["name"]: c for c in shop.json("campaign", "list")}
    assert (listed["ping"]["status"], listed["ping"]["latest_version"]) == ("draft", None)
    # the server's answer is what the CLI printed
    assert shop.server.call("GET", "/api/campaigns/ping").body["status"] == "draft"

    published = shop.json("campaign", "publish", "ping")
    assert (published["published"], published["status"], published["runs"]) == (1, "live", [])
    assert "ping · live · version 1" in shop.cli("campaign", "show", "ping").stdout

    result = shop.json("campaign", "signal", "ping")
    assert (result["mode"], result["status"]) == ("live", "done")
    assert result["activities"]["all"]["ports"] == {"out": CUSTOMERS}
    again = shop.cli("campaign", "signal", "ping", code=1)
    assert "was signalled less than 1:00:00 ago: retry in" in again.stderr

    history = shop.json("campaign", "history", "ping")
    assert [(e["actor"], e["action"]) for e in history] == [("admin", "create"),
                                                            ("admin", "publish")]
    refused = shop.cli("campaign", "delete", "ping", code=1)
    assert refused.stderr.strip() == ("error: campaign 'ping' is live: only drafts (never "
                                      "published) can be deleted; archive it instead")


def test_run_test_json_through_the_server_equals_the_local_run(shop: Shop) -> None:
    result = shop.json("run", "campaigns/vip-buyers.yaml", "--test")
    assert result["run"] != shop.local_vip["run"]
    assert {k: v for k, v in result.items() if k != "run"} == \
        {k: v for k, v in shop.local_vip.items() if k != "run"}
    # the file became the campaign's draft, once
    again = shop.json("run", "campaigns/vip-buyers.yaml", "--test")
    assert again["activities"] == result["activities"]
    shown = shop.json("campaign", "show", "vip-buyers")
    assert (shown["status"], shown["problems"]) == ("draft", [])
    assert [e["action"] for e in shown["history"]] == ["create"]
    # and a test run of the stored draft counts the same
    tested = shop.json("campaign", "test", "vip-buyers")
    assert tested["activities"] == result["activities"]

    listed = shop.json("runs", "list", "--campaign", "vip-buyers")
    assert [r["run"] for r in listed] == [tested["run"], again["run"], result["run"],
                                          shop.local_vip["run"]]
    assert {r["mode"] for r in listed} == {"test"}
    shown_run = shop.json("runs", "show", result["run"])
    assert shown_run["activities"] == shop.server.run_status(result["run"])["activities"]
    assert {"from": "vips", "port": "out", "to": "branches",
            "count": result["activities"]["vips"]["ports"]["out"]} in shown_run["transitions"]
    log = shop.json("runs", "log", result["run"])
    assert log[0]["message"].startswith("test run started")


def test_publishing_starts_a_run_that_is_confirmed_through_the_server(shop: Shop) -> None:
    document = yaml.safe_load((shop.root / "campaigns" / "newsletter.yaml").read_text())
    document["name"] = "newsletter-live"
    shop.cli("campaign", "create", str(shop.write("newsletter-live", document)))
    published = shop.json("campaign", "publish", "newsletter-live")
    [run] = published["runs"]
    assert run["status"] == "waiting"
    assert run["activities"]["newsletter"]["status"] == "waiting"
    tasks = [t for t in shop.json("runs", "tasks") if t["run"] == run["run"]]
    assert [(t["activity"], t["kind"]) for t in tasks] == [("newsletter", "confirmation")]

    confirmed = shop.json("runs", "confirm", run["run"], "newsletter")
    assert confirmed["status"] == "done"
    counted = confirmed["activities"]["newsletter"]
    assert counted["ports"]["out"] + sum(counted["excluded"].values()) == CUSTOMERS
    assert shop.json("campaign", "show", "newsletter-live")["status"] == "completed"
    assert shop.cli("runs", "tasks").stdout.count(run["run"]) == 0


def test_commands_needing_the_data_plane_say_the_server_holds_it(shop: Shop) -> None:
    csv = shop.root / "more.csv"
    csv.write_text("customer_id,first_name\n1,Ana\n", encoding="utf-8")
    done = shop.cli("data", "load", "customers", str(csv), "--key", "customer_id", code=1)
    assert done.stderr.strip() == (f"error: the workspace is held by `overture serve` at "
                                   f"{shop.server.url}: use the API or stop the server")
    live = shop.cli("run", "campaigns/newsletter.yaml", "--live", code=1)
    assert "are started by publishing" in live.stderr
    assert "overture campaign publish newsletter" in live.stderr
    clock = shop.cli("run", "campaigns/newsletter.yaml", "--test", "--clock",
                     CLOCK_AT.isoformat(), code=1)
    assert "read the server's clock" in clock.stderr


def test_overture_url_and_token_work_from_a_folder_without_workspace(
        shop: Shop, tmp_path: Path) -> None:
    env = {"OVERTURE_URL": shop.server.url, "OVERTURE_TOKEN": shop.server.token}
    listed = overture("campaign", "list", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    names = {c["name"] for c in json.loads(listed.stdout)}
    assert names == {c["name"] for c in shop.server.call("GET", "/api/campaigns")
                     .body["campaigns"]}
    runs = overture("runs", "list", "--json", "--limit", "2", cwd=tmp_path, env=env)
    assert runs.returncode == 0 and len(json.loads(runs.stdout)) == 2

    anonymous = overture("campaign", "list", cwd=tmp_path,
                         env={"OVERTURE_URL": shop.server.url})
    assert anonymous.returncode == 1 and "set OVERTURE_TOKEN to an API token" \
        in anonymous.stderr
    url = f"http://127.0.0.1:{free_port()}"
    nobody = overture("campaign", "list", cwd=tmp_path,
                      env={"OVERTURE_URL": url, "OVERTURE_TOKEN": "x"})
    assert nobody.returncode == 1
    assert nobody.stderr.strip() == (f"error: cannot reach the Overture server at {url}: "
                                     "connection refused (is `overture serve` running there?)")
