"""The run monitor and the report in a real browser: a test run stopped at a breakpoint
and a live run waiting for an approver show their task, and its button lets the run
go on; a viewer sees the task but no button; the report's Export CSV files hold the
numbers of the API's report.

Each test has a campaign of its own (the server is shared by the session); live runs
send to the workspace's outbox. Expectations come from the API; each step leaves a
screenshot in test-artifacts/web/<test>/.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from web.harness import (
    VIEWER,
    Shots,
    WebApp,
    create_campaign,
    expect,
    live_run_sent,
    log_in,
)

if TYPE_CHECKING:  # importable without Playwright: the plugin then deselects these tests
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.web, pytest.mark.xdist_group("web")]

ACTION = re.compile(r"^(Confirm sending|Continue|Pause|Resume|Stop|Restart)\b")


def mailing(name: str) -> dict[str, Any]:
    """buyers -> mail -> finish, without a schedule: publishing starts its live run."""
    return {
        "name": name,
        "label": f"Monitor test {name}",
        "target": "customers",
        "activities": [
            {"id": "buyers", "type": "build_audience", "label": "French customers",
             "rule": {"field": "country", "op": "eq", "value": "FR"}},
            {"id": "mail", "type": "email", "inputs": ["buyers"],
             "from": "Overture Shop <news@shop.example>",
             "subject": "Hello {{ first_name }}", "html": "<p>Hello {{ first_name }}</p>"},
            {"id": "finish", "type": "end", "inputs": ["mail"]},
        ],
        "canvas": {"positions": {"buyers": {"x": 0, "y": 0}, "mail": {"x": 300, "y": 0},
                                 "finish": {"x": 600, "y": 0}}},
    }


def tasks(page: Page) -> Locator:
    return page.get_by_label("Tasks", exact=True)


def task(page: Page, activity: str, kind: str) -> Locator:
    return tasks(page).locator(f'li[data-activity="{activity}"][data-kind="{kind}"]')


def count(page: Page, source: str, port: str, target: str) -> Locator:
    return page.get_by_test_id(f"count-{source}.{port}->{target}")


def status(page: Page) -> Locator:
    return page.get_by_test_id("run-status")


def waiting_task(app: WebApp, run_id: str, kind: str) -> dict[str, Any]:
    """The run's task of this kind once the run has stopped moving (status `waiting`):
    the server refuses a go-ahead while the run still executes its other activities."""
    def found() -> dict[str, Any] | None:
        if app.ok("GET", f"/api/runs/{run_id}")["status"] != "waiting":
            return None
        return next((t for t in app.ok("GET", f"/api/runs/{run_id}/tasks")["tasks"]
                     if t["kind"] == kind), None)

    return app.server.wait_for(found, what=f"run {run_id} waiting for a {kind}")


def publish_and_wait_for_confirmation(app: WebApp, name: str) -> str:
    create_campaign(app, mailing(name))
    app.ok("POST", f"/api/campaigns/{name}/publish")
    run_id = app.server.wait_for(
        lambda: next((r["id"] for r in app.ok("GET", f"/api/runs?campaign={name}")["runs"]
                      if r["mode"] == "live"), None), what="the live run")
    waiting_task(app, run_id, "confirmation")
    return str(run_id)


def test_a_test_run_stopped_at_a_breakpoint_shows_the_task_and_continue_goes_on(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "monitor-breakpoint"
    create_campaign(web_app, mailing(name))
    run_id = web_app.ok("POST", f"/api/campaigns/{name}/test-runs",
                        {"breakpoints": ["mail"]}, status=202)["run"]
    waiting_task(web_app, run_id, "breakpoint")
    run = web_app.ok("GET", f"/api/runs/{run_id}")
    audience = run["activities"]["buyers"]["ports"]["out"]
    assert audience > 0

    page.goto(f"/#/runs/{run_id}")
    expect(page.get_by_test_id("run-mode")).to_have_text("TEST")
    expect(status(page)).to_have_text("waiting")
    stopped = task(page, "mail", "breakpoint")
    expect(stopped).to_contain_text("Stopped at a breakpoint")
    expect(page.get_by_test_id("run-node-mail")).to_have_attribute("data-status", "waiting")
    expect(count(page, "buyers", "out", "mail")).to_have_attribute("data-count", str(audience))
    not_yet = count(page, "mail", "out", "finish")
    expect(not_yet).not_to_have_attribute("data-count", re.compile("."))
    shot(page, "stopped at the breakpoint")

    stopped.get_by_role("button", name="Continue: mail", exact=True).click()
    expect(status(page)).to_have_text("done", timeout=60_000)
    expect(tasks(page)).to_contain_text("Nothing waits for anyone.")
    done = web_app.ok("GET", f"/api/runs/{run_id}")
    assert done["status"] == "done"
    passed = done["activities"]["mail"]["ports"]["out"]
    expect(count(page, "mail", "out", "finish")).to_have_attribute("data-count", str(passed))
    shot(page, "continued and done")


def test_a_live_run_waiting_for_confirmation_shows_the_task_and_an_approver_confirms(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "monitor-confirm"
    run_id = publish_and_wait_for_confirmation(web_app, name)

    page.goto(f"/#/runs/{run_id}")
    expect(page.get_by_test_id("run-mode")).to_have_text("LIVE")
    expect(status(page)).to_have_text("waiting")
    waiting = task(page, "mail", "confirmation")
    confirm = waiting.get_by_role("button", name="Confirm sending: mail", exact=True)
    expect(confirm).to_be_visible()
    expect(page.get_by_test_id("run-node-mail")).to_have_attribute("data-status", "waiting")
    actions = page.get_by_role("group", name="Run actions", exact=True)
    expect(actions.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    shot(page, "waiting for confirmation")

    confirm.click()
    expect(status(page)).to_have_text("done", timeout=60_000)
    expect(tasks(page)).to_contain_text("Nothing waits for anyone.")
    expect(actions).to_have_count(0)  # nothing left to pause or stop
    done = web_app.ok("GET", f"/api/runs/{run_id}")
    sent = done["activities"]["mail"]["ports"]["out"]
    assert sent > 0
    expect(count(page, "mail", "out", "finish")).to_have_attribute("data-count", str(sent))
    shot(page, "confirmed and sent")


def test_a_viewer_sees_the_task_but_no_action_button(page: Page, web_app: WebApp,
                                                     shot: Shots) -> None:
    name = "monitor-viewer"
    run_id = publish_and_wait_for_confirmation(web_app, name)
    # the server refuses a viewer's go-ahead: hiding the button hides nothing they could do
    refused = web_app.call("POST", f"/api/runs/{run_id}/activities/mail/confirm",
                           account=VIEWER)
    assert refused.status == 403

    log_in(page, web_app, VIEWER)
    page.goto(f"/#/runs/{run_id}")
    waiting = task(page, "mail", "confirmation")
    expect(waiting).to_contain_text("An approver confirms it.")
    expect(status(page)).to_have_text("waiting")
    expect(page.get_by_role("button", name=ACTION)).to_have_count(0)
    expect(page.get_by_role("group", name="Run actions", exact=True)).to_have_count(0)
    shot(page, "viewer sees the task")

    # an approver confirms elsewhere: the viewer's page follows the run to its end
    web_app.ok("POST", f"/api/runs/{run_id}/activities/mail/confirm")
    expect(status(page)).to_have_text("done", timeout=60_000)
    expect(tasks(page)).to_contain_text("Nothing waits for anyone.")
    sent = web_app.ok("GET", f"/api/runs/{run_id}")["activities"]["mail"]["ports"]["out"]
    expect(count(page, "mail", "out", "finish")).to_have_attribute("data-count", str(sent))
    expect(page.get_by_role("button", name=ACTION)).to_have_count(0)
    shot(page, "viewer sees it done")

    # and the campaign's editor is read-only for them
    page.goto(f"/#/campaigns/{name}")
    expect(page.get_by_role("status").filter(has_text="Read-only")).to_be_visible()
    for action in ("Save", "Test run", "Publish", "Pause", "Stop", "Delete activity"):
        expect(page.get_by_role("button", name=action, exact=True)).to_have_count(0)
    expect(page.get_by_label("Palette", exact=True)).to_have_count(0)
    shot(page, "viewer's read-only editor")


def read_csv(page: Page, section: Locator) -> list[list[str]]:
    with page.expect_download() as download:
        section.get_by_role("button", name="Export CSV", exact=True).click()
    text = Path(download.value.path()).read_bytes().decode("utf-8")
    assert text.endswith("\r\n")  # RFC 4180 line ends
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_reports_export_csv_files_hold_the_numbers_of_the_apis_report(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "report-csv"
    _, run = live_run_sent(web_app, mailing(name))
    report = web_app.ok("GET", f"/api/campaigns/{name}/report")
    totals = report["totals"]
    assert totals["sent"] == run["activities"]["mail"]["ports"]["out"] > 0

    page.goto(f"/#/campaigns/{name}/report")
    funnel = page.get_by_label("Delivery funnel", exact=True)
    expect(funnel.get_by_test_id("funnel-sent")).to_have_attribute(
        "data-count", str(totals["sent"]))
    shot(page, "report")

    # the funnel: each stage's count, and its share of the sent messages
    stages = {
        "targeted": totals["targeted"],
        "sent": totals["sent"],
        "delivered": totals["delivered"],
        "opened": totals["opens"]["unique"],
        "clicked": totals["clicks"]["unique"],
        "bounced": totals["bounces"]["hard"] + totals["bounces"]["soft"],
        "unsubscribed": totals["unsubscribes"],
        "complained": totals["complaints"],
        "failed": totals["errors"],
    }
    rows = read_csv(page, funnel)
    assert rows[0] == ["stage", "count", "percent_of_sent"]
    assert {stage: int(n) for stage, n, _ in rows[1:]} == stages
    assert [stage for stage, _, _ in rows[1:]] == list(stages)
    for stage, n, share in rows[1:]:
        if stage == "targeted":
            assert share == ""
        else:
            assert abs(float(share) - int(n) * 100 / totals["sent"]) <= 0.05, (stage, share)

    # who was left out at send time, and why
    rows = read_csv(page, page.get_by_label("Exclusions", exact=True))
    assert rows[0] == ["reason", "count"]
    assert {reason: int(n) for reason, n in rows[1:]} == \
        {reason: n for reason, n in totals["excluded"].items() if n > 0}

    # the email domains
    rows = read_csv(page, page.get_by_label("Email domains", exact=True))
    columns = ["domain", "targeted", "sent", "delivered", "bounced", "opens", "clicks",
               "unsubscribes", "complaints"]
    assert rows[0] == columns
    assert [[row[0], *map(int, row[1:])] for row in rows[1:]] == \
        [[d["domain"], *(d[c] for c in columns[1:])] for d in totals["domains"]]
    shot(page, "exported")
