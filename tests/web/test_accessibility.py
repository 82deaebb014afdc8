"""Accessibility of the web app in a real browser.

1. Every visible control (input, select, textarea, button) has an accessible name and
   no two elements share an id: on the login page, the campaign list, the editor of
   the spring-sale sample with nothing selected and with each of its activities
   selected, the run monitor (a task waiting, a transition's rows open) and a report
   with numbers in it.
2. The main flows work from the keyboard alone (no mouse): log in, open a campaign
   from the list, add an activity from the palette, name it, connect it by its Inputs
   checkbox, save; start a test run, reach its monitor, open a transition's rows with
   Enter and close them with Escape.

The expectations come from the sample files and the API; each step leaves a
screenshot in test-artifacts/web/<test>/.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from support.retail import EXAMPLES
from web.harness import (
    ADMIN,
    Shots,
    WebApp,
    create_campaign,
    draft,
    expect,
    live_run_sent,
    log_in,
    open_editor,
)

if TYPE_CHECKING:  # importable without Playwright: the plugin then deselects these tests
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.web, pytest.mark.xdist_group("web")]

SPRING_SALE = yaml.safe_load((EXAMPLES / "campaigns" / "spring-sale.yaml").read_text("utf-8"))

#: runs in the page: the visible controls without an accessible name, and the ids
#: given to more than one element
AUDIT = """() => {
  const shown = (el) => {
    if (el.closest('[hidden], [aria-hidden="true"]')) return false;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return false;
    return el.getClientRects().length > 0;
  };
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, ' ').trim() : '');
  const nameOf = (el) => {
    const label = (el.getAttribute('aria-label') || '').trim();
    if (label) return label;
    const by = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    const labelled = by.map((id) => text(document.getElementById(id))).join(' ').trim();
    if (labelled) return labelled;
    const labels = [...(el.labels || [])].map(text).join(' ').trim();
    if (labels) return labels;
    if (el.tagName === 'BUTTON') return text(el);
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return el.value;
    return '';
  };
  const controls = [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => el.type !== 'hidden' && shown(el));
  const unnamed = controls.filter((el) => !nameOf(el))
    .map((el) => el.outerHTML.slice(0, 200));
  const counts = new Map();
  for (const el of document.querySelectorAll('[id]')) {
    counts.set(el.id, (counts.get(el.id) || 0) + 1);
  }
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} (${n} times)`);
  return {controls: controls.length, unnamed, duplicated};
}"""


def audit(page: Page, where: str) -> int:
    """Fail with the offending elements; the number of controls looked at."""
    found: dict[str, Any] = page.evaluate(AUDIT)
    assert found["unnamed"] == [], f"{where}: controls without an accessible name"
    assert found["duplicated"] == [], f"{where}: ids used more than once"
    return int(found["controls"])


def button(scope: Page | Locator, name: str) -> Locator:
    return scope.get_by_role("button", name=name, exact=True)


def focused(target: Locator) -> bool:
    return bool(target.evaluate("el => el === document.activeElement"))


def tab_to(page: Page, target: Locator, *, backwards: bool = False, limit: int = 250) -> int:
    """Press Tab (Shift+Tab) until `target` has the focus; how many presses it took."""
    key = "Shift+Tab" if backwards else "Tab"
    target.wait_for(state="attached")
    for presses in range(limit):
        if focused(target):
            return presses
        page.keyboard.press(key)
    raise AssertionError(f"{limit} presses of {key} never reached {target}")


def wait_finished(page: Page) -> None:
    expect(page.get_by_test_id("run-status")).to_have_text(
        re.compile("^(done|failed|stopped)$"), timeout=60_000)


def valid_pair(name: str) -> dict[str, Any]:
    """buyers -> finish: valid, so that it can run."""
    return {
        "name": name,
        "label": f"Keyboard {name}",
        "target": "customers",
        "activities": [
            {"id": "buyers", "type": "build_audience", "label": "French customers",
             "rule": {"field": "country", "op": "eq", "value": "FR"}},
            {"id": "finish", "type": "end", "inputs": ["buyers"]},
        ],
        "canvas": {"positions": {"buyers": {"x": 0, "y": 0}, "finish": {"x": 300, "y": 0}}},
    }


# ---- names and ids ----

def test_every_control_is_named_and_ids_are_unique_on_login_list_and_editor(
        page: Page, web_app: WebApp, shot: Shots) -> None:
    page.goto("/#/login")
    expect(page.get_by_label("Username")).to_be_visible()
    assert audit(page, "login") >= 3

    log_in(page, web_app, ADMIN)
    expect(page.get_by_role("table", name="Campaigns")).to_be_visible()
    shot(page, "list")
    assert audit(page, "list") > 5

    # the sample campaign: nothing selected (the campaign's settings), then each activity
    page.goto("/#/campaigns/spring-sale")
    expect(page.locator(".react-flow")).to_be_visible()
    panel = page.get_by_label("Properties", exact=True)
    expect(panel.get_by_role("heading", name="Campaign spring-sale")).to_be_visible()
    expect(panel.get_by_label("Target", exact=True)).to_be_visible()
    shot(page, "editor, nothing selected")
    assert audit(page, "editor, nothing selected") > 20

    for activity in SPRING_SALE["activities"]:
        ident = activity["id"]
        page.get_by_test_id(f"node-{ident}").click()
        expect(panel.get_by_label("ID", exact=True).first).to_have_value(ident)
        expect(panel.get_by_role("region", name=f"Activity {ident}")).to_be_visible()
        shot(page, f"editor, {ident} selected")
        assert audit(page, f"editor, {ident} selected") > 20

    # selecting changed nothing in the sample
    assert draft(web_app, "spring-sale")["activities"] == SPRING_SALE["activities"]


def test_every_control_is_named_and_ids_are_unique_on_the_monitor_and_the_report(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    # a test run of the sample that stops before its email: a task with its button
    started = web_app.ok("POST", "/api/campaigns/spring-sale/test-runs",
                         {"breakpoints": ["vip_mail"]}, status=202)
    run_id = started["run"]
    page.goto(f"/#/runs/{run_id}")
    tasks = page.get_by_label("Tasks", exact=True)
    expect(page.get_by_test_id("run-status")).to_have_text("waiting", timeout=60_000)
    expect(button(tasks, "Continue: vip_mail")).to_be_visible()
    shot(page, "monitor with a task")
    assert audit(page, "run monitor") > 5

    count = page.get_by_test_id("count-tiers.vip->vip_mail")
    expect(count).to_have_attribute("data-count", re.compile(r"^\d+$"))
    count.click()
    rows = page.get_by_label("Rows on tiers.vip", exact=True)
    expect(rows.locator("tbody tr").first).to_be_visible()
    shot(page, "monitor with rows")
    assert audit(page, "run monitor, rows open") > 5
    web_app.ok("POST", f"/api/runs/{run_id}/stop")

    # a report with numbers: a campaign of its own, sent to the outbox
    name = "a11y-report"
    document = valid_pair(name)
    document["activities"].insert(1, {
        "id": "mail", "type": "email", "inputs": ["buyers"],
        "from": "Overture Shop <news@shop.example>", "subject": "Hello",
        "html": "<p>Hello {{ first_name }}</p>"})
    document["activities"][2]["inputs"] = ["mail"]
    live_run_sent(web_app, document)
    page.goto(f"/#/campaigns/{name}/report")
    funnel = page.get_by_label("Delivery funnel", exact=True)
    expect(funnel.get_by_test_id("funnel-sent")).to_be_visible()
    shot(page, "report")
    assert audit(page, "report") > 5


# ---- the keyboard alone ----

def test_log_in_open_a_campaign_add_connect_and_save_with_the_keyboard_alone(
        page: Page, web_app: WebApp, shot: Shots) -> None:
    name = "keyboard-edit"
    document = valid_pair(name)
    document["activities"] = document["activities"][:1]
    document["canvas"]["positions"] = {"buyers": {"x": 0, "y": 0}}
    create_campaign(web_app, document)

    # log in
    page.goto("/#/login")
    tab_to(page, page.get_by_label("Username"))
    page.keyboard.type(ADMIN.username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(ADMIN.password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"#/$"))
    shot(page, "list")

    # from the list, Tab to the campaign's link and press Enter
    link = page.locator(f'tr[data-campaign="{name}"]').get_by_role(
        "link", name=document["label"], exact=True)
    tab_to(page, link)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"#/campaigns/{name}$"))
    expect(page.get_by_test_id("node-buyers")).to_be_visible()
    shot(page, "editor")

    # the palette: Tab to End, Enter adds it and takes the focus to its panel
    end = button(page.get_by_label("Palette", exact=True), "End")
    tab_to(page, end)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("node-end_1")).to_be_visible()
    panel = page.get_by_label("Properties", exact=True)
    expect(panel.locator(".ov-panel-heading")).to_be_focused()

    # its id: Tab to the field, type over it, Enter
    ident = panel.get_by_label("ID", exact=True).first
    tab_to(page, ident)
    page.keyboard.press("Control+a")
    page.keyboard.type("finish")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("node-finish")).to_be_visible()
    expect(page.get_by_test_id("node-end_1")).to_have_count(0)

    # its input: back with Shift+Tab to the checkbox, Space ticks it
    checkbox = panel.get_by_role("group", name="Inputs", exact=True).get_by_label(
        "buyers.out", exact=True)
    tab_to(page, checkbox, backwards=True)
    page.keyboard.press("Space")
    expect(checkbox).to_be_checked()
    expect(page.get_by_test_id("edge-buyers.out->finish")).to_be_visible()
    shot(page, "added and connected")

    with page.expect_response(lambda r: r.request.method == "PUT") as answer:
        page.keyboard.press("Control+s")
    assert answer.value.status == 200
    expect(page.get_by_role("status").filter(has_text=re.compile("^All changes saved$"))
           ).to_be_visible()
    shot(page, "saved")
    saved = draft(web_app, name)
    assert saved["activities"] == [document["activities"][0],
                                   {"id": "finish", "type": "end", "inputs": ["buyers"]}]
    assert set(saved["canvas"]["positions"]) == {"buyers", "finish"}


def test_start_a_test_run_and_open_and_close_a_transitions_rows_with_the_keyboard(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "keyboard-run"
    create_campaign(web_app, valid_pair(name))
    open_editor(page, name)

    test_run = button(page, "Test run")
    tab_to(page, test_run)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"#/runs/\w+$"))
    run_id = page.url.rsplit("/", 1)[1]
    wait_finished(page)
    expect(page.get_by_test_id("run-status")).to_have_text("done")
    shot(page, "monitor")
    run = web_app.ok("GET", f"/api/runs/{run_id}")
    assert run["campaign"] == name and run["mode"] == "test"
    expected = run["activities"]["buyers"]["ports"]["out"]
    assert expected > 0

    count = page.get_by_test_id("count-buyers.out->finish")
    expect(count).to_have_attribute("data-count", str(expected))
    tab_to(page, count)
    page.keyboard.press("Enter")
    rows = page.get_by_label("Rows on buyers.out", exact=True)
    expect(rows).to_be_visible()
    expect(rows.get_by_role("heading", level=2)).to_be_focused()
    expect(rows).to_contain_text(f"{expected:,} in all")
    expect(rows.locator("tbody tr")).to_have_count(min(expected, 50))
    shot(page, "rows open")

    page.keyboard.press("Escape")
    expect(rows).to_have_count(0)
    expect(count).to_be_focused()  # the focus goes back where it was, not to the page's top
    shot(page, "rows closed")
