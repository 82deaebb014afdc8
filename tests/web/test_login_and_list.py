"""The web app in a real browser: logging in and out, the campaign list and its actions,
the viewer's read-only list, and the login form by keyboard alone.

Every expectation is read from the server's API or from the sample campaign files,
never from what the page shows; each step leaves a screenshot in
test-artifacts/web/<test>/.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from web.harness import (
    ADMIN,
    PAUSED,
    PUBLISHED,
    VIEWER,
    Shots,
    WebApp,
    expect,
    log_in,
    sample_documents,
    until,
)

if TYPE_CHECKING:  # importable without Playwright: the plugin then deselects these tests
    from playwright.sync_api import Dialog, Page

pytestmark = [pytest.mark.web, pytest.mark.xdist_group("web")]

LIST = re.compile(r"#/$")


def row(page: Page, name: str) -> Any:
    return page.locator(f'table[aria-label="Campaigns"] tr[data-campaign="{name}"]')


def test_a_wrong_password_shows_the_servers_message_and_stays_on_login(
        page: Page, web_app: WebApp, shot: Shots) -> None:
    refused = web_app.server.call("POST", "/api/auth/login",
                                  {"username": ADMIN.username, "password": "not-the-password"},
                                  token="")
    assert refused.status == 401
    message = refused.body["error"]["message"]

    page.goto("/#/login")
    page.get_by_label("Username").fill(ADMIN.username)
    page.get_by_label("Password").fill("not-the-password")
    shot(page, "filled-in")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text(message)
    shot(page, "refused")
    assert page.url.endswith("#/login")
    expect(page.get_by_label("Username")).to_have_value(ADMIN.username)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert page.request.get("/api/me").status == 401  # no session cookie was set


def test_the_right_password_lands_on_the_list_of_the_sample_campaigns_with_their_statuses(
        page: Page, web_app: WebApp, shot: Shots) -> None:
    page.goto("/#/login")
    page.get_by_label("Username").fill(ADMIN.username)
    page.get_by_label("Password").fill(ADMIN.password)
    shot(page, "filled-in")
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url(LIST)
    expect(page.get_by_role("table", name="Campaigns")).to_be_visible()
    shot(page, "campaign-list")
    expect(page.get_by_text(f"{ADMIN.username} ({ADMIN.role.value})")).to_be_visible()

    listed = web_app.campaigns()
    samples = sample_documents()
    assert set(samples) <= set(listed)
    statuses = {name: listed[name]["status"] for name in samples}
    # the fixture's doing, checked against the API so the page is compared with facts
    assert {statuses[name] for name in PAUSED} == {"paused"}
    assert {statuses[name] for name in set(PUBLISHED) - set(PAUSED)} == {"scheduled"}
    assert {statuses[name] for name in set(samples) - set(PUBLISHED)} == {"draft"}
    for name in samples:
        line = row(page, name)
        expect(line).to_have_count(1)
        expect(line.locator(".status")).to_have_text(statuses[name])
        # the link to the editor reads the campaign's label (from its file), else its name
        title = samples[name].get("label") or name
        expect(line.get_by_role("link", name=title, exact=True)).to_have_attribute(
            "href", f"#/campaigns/{name}")


def test_creating_a_campaign_by_name_opens_its_editor_and_the_api_has_it(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "autumn-sale"
    assert name not in web_app.campaigns()
    shot(page, "list")

    page.get_by_label("New campaign name").fill(name)
    shot(page, "name-typed")
    page.get_by_role("button", name="Create").click()

    page.wait_for_url(re.compile(rf"#/campaigns/{name}$"))
    expect(page.locator(".react-flow")).to_be_visible()  # the editor's (empty) canvas
    shot(page, "editor")
    created = web_app.campaigns()[name]
    assert created["status"] == "draft"
    assert created["created_by"] == ADMIN.username
    assert web_app.ok("GET", f"/api/campaigns/{name}")["draft"]["name"] == name

    page.goto("/#/")
    expect(row(page, name).locator(".status")).to_have_text("draft")
    shot(page, "listed")


def test_duplicate_and_archive_from_the_list(logged_in_page: Page, web_app: WebApp,
                                             shot: Shots) -> None:
    page = logged_in_page
    source, copy = "newsletter", "newsletter-web-copy"
    assert copy not in web_app.campaigns()
    dialogs: list[tuple[str, str]] = []
    answers: list[str | bool] = [copy, False, True]  # the copy's name; then no, then yes

    def answer(dialog: Dialog) -> None:
        dialogs.append((dialog.type, dialog.message))
        reply = answers.pop(0)
        if reply is False:
            dialog.dismiss()
        elif reply is True:
            dialog.accept()
        else:
            dialog.accept(str(reply))

    page.on("dialog", answer)
    archive_posts: list[str] = []
    page.on("request", lambda sent: archive_posts.append(sent.url)
            if sent.method == "POST" and sent.url.endswith("/archive") else None)
    page.get_by_role("button", name=f"Duplicate {source}").click()
    expect(row(page, copy)).to_have_count(1)
    shot(page, "duplicated")
    assert dialogs == [("prompt", f"Name of the copy of {source}")]
    listed = web_app.campaigns()
    assert listed[copy]["status"] == "draft"
    original = web_app.ok("GET", f"/api/campaigns/{source}")["draft"]
    duplicate = web_app.ok("GET", f"/api/campaigns/{copy}")["draft"]
    assert duplicate["name"] == copy
    assert duplicate["activities"] == original["activities"]

    # archiving asks first: "no" changes nothing
    page.get_by_role("button", name=f"Archive {copy}").click()
    until(page, lambda: len(dialogs) == 2, "the confirmation")
    assert dialogs[1][0] == "confirm" and copy in dialogs[1][1]
    expect(row(page, copy)).to_have_count(1)
    shot(page, "archive-dismissed")

    page.get_by_role("button", name=f"Archive {copy}").click()
    expect(row(page, copy)).to_have_count(0)  # archived campaigns leave the list
    shot(page, "archived")
    assert [kind for kind, _ in dialogs] == ["prompt", "confirm", "confirm"]
    assert web_app.campaigns()[copy]["status"] == "archived"
    assert len(archive_posts) == 1, archive_posts  # the dismissed one sent nothing
    assert web_app.campaigns()[source]["status"] == "draft"

    page.get_by_label("Show archived").check()
    expect(row(page, copy).locator(".status")).to_have_text("archived")
    expect(page.get_by_role("button", name=f"Archive {copy}")).to_have_count(0)
    shot(page, "shown-archived")


def test_logging_out_returns_to_login_and_protected_routes_redirect_there(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    assert page.request.get("/api/me").status == 200
    shot(page, "logged-in")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"#/login"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    shot(page, "logged-out")
    assert page.request.get("/api/me").status == 401  # the session ended on the server

    page.goto("/#/campaigns/spring-sale")
    page.wait_for_url(re.compile(r"#/login\?next="))
    expect(page.get_by_label("Username")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    shot(page, "redirected-to-login")

    # logging in again goes where the redirect came from
    page.get_by_label("Username").fill(ADMIN.username)
    page.get_by_label("Password").fill(ADMIN.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"#/campaigns/spring-sale$"))
    shot(page, "back-where-it-was")


def test_a_viewer_sees_the_list_without_create_duplicate_or_archive(
        page: Page, web_app: WebApp, shot: Shots) -> None:
    log_in(page, web_app, VIEWER)
    expect(page.get_by_text(f"{VIEWER.username} ({VIEWER.role.value})")).to_be_visible()
    names = set(sample_documents())
    for name in names:  # the list has loaded: what is absent below is absent for good
        expect(row(page, name)).to_have_count(1)
    shot(page, "viewer-list")

    expect(page.get_by_label("New campaign name")).to_have_count(0)
    expect(page.get_by_role("button", name="Create")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^Duplicate "))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^Archive "))).to_have_count(0)
    # and the server agrees: a viewer may not create
    refused = web_app.call("POST", "/api/campaigns", {"document": {"name": "by-viewer"}},
                           account=VIEWER)
    assert refused.status == 403


def test_the_login_form_works_with_the_keyboard_alone(page: Page, web_app: WebApp,
                                                       shot: Shots) -> None:
    page.goto("/#/login")
    username = page.get_by_label("Username")
    expect(username).to_be_visible()
    for _ in range(10):  # Tab to the username field unless it has the focus already
        if username.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(username).to_be_focused()

    page.keyboard.type(ADMIN.username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(ADMIN.password)
    shot(page, "typed")
    page.keyboard.press("Enter")

    page.wait_for_url(LIST)
    expect(page.get_by_role("table", name="Campaigns")).to_be_visible()
    expect(page.get_by_text(f"{ADMIN.username} ({ADMIN.role.value})")).to_be_visible()
    shot(page, "logged-in")
