"""The runner: the spec §5 summary, status transitions, failures, resume and checkpoints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.kit import ALL_IDS, CLOCK, Harness, campaign, where
from overture.data import audiences
from overture.engine.api import resume_run, run_campaign_file
from overture.engine.runner import RunError, run_summary

FR = where(lambda r: r["country"] == "FR")
GOLD = where(lambda r: r["loyalty_tier"] == "gold")

#: every executing activity family at least once, with a file, a wait and a branch
FLOW = """
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
    - {id: north, rule: {field: store_region, op: eq, value: north}, limit: {count: 2}}
  complement: true
- {id: pause, type: wait, inputs: [tiers.big], duration: 1 day}
- {id: check, type: test, inputs: [tiers.north],
   conditions: [{id: some, count: {op: gt, value: 0}}]}
- {id: mail, type: email, inputs: [pause], subject: hi, html: "<p>x</p>"}
- {id: nobody, type: alert, inputs: [check.default], title: nobody}
- {id: done, type: end, inputs: [mail]}
"""
LEADS = "email,source\nana@example.com,fair\nben@example.com,web\nhal@example.com,web\n"


def expected_flow() -> dict[str, dict[str, Any]]:
    """FLOW's ports, counted by hand from ROWS."""
    # leads: ana -> 1; ben -> 2 and 7 (several: unmatched); hal -> 8
    matched = {1, 8}
    union = FR | GOLD | matched                     # 1 3 4 5 7 8 9 10 12
    dedup_out = union - {3}                         # 3's email is 1's once lower_trimmed
    spent = {1: 120, 4: 5, 5: 320, 7: 70, 8: 0, 9: 10, 10: 0, 12: 115}
    big = {c for c in dedup_out if spent[c] >= 100}  # 1 5 12
    north = {4, 9}                                  # 4, 9, 10 are north and left: lowest 2
    return {
        "leads": {"out": 3, "rejects": 0},
        "matched": {"out": len(matched), "unmatched": 1},
        "fr": {"out": len(FR)}, "gold": {"out": len(GOLD)},
        "both": {"out": len(union)},
        "dedup": {"out": len(dedup_out), "complement": 1},
        "more": {"out": len(dedup_out)},
        "tiers": {"big": len(big), "north": len(north),
                  "complement": len(dedup_out - big - north)},
        "pause": {"out": len(big)},
        "check": {"some": 2, "default": None},
        "mail": {"out": 3},  # Ana, Eve and Lou all have a valid address and consent
        "nobody": None,
        "done": {},
    }


def _flow(h: Harness) -> Path:
    (h.root / "leads.csv").write_text(LEADS)
    return h.write(campaign(FLOW, name="flow"))


def test_summary_has_the_spec_shape_and_hand_counted_ports(fresh: Harness) -> None:
    result = run_campaign_file(fresh.ws, _flow(fresh), clock=CLOCK)
    assert set(result) == {"run", "campaign", "mode", "status", "clock", "activities"}
    assert (result["campaign"], result["mode"], result["status"]) == ("flow", "test", "done")
    assert result["clock"] == CLOCK.isoformat()
    assert list(result["activities"]) == [a for a in expected_flow()]  # document order
    ports = {a: e["ports"] for a, e in result["activities"].items()}
    assert ports == expected_flow()
    assert result["activities"]["nobody"] == {"status": "skipped", "ports": None}
    assert result["activities"]["mail"]["excluded"] == {}
    assert result == run_summary(fresh.ws, result["run"])  # the same, read back
    fresh.check(result, "tiers", "big", {1, 5, 12})
    fresh.check(result, "tiers", "north", {4, 9})


def test_every_activity_goes_pending_running_done(fresh: Harness) -> None:
    seen: list[tuple[str, str]] = []
    result = run_campaign_file(fresh.ws, _flow(fresh), clock=CLOCK,
                               observer=lambda a, status, ports: seen.append((a, status)))
    for activity, entry in result["activities"].items():
        mine = [status for a, status in seen if a == activity]
        assert mine == (["skipped"] if entry["status"] == "skipped" else ["running", "done"])
    states = fresh.ws.control.activity_runs(result["run"])
    for state in states.values():
        assert state.finished_at is not None
        if state.status == "done":
            assert state.started_at is not None and state.started_at <= state.finished_at
    run = fresh.ws.control.get_run(result["run"])
    assert run.status == "done" and run.finished_at is not None


class Crash(BaseException):
    """Stands for a kill: nothing in the engine catches it."""


def _crash_at(activity: str):
    def observer(activity_id: str, status: str, ports: Any) -> None:
        if activity_id == activity and status == "running":
            raise Crash
    return observer


def _ports(result: dict[str, Any]) -> dict[str, Any]:
    return {a: (e["status"], e["ports"]) for a, e in result["activities"].items()}


