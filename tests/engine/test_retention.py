"""Retention: prune drops the work tables of finished runs only; unfinished runs resume."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.kit import CLOCK, Harness, campaign, where
from overture.data import audiences
from overture.engine.api import resume_run, run_campaign_file
from overture.engine.retention import prune
from overture.engine.runner import RunError

DOC = """
- {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
- {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
- {id: both, type: combine, operation: intersection, inputs: [fr, gold], complement: true}
- {id: tiers, type: split, inputs: [both], subsets: [{id: one, limit: {count: 1}}],
   complement: true}
"""
FR = where(lambda r: r["country"] == "FR")
GOLD = where(lambda r: r["loyalty_tier"] == "gold")


class Crash(BaseException):
    pass


def _work_tables(h: Harness, run_id: str) -> set[str]:
    prefix = "ovw_" + re.sub(r"[^a-z0-9]", "", run_id.lower())[:16] + "_"
    return {t for t in h.ws.data.list_tables(include_internal=True) if t.startswith(prefix)}


def _crashed_run(h: Harness) -> str:
    def observer(activity: str, status: str, _: Any) -> None:
        if activity == "both" and status == "running":
            raise Crash
    with pytest.raises(Crash):
        run_campaign_file(h.ws, h.write(campaign(DOC, name="crashed")), clock=CLOCK,
                          observer=observer)
    return h.ws.control.list_runs("crashed")[0].id


def test_prune_drops_finished_runs_tables_and_keeps_unfinished_ones(fresh: Harness) -> None:
    done = fresh.run(DOC, name="done")
    failed = fresh.run("""
        - {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
        - {id: gone, type: read_audience, audience: missing}
    """, name="failed")
    assert failed["status"] == "failed"
    crashed = _crashed_run(fresh)
    plane = fresh.ws.data
    customers = plane.table("customers")
    audiences.save(plane, "kept", "customers", customers.select("customer_id"))
    user_tables = plane.list_tables()

    tables = {run: _work_tables(fresh, run) for run in (done["run"], failed["run"], crashed)}
    # done: fr, gold, both.out, both.complement, tiers.one, tiers.complement
    assert len(tables[done["run"]]) == 6
    assert len(tables[failed["run"]]) == 1  # fr
    assert len(tables[crashed]) == 2  # fr, gold

    now = datetime.now(UTC)
    assert prune(fresh.ws, timedelta(days=5), now=now) == []  # nothing is 5 days old
    would = prune(fresh.ws, timedelta(days=5), now=now + timedelta(days=6), dry_run=True)
    assert would == [(done["run"], 6), (failed["run"], 1)]
    assert _work_tables(fresh, done["run"]) == tables[done["run"]]  # a dry run drops nothing

    pruned = prune(fresh.ws, timedelta(days=5), now=now + timedelta(days=6))
    assert pruned == [(done["run"], 6), (failed["run"], 1)]
    assert _work_tables(fresh, done["run"]) == set()
    assert _work_tables(fresh, failed["run"]) == set()
    assert _work_tables(fresh, crashed) == tables[crashed]
    assert fresh.ws.control.get_run(done["run"]).pruned_at is not None
    assert fresh.ws.control.get_run(crashed).pruned_at is None
    # user tables and saved audiences are not work tables
    assert plane.list_tables() == user_tables
    assert audiences.lookup(plane, "kept") is not None
    assert plane.count(plane.table_any(audiences.lookup(plane, "kept").table_name)) == 12

    # the unfinished run still resumes, from its kept tables, to the full result
    resumed = resume_run(fresh.ws, crashed)
    assert resumed["status"] == "done"
    fresh.check(resumed, "both", "out", FR & GOLD)
    fresh.check(resumed, "both", "complement", (FR | GOLD) - (FR & GOLD))
    fresh.check(resumed, "tiers", "one", {1})
    assert {a: e["ports"] for a, e in resumed["activities"].items()} == \
        {a: e["ports"] for a, e in done["activities"].items()}

    # a pruned run keeps its record and counts but cannot resume
    with pytest.raises(RunError, match="was pruned"):
        resume_run(fresh.ws, failed["run"])
    # pruning again takes only the run finished since
    assert prune(fresh.ws, timedelta(days=5), now=now + timedelta(days=6)) == [(crashed, 6)]
