"""Issue 6 end to end, in a real browser: log in, build the spring-sale sample campaign
from an empty canvas by clicks and typing alone, run it in test mode and see on the
transitions the counts `overture run --test --json` prints for the same document,
publish it, watch its live run (confirm sending, real SMTP), and open its report.

The server is a real `overture serve` of its own (its email provider is an aiosmtpd
server; its clock a file this test moves), so nothing here depends on the other
browser tests. Each step leaves a screenshot in test-artifacts/web/<test>/.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from support.retail import EXAMPLES, retail_workspace
from support.server import OVERTURE, ServerProcess, free_port
from support.smtp import SmtpServer, smtp_provider_config
from web.harness import ADMIN, CLOCK_AT, CUSTOMERS, Shots, WebApp, add_accounts, expect, log_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.web
SAMPLE = yaml.safe_load((EXAMPLES / "campaigns" / "spring-sale.yaml").read_text("utf-8"))
#: the server starts an hour before the sample's one-off start (09:00 Paris)
START = CLOCK_AT - timedelta(hours=1)


@pytest.fixture(scope="module")
def spring_app() -> Iterator[tuple[WebApp, SmtpServer]]:
    folder = Path(tempfile.mkdtemp(prefix="overture-web-spring-"))
    try:
        with SmtpServer() as smtp:
            port = free_port()
            root = retail_workspace(folder / "shop", CUSTOMERS, config=smtp_provider_config(
                smtp.port, f"http://127.0.0.1:{port}"))
            tokens = add_accounts(root, (ADMIN,))
            app = WebApp(ServerProcess(root, clock_at=START, port=port).start(), root, tokens)
            try:
                yield app, smtp
            finally:
                code = app.server.stop()
                assert code == 0, app.server.log_path.read_text(errors="replace")[-3000:]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---- finding things the way a user does: by their labels ----

def field(scope: Page | Locator, label: str) -> Locator:
    return scope.get_by_label(label, exact=True)


def button(scope: Page | Locator, name: str) -> Locator:
    return scope.get_by_role("button", name=name, exact=True)


def group(scope: Page | Locator, name: str) -> Locator:
    return scope.get_by_role("group", name=name, exact=True)


def choose(select: Locator, value: str) -> None:
    """Pick the option whose value is `value`, or whose text is or starts with it, once
    the options have loaded (the catalog, saved filters, templates and profiles come
    from the server: until then a field may be a text box)."""
    option = select.locator(f'option[value="{value}"]').or_(
        select.locator("option").filter(has_text=re.compile("^" + re.escape(value))))
    expect(option).not_to_have_count(0)
    chosen = option.first
    select.select_option(chosen.get_attribute("value") or chosen.inner_text())


def properties(page: Page) -> Locator:
    return page.get_by_label("Properties", exact=True)


def add(page: Page, palette_name: str, activity_id: str) -> Locator:
    """Add an activity from the palette, give it its id, return its properties."""
    button(page.get_by_label("Palette", exact=True), palette_name).click()
    panel = properties(page)
    ident = field(panel, "ID").first
    ident.fill(activity_id)
    ident.press("Enter")
    expect(page.get_by_test_id(f"node-{activity_id}")).to_be_visible()
    return panel


def select(page: Page, activity_id: str) -> Locator:
    page.get_by_test_id(f"node-{activity_id}").click()
    panel = properties(page)
    expect(field(panel, "ID").first).to_have_value(activity_id)
    return panel


def connect(panel: Locator, *ports: str) -> None:
    inputs = group(panel, "Inputs")
    for port in ports:
        inputs.get_by_label(port, exact=True).check()


def save(page: Page) -> None:
    button(page, "Save").click()
    expect(page.get_by_role("status").filter(has_text="All changes saved")).to_be_visible()


def add_in_condition(rule: Locator, number: str, name: str, values: list[str]) -> None:
    """Add condition `number` of a rule builder: field `name` in `values`, typed one by one."""
    button(rule, "Add condition").click()
    field(rule, f"Field of condition {number}").fill(name)
    choose(field(rule, f"Operator of condition {number}"), "in")
    for i, value in enumerate(values, 1):
        button(rule, f"Add value to condition {number}").click()
        field(rule, f"Value {i} of condition {number}").fill(value)


# ---- building the sample by clicks and typing ----

def build_spring_sale(page: Page, shot: Shots) -> None:
    # the campaign's own settings: nothing selected
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    panel = properties(page)
    field(panel, "Label").fill("Spring sale")
    choose(field(panel, "Target"), "customers")
    field(panel, "Time zone").fill("Europe/Paris")
    choose(field(panel, "Schedule kind"), "once")
    field(panel, "Starts at").fill("2027-03-01T09:00")
    button(panel, "Add variable").click()
    field(panel, "Name of variable 1").fill("coupon")
    field(panel, "Name of variable 1").press("Enter")
    choose(field(panel, "Type of variable 1"), "string")
    field(panel, "Default of variable 1").fill("SPRING10")
    field(panel, "Test value of variable 1").fill("TEST10")
    button(panel, "Add variable").click()
    field(panel, "Name of variable 2").fill("min_spend")
    field(panel, "Name of variable 2").press("Enter")
    choose(field(panel, "Type of variable 2"), "number")
    field(panel, "Default of variable 2").fill("100")
    field(panel, "Description of variable 2").fill("total spent over two years")
    shot(page, "campaign settings")

    panel = add(page, "Build audience", "buyers")
    field(panel, "Label").fill("Recent buyers in France and Spain")
    rule = group(panel, "Rule")
    add_in_condition(rule, "1", "country", ["FR", "ES"])
    button(rule, "Add condition").click()
    choose(field(rule, "Type of condition 2"), "filter")
    choose(field(rule, "Filter of condition 2"), "recent_buyers")
    button(rule, "Add condition").click()
    choose(field(rule, "Type of condition 3"), "aggregate")
    choose(field(rule, "Link of condition 3"), "purchases")
    choose(field(rule, "Function of condition 3"), "sum")
    field(rule, "Of field of condition 3").fill("amount")
    choose(field(rule, "Operator of condition 3"), "gte")
    field(rule, "Value of condition 3").fill("${vars.min_spend}")
    expect(rule.get_by_test_id("rule-leaf")).to_have_count(3)
    save(page)  # the calculate button counts the saved rule's document as it is now
    button(rule, "Calculate").click()
    expect(rule.get_by_test_id("rule-count")).to_have_text(re.compile(r"\d+ profiles?"))
    shot(page, "buyers rule and its count")

    panel = add(page, "Deduplicate", "dedup")
    connect(panel, "buyers.out")
    field(panel, "Label").fill("One per address (newest signup wins)")
    expect(field(panel, "Keys 1")).to_have_value("email")  # the palette's default key
    choose(field(panel, "Normalize"), "lower_trim")
    button(panel, "Add keep").click()
    choose(field(panel, "Method"), "expression")
    field(panel, "By").fill("signup_date")
    choose(field(panel, "Order"), "desc")
    field(panel, "Complement").check()

    panel = add(page, "Test", "big_enough")
    connect(panel, "dedup.out")
    field(panel, "Label").fill("At least 10 recipients?")
    field(group(panel, "Condition enough"), "ID").fill("go")  # the palette's condition
    condition = group(panel, "Condition go")
    choose(field(condition, "Operator"), "gte")
    field(condition, "Value").fill("10")

    panel = add(page, "Alert", "too_small")
    connect(panel, "big_enough.default")
    field(panel, "Title").fill("Spring sale not sent")
    field(panel, "Message").fill(
        "Fewer than 10 customers qualify; check the rule or the data load.")

    panel = add(page, "Split", "tiers")
    connect(panel, "big_enough.go")
    field(group(panel, "Subset subset_1"), "ID").fill("vip")  # the palette's subset
    vip = group(panel, "Subset vip")
    field(vip, "Label").fill("Gold and platinum")
    rule = group(panel, "Rule of subset vip")
    add_in_condition(rule, "1", "loyalty_tier", ["gold", "platinum"])
    button(panel, "Add subset").click()
    field(group(panel, "Subset subset_2"), "ID").fill("sample")
    sample = group(panel, "Subset sample")
    field(sample, "Label").fill("10% control sample")
    button(panel, "Add limit to subset sample").click()
    field(sample, "Percent").fill("10")
    button(panel, "Add sort to subset sample").click()
    field(sample, "By").fill("customer_id")
    expect(field(panel, "Complement")).to_be_checked()
    shot(page, "split")

    panel = add(page, "Email", "vip_mail")
    connect(panel, "tiers.vip")
    field(panel, "Label").fill("VIP preview")
    field(panel, "From").fill("Overture Shop <news@shop.example>")
    field(panel, "Subject").fill("{{ first_name }}, your VIP preview of the spring sale")
    choose(field(panel, "HTML source"), "file")
    choose(field(panel, "HTML file"), "templates/vip.html")

    panel = add(page, "Wait", "three_days")
    connect(panel, "vip_mail.out")
    field(panel, "Duration").fill("3 days")

    panel = add(page, "End", "vip_done")
    connect(panel, "three_days.out")
    panel = add(page, "End", "sample_done")
    connect(panel, "tiers.sample")
    field(panel, "Label").fill("Control sample (nothing sent)")
    panel = add(page, "End", "others_done")
    connect(panel, "tiers.complement")
    save(page)

    button(page, "Tidy up").click()
    save(page)
    shot(page, "built")


def counts_on_transitions(page: Page) -> dict[str, int | None]:
    """Every transition's count as the run monitor shows it (None: unknown)."""
    found: dict[str, int | None] = {}
    for label in page.locator('[data-testid^="count-"]').all():
        testid = label.get_attribute("data-testid") or ""
        raw = label.get_attribute("data-count")
        found[testid.removeprefix("count-")] = None if raw is None else int(raw)
    return found


