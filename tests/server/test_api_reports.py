"""`GET /api/campaigns/{name}/report` on a real `overture serve`, over the hand-countable
scenario of tests/reports (made before the server starts: the server then holds the
data plane), and `overture report` going through that server."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from overture.auth import Role
from overture.cli.main import app
from reports.scenario import (
    CAMPAIGN,
    EXPECTED,
    EXPECTED_DAILY,
    EXPECTED_DOMAINS,
    EXPECTED_HOURLY,
    EXPECTED_LINKS,
    MAIL,
    all_time,
    build,
)
from server.conftest import add_role_users
from support.server import Response, ServerProcess

pytestmark = pytest.mark.xdist_group("server_reports")


@dataclass
class Served:
    server: ServerProcess
    root: Path
    run: str
    tokens: dict[Role, str]

    def get(self, path: str, role: Role | None = Role.VIEWER) -> Response:
        return self.server.call("GET", path, token=self.tokens[role] if role else "")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The scenario in a folder of its own (not pytest's: see tests/server/conftest.py),
    with a campaign that only had a test run, served."""
    folder = Path(tempfile.mkdtemp(prefix="overture-reports-"))
    try:
        scenario = build(folder / "shop")
        assert scenario.h.run(MAIL, mode="test", name="tried")["status"] == "done"
        scenario.h.close()
        tokens = add_role_users(scenario.root)
        server = ServerProcess(scenario.root).start()
        try:
            yield Served(server, scenario.root, scenario.run, tokens)
        finally:
            code = server.stop()
            assert code == 0, server.log_path.read_text(errors="replace")[-3000:]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ok(answer: Response) -> Any:
    assert answer.status == 200, (answer.status, answer.body)
    return answer.body


def test_a_viewer_reads_the_report(served: Served) -> None:
    report = ok(served.get(f"/api/campaigns/{CAMPAIGN}/report"))
    assert (report["campaign"], report["run"], report["runs"]) == (CAMPAIGN, None, 1)
    mail = report["activities"]["mail"]
    assert all_time(mail) == EXPECTED
    assert all_time(report["totals"]) == EXPECTED
    assert mail["links"] == EXPECTED_LINKS
    assert mail["domains"] == EXPECTED_DOMAINS
    assert mail["timeline"] == {"hourly": EXPECTED_HOURLY, "daily": EXPECTED_DAILY}
    assert [r["run"] for r in report["by_run"]] == [served.run]


def test_one_run_one_activity_and_machine_opens(served: Served) -> None:
    path = (f"/api/campaigns/{CAMPAIGN}/report?run={served.run[:6]}&activity=mail"
            "&include_machine=true")
    report = ok(served.get(path))
    assert (report["run"], report["activity"], report["include_machine"]) == \
        (served.run, "mail", True)
    assert report["activities"]["mail"]["opens"] == {"total": 5, "unique": 3, "machine": 2}
    assert report["activities"]["mail"]["clicks"] == {"total": 5, "unique": 3, "machine": 1}


def test_what_cannot_be_reported_is_a_404_that_says_why(served: Served) -> None:
    cases = [
        ("/api/campaigns/nope/report", "not_found", "no campaign 'nope'"),
        ("/api/campaigns/tried/report", "no_live_run", "campaign 'tried' has no live run"),
        (f"/api/campaigns/{CAMPAIGN}/report?run=ffffffffffff", "not_found", "no run"),
        (f"/api/campaigns/{CAMPAIGN}/report?activity=nope", "no_live_run",
         "channel activity 'nope'"),
    ]
    for path, code, message in cases:
        answer = served.get(path)
        assert answer.status == 404, (path, answer.status, answer.body)
        assert answer.body["error"]["code"] == code
        assert message in answer.body["error"]["message"], answer.body
    empty = served.get(f"/api/campaigns/{CAMPAIGN}/report?run=")
    assert (empty.status, empty.body["error"]["code"]) == (422, "invalid_request")
    anonymous = served.get(f"/api/campaigns/{CAMPAIGN}/report", role=None)
    assert (anonymous.status, anonymous.body["error"]["code"]) == (401, "unauthorized")


def test_the_cli_goes_through_the_server_and_prints_the_same_report(served: Served) -> None:
    api = ok(served.get(f"/api/campaigns/{CAMPAIGN}/report"))
    result = CliRunner().invoke(app, ["--workspace", str(served.root), "report", CAMPAIGN,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    moving = ("now", "windows")  # the wall clock's: a moment later
    assert {k: v for k, v in printed.items() if k not in moving} == \
        {k: v for k, v in api.items() if k not in moving}
    refused = CliRunner().invoke(app, ["--workspace", str(served.root), "report", "tried"])
    assert refused.exit_code == 1
    assert "campaign 'tried' has no live run" in refused.output
    assert "Traceback" not in refused.output
