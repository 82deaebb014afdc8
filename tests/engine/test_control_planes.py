"""One run end to end, crash and resume included, on each control plane (SQLite, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.kit import ALL_IDS, CLOCK, Harness, campaign, where
from overture.engine.api import resume_run, run_campaign_file
from overture.engine.runner import run_summary

DOC = """
- {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
- {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
- {id: both, type: combine, operation: union, inputs: [fr, gold]}
- {id: dedup, type: deduplicate, inputs: [both], keys: [email], normalize: lower_trim,
   complement: true}
- {id: pause, type: wait, inputs: [dedup], duration: 1 day}
- {id: check, type: test, inputs: [pause], conditions: [{id: empty, count: {op: eq, value: 0}}]}
- {id: mail, type: email, inputs: [check.default], subject: s, text: t}
- {id: never, type: alert, inputs: [check.empty], title: never}
"""


class Crash(BaseException):
    pass


def test_a_run_on_each_control_plane(tmp_path: Path, control_url: str) -> None:
    h = Harness(tmp_path / "h", control_url=control_url)
    try:
        assert h.ws.control.url == control_url
        path = h.write(campaign(DOC, name="planes"))

        def crash(activity: str, status: str, _: Any) -> None:
            if activity == "mail" and status == "running":
                raise Crash

        with pytest.raises(Crash):
            run_campaign_file(h.ws, path, clock=CLOCK, observer=crash)
        run = h.ws.control.list_runs("planes")[0]
        assert run.status == "running"
        assert run_summary(h.ws, run.id)["activities"]["mail"]["status"] == "running"
        result = resume_run(h.ws, run.id)

        union = where(lambda r: r["country"] == "FR" or r["loyalty_tier"] == "gold")
        kept = union - {3}  # 3's email is 1's once normalised
        assert result["status"] == "done"
        h.check(result, "dedup", "out", kept)
        h.check(result, "dedup", "complement", {3})
        h.check(result, "check", "default", kept)
        # 4 and 10 have no address; 7 no consent; 9 an invalid address
        h.check(result, "mail", "out", kept - {4, 7, 9, 10})
        assert result["activities"]["mail"]["excluded"] == {
            "no_address": 2, "invalid_address": 1, "no_consent": 1}
        assert result["activities"]["never"] == {"status": "skipped", "ports": None}
        assert len(ALL_IDS - union) == 4
    finally:
        h.close()
