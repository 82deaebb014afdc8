"""Runs through HTTP: a test run of a draft counts what `overture run --test` counts,
rows behind a transition page by page, the log, tasks and breakpoints, server-sent
events, the data catalog and rules."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from overture.auth import Role
from server.conftest import Api, cli_test_run, header, username

pytestmark = pytest.mark.xdist_group("server_runs")


@pytest.fixture(scope="module")
def spring(api: Api) -> dict[str, Any]:
    """spring-sale as a draft, and a finished test run of it started by a manager."""
    api.ok("POST", "/api/campaigns", {"document": api.document("spring-sale")}, status=201,
           role=Role.MANAGER)
    started = api.ok("POST", "/api/campaigns/spring-sale/test-runs", {}, status=202,
                     role=Role.MANAGER)
    return api.wait_run(started["run"])


def ports(summary: dict[str, Any]) -> dict[str, Any]:
    return {activity: (entry["status"], entry["ports"], entry.get("excluded"))
            for activity, entry in summary["activities"].items()}


def test_test_run_counts_what_the_cli_counts(api: Api, spring: dict[str, Any]) -> None:
    assert spring["status"] == "done"
    assert spring["mode"] == "test" and spring["campaign"] == "spring-sale"
    assert spring["version"] is None  # a test run of the draft
    assert spring["started_by"] == username(Role.MANAGER)
    expected = cli_test_run(api.pristine, api.pristine / "campaigns" / "spring-sale.yaml")
    assert expected["status"] == "done"
    assert ports(spring) == ports(expected)
    # the sample data reaches the VIP mail: the comparison is not one of empty runs
    assert spring["activities"]["buyers"]["ports"]["out"] > 10
    assert spring["activities"]["vip_mail"]["ports"]["out"] > 0

    runs = api.ok("GET", "/api/runs?campaign=spring-sale", role=Role.VIEWER)["runs"]
    assert spring["run"] in [r["id"] for r in runs]
    assert all("document" not in r for r in runs)
    stored = api.ok("GET", f"/api/runs/{spring['run']}/activities")["activities"]
    assert {a["activity_id"]: a["ports"] for a in stored}["tiers"] == \
        spring["activities"]["tiers"]["ports"]
    error = api.call("GET", "/api/runs/000000000000")
    assert error.status == 404 and error.body["error"]["code"] == "not_found"


def test_port_rows_page_by_page(api: Api, spring: dict[str, Any]) -> None:
    run = spring["run"]
    total = spring["activities"]["buyers"]["ports"]["out"]
    base = f"/api/runs/{run}/activities/buyers/ports/out/rows"
    whole = api.ok("GET", f"{base}?limit=500", role=Role.VIEWER)
    assert whole["total"] == total == len(whole["rows"])
    assert "customer_id" in whole["columns"]
    ids = [row["customer_id"] for row in whole["rows"]]
    assert ids == sorted(ids) and len(set(ids)) == total

    paged: list[int] = []
    offset = 0
    while True:
        page = api.ok("GET", f"{base}?offset={offset}&limit=7")
        assert page["offset"] == offset and page["limit"] == 7 and page["total"] == total
        assert len(page["rows"]) <= 7
        if not page["rows"]:
            break
        paged.extend(row["customer_id"] for row in page["rows"])
        offset += 7
    assert paged == ids
    assert api.ok("GET", f"{base}?offset={total + 100}")["rows"] == []

    vip = api.ok("GET", f"/api/runs/{run}/activities/tiers/ports/vip/rows")
    assert vip["total"] == spring["activities"]["tiers"]["ports"]["vip"] == len(vip["rows"])
    assert set(r["customer_id"] for r in vip["rows"]) <= set(ids)

    for bad in (f"/api/runs/{run}/activities/buyers/ports/nope/rows",
                f"/api/runs/{run}/activities/nobody/ports/out/rows",
                f"/api/runs/{run}/activities/too_small/ports/out/rows"):  # skipped
        answer = api.call("GET", bad)
        assert answer.status == 404, (bad, answer.body)
        assert answer.body["error"]["code"] == "not_found"
    for query in ("limit=0", "limit=501", "offset=-1"):
        answer = api.call("GET", f"{base}?{query}")
        assert answer.status == 422 and answer.body["error"]["code"] == "invalid_request"


def test_run_log(api: Api, spring: dict[str, Any]) -> None:
    log = api.ok("GET", f"/api/runs/{spring['run']}/log", role=Role.VIEWER)["log"]
    assert log, "a run logs at least its start"
    ids = [entry["id"] for entry in log]
    assert ids == sorted(ids)
    assert all(entry["run_id"] == spring["run"] for entry in log)
    assert "test run started" in log[0]["message"]
    later = api.ok("GET", f"/api/runs/{spring['run']}/log?after={ids[0]}")["log"]
    assert [entry["id"] for entry in later] == ids[1:]


def test_breakpoint_task_and_live_events(api: Api, spring: dict[str, Any]) -> None:
    run = api.ok("POST", "/api/campaigns/spring-sale/test-runs", {"breakpoints": ["tiers"]},
                 status=202, role=Role.MANAGER)["run"]
    waiting = api.wait_run(run, "waiting")
    assert waiting["breakpoints"] == ["tiers"]
    assert waiting["activities"]["tiers"]["status"] == "waiting"
    assert waiting["activities"]["tiers"]["waiting_for"] == "breakpoint"

    tasks = api.ok("GET", f"/api/runs/{run}/tasks", role=Role.VIEWER)["tasks"]
    assert [(t["run"], t["activity"], t["kind"]) for t in tasks] == [(run, "tiers",
                                                                       "breakpoint")]
    every = api.ok("GET", "/api/tasks", role=Role.VIEWER)["tasks"]
    assert (run, "tiers") in {(t["run"], t["activity"]) for t in every}
    assert api.ok("GET", f"/api/runs/{spring['run']}/tasks")["tasks"] == []

    # the live stream sends the waiting state, then every change until the run is done
    request = urllib.request.Request(f"{api.server.url}/api/runs/{run}/events", headers={
        "Authorization": f"Bearer {api.tokens[Role.VIEWER]}"})
    with urllib.request.urlopen(request, timeout=60) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        first = _read_event(stream)
        assert first is not None and first["status"] == "waiting"
        api.ok("POST", f"/api/runs/{run}/activities/tiers/continue", role=Role.MANAGER)
        events: list[dict[str, Any]] = [first]
        while True:
            event = _read_event(stream)
            if event is None:
                break
            events.append(event)
    assert events[-1]["status"] == "done"
    assert events[-1]["activities"]["tiers"]["ports"] == \
        spring["activities"]["tiers"]["ports"]
    assert api.ok("GET", f"/api/runs/{run}/tasks")["tasks"] == []

    # a finished run takes no breakpoint and no continue
    for method, path, body in (("PUT", f"/api/runs/{run}/breakpoints", {"activities": []}),
                               ("POST", f"/api/runs/{run}/activities/tiers/continue", None),
                               ("POST", f"/api/runs/{run}/stop", None)):
        answer = api.call(method, path, body, role=Role.APPROVER)
        assert answer.status == 409, (path, answer.body)
        assert "done" in answer.body["error"]["message"]


def _read_event(stream: Any) -> dict[str, Any] | None:
    """The data of the next `run` event of a server-sent events stream; None at its end."""
    name, data = None, None
    while True:
        line = stream.readline()
        if not line:
            return None
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            name = text[len("event: "):]
        elif text.startswith("data: "):
            data = json.loads(text[len("data: "):])
        elif text == "" and data is not None:
            assert name == "run"
            return dict(data)


def test_events_once(api: Api, spring: dict[str, Any]) -> None:
    status, text, headers = api.sse(f"/api/runs/{spring['run']}/events?once=true",
                                    role=Role.VIEWER)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert text.startswith("event: run\ndata: ")
    assert text.count("event: run") == 1
    data = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
    assert data == api.server.run_status(spring["run"])
    assert data["status"] == "done"
    missing = api.call("GET", "/api/runs/000000000000/events?once=true")
    assert missing.status == 404


def test_pause_stop_restart_a_run(api: Api, spring: dict[str, Any]) -> None:
    run = api.ok("POST", "/api/campaigns/spring-sale/test-runs", {"breakpoints": ["buyers"]},
                 status=202, role=Role.MANAGER)["run"]
    api.wait_run(run, "waiting")
    assert api.ok("PUT", f"/api/runs/{run}/breakpoints", {"activities": ["buyers", "tiers"]},
                  role=Role.MANAGER)["breakpoints"] == ["buyers", "tiers"]
    answer = api.call("PUT", f"/api/runs/{run}/breakpoints", {"activities": ["nowhere"]},
                      role=Role.MANAGER)
    assert answer.status == 422 and answer.body["error"]["code"] == "invalid"
    paused = api.ok("POST", f"/api/runs/{run}/pause", role=Role.APPROVER)
    assert paused["status"] == "paused"
    stopped = api.ok("POST", f"/api/runs/{run}/stop", role=Role.APPROVER)
    assert stopped["status"] == "stopped"
    answer = api.call("POST", f"/api/runs/{run}/resume", role=Role.APPROVER)
    assert answer.status == 409 and answer.body["error"]["code"] == "conflict"

    restarted = api.ok("POST", f"/api/runs/{run}/restart", role=Role.APPROVER)
    assert restarted["run"] != run and restarted["trigger"] == "restart"
    assert restarted["started_by"] == username(Role.APPROVER)
    done = api.wait_run(restarted["run"], "done", "waiting")
    assert done["mode"] == "test"


def test_data_catalog(api: Api) -> None:
    catalog = api.ok("GET", "/api/data/tables", role=Role.VIEWER)
    assert catalog["target"] == "customers"
    tables = {t["name"]: t for t in catalog["tables"]}
    assert {"customers", "purchases"} <= set(tables)
    assert tables["customers"]["target"] is True and tables["customers"]["key"] == "customer_id"
    assert "purchases" in tables["customers"]["links"]
    columns = api.ok("GET", "/api/data/tables/customers/columns", role=Role.VIEWER)
    names = {c["name"]: c["type"] for c in columns["columns"]}
    assert {"customer_id", "email", "country", "loyalty_tier"} <= set(names)
    assert len(names) == tables["customers"]["columns"]
    assert all(isinstance(t, str) and t for t in names.values())
    assert any(link["name"] == "purchases" for link in columns["links"])
    missing = api.call("GET", "/api/data/tables/no_such_table/columns")
    assert missing.status == 404 and missing.body["error"]["code"] == "not_found"
    assert api.ok("GET", "/api/audiences")["audiences"] == []
    assert api.call("GET", "/api/audiences/vip_buyers").status == 404


def test_rules_count_and_sql(api: Api, spring: dict[str, Any]) -> None:
    document = api.document("spring-sale")
    counted = api.ok("POST", "/api/rules/count", {"document": document, "activity": "buyers"},
                     role=Role.VIEWER)
    assert counted["count"] == spring["activities"]["buyers"]["ports"]["out"]
    assert counted["over_whole_dimension"] is False
    sql = api.ok("POST", "/api/rules/sql", {"document": document, "activity": "buyers"},
                 role=Role.VIEWER)
    assert "SELECT" in sql["sql"].upper()
    assert "country" in sql["sql"]
    subset = api.ok("POST", "/api/rules/count", {"document": document,
                                                 "activity": "tiers.vip"})
    assert subset["over_whole_dimension"] is True and subset["count"] >= 0
    for activity, status in (("nowhere", 400), ("dedup", 400), ("tiers.nope", 400)):
        answer = api.call("POST", "/api/rules/count", {"document": document,
                                                       "activity": activity})
        assert answer.status == status, (activity, answer.body)
        assert set(answer.body) == {"error"}
    assert header(api.call("POST", "/api/rules/sql", {}), "Content-Type") == \
        "application/json"