def test_resume_after_a_crash_runs_only_what_was_not_done(fresh: Harness) -> None:
    path = _flow(fresh)
    with pytest.raises(Crash):
        run_campaign_file(fresh.ws, path, clock=CLOCK, observer=_crash_at("tiers"))
    run = fresh.ws.control.list_runs("flow")[0]
    assert run.status == "running"
    states = fresh.ws.control.activity_runs(run.id)
    assert states["tiers"].status == "running"
    assert "pause" not in states
    summary = run_summary(fresh.ws, run.id)
    assert summary["activities"]["pause"] == {"status": "pending", "ports": None}

    executed: list[str] = []
    resumed = resume_run(fresh.ws, run.id,
                         observer=lambda a, status, _: executed.append(a)
                         if status == "running" else None)
    order = list(expected_flow())
    assert executed == [a for a in order[order.index("tiers"):] if a != "nobody"]
    assert resumed["status"] == "done"
    assert resumed["run"] == run.id
    assert {a: p for a, (_, p) in _ports(resumed).items()} == expected_flow()
    fresh.check(resumed, "tiers", "big", {1, 5, 12})
    fresh.check(resumed, "mail", "out", {1, 5, 12})


def test_a_crash_after_a_wait_resumes_with_the_waited_clock(fresh: Harness) -> None:
    doc = """
- {id: all, type: build_audience}
- {id: pause, type: wait, inputs: [all], duration: 2 days}
- {id: recent, type: split, inputs: [pause], subsets: [{id: r, rule: {exists: {link: purchases,
   where: {field: purchased_at, op: in_last, value: 2 days}}}}]}
    """
    path = fresh.write(campaign(doc, name="waiting"))
    with pytest.raises(Crash):
        run_campaign_file(fresh.ws, path, clock=CLOCK, observer=_crash_at("recent"))
    run = fresh.ws.control.list_runs("waiting")[0]
    resumed = resume_run(fresh.ws, run.id)
    # only Lou's purchase of 1 March 09:01 is in the 2 days before the jumped clock
    fresh.check(resumed, "recent", "r", {12})
    assert fresh.ws.control.activity_runs(run.id)["recent"].clock == CLOCK + timedelta(days=2)


def test_a_failed_activity_resumes_after_the_cause_is_fixed(fresh: Harness) -> None:
    path = fresh.write(campaign("""
- {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
- {id: vip, type: read_audience, audience: vips}
- {id: both, type: combine, operation: intersection, inputs: [gold, vip]}
    """, name="vip"))
    failed = run_campaign_file(fresh.ws, path, clock=CLOCK)
    assert failed["status"] == "failed"
    assert failed["error"] == "vip: saved audience 'vips' does not exist " \
                              "(save_audience in a live run, or `overture audiences save`)"
    assert failed["activities"]["gold"]["status"] == "done"
    assert failed["activities"]["vip"]["status"] == "failed"
    assert failed["activities"]["both"] == {"status": "pending", "ports": None}
    assert fresh.ws.control.get_run(failed["run"]).finished_at is not None

    plane = fresh.ws.data
    customers = plane.table("customers")
    audiences.save(plane, "vips", "customers",
                   customers.filter(customers.customer_id <= 4).select("customer_id"))
    executed: list[str] = []
    resumed = resume_run(fresh.ws, failed["run"], observer=lambda a, status, _:
                         executed.append(a) if status == "running" else None)
    assert executed == ["vip", "both"]  # gold was done: a checkpoint
    assert resumed["status"] == "done" and "error" not in resumed
    assert all("error" not in e for e in resumed["activities"].values())
    fresh.check(resumed, "both", "out", GOLD & {1, 2, 3, 4})
    assert fresh.ws.control.get_run(failed["run"]).error is None


def test_a_file_deleted_during_the_run_fails_it_and_restoring_it_resumes(fresh: Harness
                                                                         ) -> None:
    leads = fresh.root / "leads.csv"
    leads.write_text(LEADS)
    path = fresh.write(campaign("""
- {id: leads, type: load_file, path: leads.csv}
- {id: matched, type: reconcile, inputs: [leads], match: {email: email}}
    """, name="files"))

    def delete_when_loading(activity: str, status: str, _: Any) -> None:
        if activity == "leads" and status == "running":
            leads.unlink()

    failed = run_campaign_file(fresh.ws, path, clock=CLOCK, observer=delete_when_loading)
    assert failed["status"] == "failed"
    assert failed["activities"]["leads"]["error"] == f"file not found: {leads.resolve()}"
    leads.write_text(LEADS)
    resumed = resume_run(fresh.ws, failed["run"])
    assert resumed["status"] == "done"
    fresh.check(resumed, "matched", "out", {1, 8})


def test_resuming_a_done_run_is_refused(fresh: Harness) -> None:
    result = fresh.run("- {id: all, type: build_audience}")
    with pytest.raises(RunError, match="is done already: nothing to resume"):
        resume_run(fresh.ws, result["run"])
    fresh.check(run_summary(fresh.ws, result["run"]), "all", "out", ALL_IDS)


def test_variables_test_value_in_test_runs_default_in_live_runs_overrides_win(
        fresh: Harness) -> None:
    variables = {"country": {"type": "string", "default": "FR", "test_value": "ES"}}
    path = fresh.write(campaign("""
- {id: who, type: build_audience, rule: {field: country, op: eq, value: "${vars.country}"}}
    """, name="vars", variables=variables))
    test_run = run_campaign_file(fresh.ws, path, clock=CLOCK)
    fresh.check(test_run, "who", "out", where(lambda r: r["country"] == "ES"))
    live_run = run_campaign_file(fresh.ws, path, clock=CLOCK, mode="live")
    fresh.check(live_run, "who", "out", FR)
    given = run_campaign_file(fresh.ws, path, clock=CLOCK, variables={"country": "DE"})
    fresh.check(given, "who", "out", {4})
    assert fresh.ws.control.get_run(given["run"]).variables == {"country": "DE"}
