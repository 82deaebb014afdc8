"""The browser tests' world: a real `overture serve` on a workspace with the sample
retail data and the sample campaigns, users with known passwords, and helpers to log
in and to save a screenshot of each step.

The server is the one users start (a subprocess, tests/support/server.py), on a
frozen clock at the date the sample campaigns are written for. The sample campaigns
are created through the API as drafts; two are published (so they are scheduled) and
one of those is paused, so the list shows several statuses.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import yaml

from overture.auth import Role
from overture.data.workspace import Workspace
from overture.store.users import UserRepository
from support.retail import EXAMPLES, retail_workspace
from support.server import Response, ServerProcess
from web.browser import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page

CUSTOMERS = 300
#: the instant the sample campaigns are written for (examples/campaigns/*.yaml)
CLOCK_AT = datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
#: published at start (their schedules start later than CLOCK_AT: nothing runs)
PUBLISHED = ("vip-buyers", "spring-sale-sms-reminder")
#: published, then paused
PAUSED = ("vip-buyers",)
#: where screenshots go, one folder per test (git-ignored)
ARTIFACTS = ROOT / "test-artifacts" / "web"
#: how long a browser waits for a condition before the test fails (milliseconds)
TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: Role


ADMIN = Account("ada", "ada-web-password-1", Role.ADMIN)
VIEWER = Account("vic", "vic-web-password-1", Role.VIEWER)
ACCOUNTS = (ADMIN, VIEWER)


def sample_documents() -> dict[str, dict[str, Any]]:
    """The sample campaigns (examples/campaigns/*.yaml) by name."""
    documents = {}
    for path in sorted((EXAMPLES / "campaigns").glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        documents[document["name"]] = document
    return documents


def add_accounts(root: Path, accounts: tuple[Account, ...] = ACCOUNTS) -> dict[str, str]:
    """The users, added before the server starts; an API token of each, by username."""
    ws = Workspace.open(root)
    try:
        users = UserRepository(ws.control)
        tokens = {}
        for account in accounts:
            users.add_user(account.username, account.role, account.password)
            tokens[account.username] = users.create_token(account.username, "web-tests")[1]
        return tokens
    finally:
        ws.close()


@dataclass
class WebApp:
    """The running server, its workspace, and an API token per account."""

    server: ServerProcess
    root: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, method: str, path: str, body: Any = None, *,
             account: Account = ADMIN) -> Response:
        return self.server.call(method, path, body, token=self.tokens[account.username])

    def ok(self, method: str, path: str, body: Any = None, *, status: int = 200,
           account: Account = ADMIN) -> Any:
        answer = self.call(method, path, body, account=account)
        assert answer.status == status, (method, path, answer.status, answer.body)
        return answer.body

    def campaigns(self) -> dict[str, dict[str, Any]]:
        """GET /api/campaigns, by name."""
        return {c["name"]: c for c in self.ok("GET", "/api/campaigns")["campaigns"]}


def start_web_app(root: Path) -> WebApp:
    """A workspace at `root` with the sample data, the accounts, the server started, and
    the sample campaigns created (PUBLISHED published, PAUSED paused)."""
    retail_workspace(root, CUSTOMERS)
    tokens = add_accounts(root)
    app = WebApp(ServerProcess(root, clock_at=CLOCK_AT).start(), root, tokens)
    try:
        for document in sample_documents().values():
            app.ok("POST", "/api/campaigns", {"document": document}, status=201)
        for name in PUBLISHED:
            app.ok("POST", f"/api/campaigns/{name}/publish")
        for name in PAUSED:
            app.ok("POST", f"/api/campaigns/{name}/pause")
    except BaseException:
        app.server.stop()
        raise
    return app


# ---- in the browser ----

def expect(actual: Any, message: str | None = None) -> Any:
    """Playwright's `expect` (retrying assertions), imported when first used so that the
    test modules import without Playwright (the plugin then deselects them)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(actual, message)


def log_in(page: Page, app: WebApp, account: Account) -> None:
    """Log in through the login form and wait for the campaign list."""
    page.goto(f"{app.url}/#/login")
    page.get_by_label("Username").fill(account.username)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"#/$"))
    page.get_by_role("button", name="Log out").wait_for()


def until(page: Page, condition: Callable[[], object], what: str,
          timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait for a condition observed from Python (a dialog seen, a request sent),
    letting the page's events run between looks; fail after `timeout_ms`."""
    waited = 0
    while not condition():
        if waited >= timeout_ms:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(20)  # runs Playwright's event loop: events get delivered
        waited += 20


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "test"


class Shots:
    """`shot(page, name)` saves test-artifacts/web/<test>/NN-name.png, NN counting
    from 01 in the order the steps happen; the test's folder is emptied first (a
    failed test adds failure.png and console.txt there, see conftest.py)."""

    def __init__(self, test_name: str) -> None:
        self.folder = ARTIFACTS / safe_name(test_name)
        self.count = 0
        shutil.rmtree(self.folder, ignore_errors=True)  # nothing left from an earlier run
        self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{safe_name(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


# ---- campaigns of a test's own, and the editor ----

def create_campaign(app: WebApp, document: dict[str, Any]) -> dict[str, Any]:
    """POST the document as a new campaign (a draft); the server's answer."""
    return app.ok("POST", "/api/campaigns", {"document": document}, status=201)


def draft(app: WebApp, name: str) -> dict[str, Any]:
    """The campaign's draft as the server has it."""
    return app.ok("GET", f"/api/campaigns/{name}")["draft"]


def saved_state(page: Page) -> Any:
    return page.get_by_role("status").filter(has_text=re.compile("^All changes saved$"))


def open_editor(page: Page, name: str) -> None:
    """Open the campaign's editor and wait until its canvas and save state show."""
    page.goto(f"/#/campaigns/{name}")
    expect(page.locator(".react-flow")).to_be_visible()
    expect(saved_state(page)).to_be_visible()


def save_draft(page: Page, *, keyboard: bool = False) -> None:
    """Save with the Save button (or Ctrl+S) and wait for the server's answer and the
    page's "All changes saved": the draft read from the API afterwards is this one."""
    def is_put(response: Any) -> bool:
        return response.request.method == "PUT" and response.url.endswith("/draft")

    with page.expect_response(is_put) as answer:
        if keyboard:
            page.keyboard.press("Control+s")
        else:
            page.get_by_role("button", name="Save", exact=True).click()
    assert answer.value.status == 200, answer.value.text()
    expect(saved_state(page)).to_be_visible()


def live_run_sent(app: WebApp, document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Create the campaign (no schedule: publishing starts its live run, which waits for
    an approver), confirm every waiting send through the API and wait until the run is
    done; its id and the run as the API gives it. The emails go to the outbox."""
    name = document["name"]
    create_campaign(app, document)
    app.ok("POST", f"/api/campaigns/{name}/publish")
    run_id = app.server.wait_for(
        lambda: next((r["id"] for r in app.ok("GET", f"/api/runs?campaign={name}")["runs"]
                      if r["mode"] == "live"), None), what="the live run")
    confirmed: set[str] = set()

    def finished() -> dict[str, Any] | None:
        run = app.ok("GET", f"/api/runs/{run_id}")
        if run["status"] == "waiting":  # parked: a confirmation is taken now, not before
            for task in app.ok("GET", f"/api/runs/{run_id}/tasks")["tasks"]:
                if task["kind"] == "confirmation" and task["activity"] not in confirmed:
                    app.ok("POST", f"/api/runs/{run_id}/activities/{task['activity']}/confirm")
                    confirmed.add(task["activity"])
        return run if run["status"] in ("done", "failed", "stopped") else None

    run = app.server.wait_for(finished, what=f"the live run of {name}")
    assert run["status"] == "done", run
    return run_id, run