def expected_counts(document: dict[str, Any], summary: dict[str, Any]) -> dict[str, int | None]:
    """The count each transition should show: its source port's count in the summary."""
    out: dict[str, int | None] = {}
    for activity in document["activities"]:
        for ref in activity.get("inputs", []):
            source, _, port = ref.partition(".")
            ports = summary["activities"][source]["ports"] or {}
            out[f"{source}.{port or 'out'}->{activity['id']}"] = ports.get(port or "out")
    return out


def wait_finished(page: Page) -> None:
    expect(page.get_by_test_id("run-status")).to_have_text(
        re.compile("^(done|failed|stopped)$"), timeout=60_000)


def test_build_spring_sale_by_clicks_run_publish_monitor_report(
        browser: Browser, spring_app: tuple[WebApp, SmtpServer], shot: Shots) -> None:
    app, smtp = spring_app
    context = browser.new_context(viewport={"width": 1440, "height": 900},
                                  base_url=app.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        # log in, create an empty campaign
        log_in(page, app, ADMIN)
        shot(page, "logged in")
        field(page, "New campaign name").fill("spring-sale")
        button(page, "Create").click()
        page.wait_for_url(re.compile(r"#/campaigns/spring-sale$"))
        expect(page.locator(".react-flow__node")).to_have_count(0)
        shot(page, "empty canvas")

        build_spring_sale(page, shot)
        detail = app.ok("GET", "/api/campaigns/spring-sale")
        draft = dict(detail["draft"])
        assert "positions" in draft.pop("canvas")
        assert draft == SAMPLE, json.dumps(draft, indent=1)
        assert detail["problems"] == []

        # test mode: the counts on the transitions are the CLI's for the same document
        button(page, "Test run").click()
        page.wait_for_url(re.compile(r"#/runs/\w+$"))
        wait_finished(page)
        expect(page.get_by_test_id("run-status")).to_have_text("done")
        expect(page.get_by_test_id("run-mode")).to_have_text(re.compile("test", re.I))
        shown = counts_on_transitions(page)
        shot(page, "test run counts")

        built = app.root / "campaigns" / "spring-sale-built.yaml"
        built.write_text(yaml.safe_dump(detail["draft"], sort_keys=False), "utf-8")
        cli = subprocess.run([OVERTURE, "-w", str(app.root), "run", str(built), "--test",
                              "--json"], capture_output=True, text=True, timeout=300,
                             check=False)
        assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr[-2000:]
        printed = json.loads(cli.stdout)
        assert printed["status"] == "done"
        expected = expected_counts(SAMPLE, printed)
        assert shown == expected
        assert expected["tiers.vip->vip_mail"], "the sample sends to nobody: a vacuous test"
        # a transition's rows: as many as its count
        vip = page.get_by_test_id("count-tiers.vip->vip_mail")
        vip.click()
        rows = page.get_by_label("Rows on tiers.vip", exact=True)
        expect(rows).to_contain_text(f"{expected['tiers.vip->vip_mail']:,}")
        headers = [h.inner_text() for h in rows.locator("thead th").all()]
        first = rows.locator("tbody tr").first.locator("td").nth(headers.index("customer_id"))
        vip_customer = first.inner_text().strip()
        shot(page, "rows on a transition")

        # the content preview, for that profile
        page.goto(f"{app.url}/#/campaigns/spring-sale")
        panel = select(page, "vip_mail")
        field(panel, "Search profiles").fill(vip_customer)
        choose(field(panel, "Profile"), f"{vip_customer} ·")
        button(panel, "Preview").click()
        expect(panel.get_by_test_id("preview-subject")).to_contain_text(
            "your VIP preview of the spring sale")
        expect(page.frame_locator('iframe[title="Message preview"]').locator("body")
               ).not_to_be_empty()
        shot(page, "content preview")

        # publish: scheduled for 09:00; the server's clock reaches it and the run starts
        button(page, "Publish").click()
        expect(page.locator(".status-scheduled").first).to_have_text("scheduled")
        assert app.ok("GET", "/api/campaigns/spring-sale")["status"] == "scheduled"
        shot(page, "published")
        app.server.clock.set(CLOCK_AT)
        live = app.server.wait_for(
            lambda: [r for r in app.ok("GET", "/api/runs?campaign=spring-sale")["runs"]
                     if r["mode"] == "live"], what="the live run")[0]

        # the list links the live run; its monitor asks to confirm the sending
        page.goto(f"{app.url}/#/")
        row = page.locator('tr[data-campaign="spring-sale"]')
        expect(row).to_contain_text("live")
        row.get_by_role("link", name=re.compile("live")).click()
        page.wait_for_url(re.compile(rf"#/runs/{live['id']}$"))
        tasks = page.get_by_label("Tasks", exact=True)
        confirm = tasks.get_by_role("button", name=re.compile("^Confirm sending: vip_mail"))
        expect(confirm).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("count-tiers.vip->vip_mail")).to_have_attribute(
            "data-count", re.compile(r"^\d+$"))
        shot(page, "live run waits for confirmation")
        confirm.click()
        # the email is sent; the run then waits three days
        sent_edge = page.get_by_test_id("count-vip_mail.out->three_days")
        expect(sent_edge).to_have_attribute("data-count", re.compile(r"^\d+$"), timeout=60_000)
        expect(page.get_by_test_id("run-node-three_days")).to_have_attribute(
            "data-status", "waiting")
        sent = int(sent_edge.get_attribute("data-count") or "0")
        assert sent > 0
        assert app.server.wait_for(lambda: smtp.count == sent or None, what="the mails")
        shot(page, "live run sent, waiting three days")
        app.server.clock.set(CLOCK_AT + timedelta(days=3, minutes=1))
        wait_finished(page)
        expect(page.get_by_test_id("run-status")).to_have_text("done")
        final = app.ok("GET", f"/api/runs/{live['id']}")
        assert counts_on_transitions(page) == expected_counts(SAMPLE, final)
        shot(page, "live run done")

        # the report: as many sent as the SMTP server received
        page.get_by_role("link", name=re.compile("report", re.I)).first.click()
        page.wait_for_url(re.compile(r"#/campaigns/spring-sale/report$"))
        funnel = page.get_by_label("Delivery funnel", exact=True)
        expect(funnel.get_by_test_id("funnel-sent")).to_have_attribute("data-count", str(sent))
        shot(page, "report")
    finally:
        context.close()
    assert not errors, f"uncaught exceptions in the page: {errors}"
