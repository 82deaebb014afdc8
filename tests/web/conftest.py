"""Fixtures of the browser tests: a real server with the sample data and campaigns, a
headless Chromium, a fresh page per test, a logged-in page, and screenshots.

- `web_app` (session): a `WebApp` (tests/web/harness.py): `overture serve` on a
  workspace with the sample retail data, the sample campaigns (drafts, two published
  of which one is paused) and the accounts `ADMIN` and `VIEWER`; `.url`, `.call()` and
  `.ok()` (the API as an account), `.campaigns()`.
- `browser`: the shared headless Chromium (tests/web/browser.py). It is launched for
  the first browser test and closed after the last one of a row (the next test is not
  a browser test), not at the end of the session: while a sync Playwright is alive
  its event loop looks like it runs in this thread, and a test of another suite
  calling `asyncio.run()` in the same xdist worker would fail.
- `page`: a new page in a new browser context (no cookie or storage of another test),
  its base URL the server's; an uncaught exception in the page fails the test; a
  failed test leaves `failure.png` and `console.txt` beside its screenshots.
- `logged_in_page`: `page`, logged in as `ADMIN` through the form, on the list.
- `shot`: `shot(page, "name")` saves test-artifacts/web/<test>/NN-name.png.

The plugin (tests/web/plugin.py) marks every test using these fixtures `web`, keeps
them in one xdist group, and deselects them with a NOT RUN banner when Chromium,
Playwright or the web build is missing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from web.browser import launch
from web.harness import ADMIN, TIMEOUT_MS, Shots, WebApp, log_in, start_web_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

VIEWPORT = {"width": 1280, "height": 800}


class _Chromium:
    """One Playwright and one Chromium for a row of browser tests, started on demand."""

    def __init__(self) -> None:
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None

    def get(self) -> Browser:
        if self.browser is None or not self.browser.is_connected():
            if self.playwright is None:
                from playwright.sync_api import sync_playwright

                self.playwright = sync_playwright().start()
            self.browser = launch(self.playwright)
        return self.browser

    def close(self) -> None:
        browser, self.browser = self.browser, None
        playwright, self.playwright = self.playwright, None
        try:
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


_CHROMIUM = _Chromium()
_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item,
                            nextitem: pytest.Item | None) -> Generator[None, None, None]:
    yield  # the test's own fixtures (its page and context) are closed first
    if nextitem is None or nextitem.get_closest_marker("web") is None:
        _CHROMIUM.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.stash[_FAILED] = True


@pytest.fixture(scope="session")
def web_app() -> Iterator[WebApp]:
    """The server, for the whole session (one xdist worker runs every browser test).

    Its workspace is in a folder of its own, not under pytest's numbered temporary
    folders, which another pytest session starting meanwhile would prune."""
    folder = Path(tempfile.mkdtemp(prefix="overture-web-"))
    try:
        app = start_web_app(folder / "shop")
        try:
            yield app
        finally:
            code = app.server.stop()
            assert code == 0, app.server.log_path.read_text(errors="replace")[-3000:]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def browser() -> Browser:
    return _CHROMIUM.get()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


@pytest.fixture
def page(browser: Browser, web_app: WebApp, shot: Shots,
         request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, base_url=web_app.url)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    console: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("pageerror", lambda error: console.append(f"[pageerror] {error}"))
    opened.on("console", lambda message: console.append(f"[{message.type}] {message.text}"))
    try:
        yield opened
        if request.node.stash.get(_FAILED, False):
            _keep_failure(opened, shot, console)
    finally:
        context.close()
    assert not errors, f"uncaught exceptions in the page: {errors}"


def _keep_failure(page: Any, shot: Shots, console: list[str]) -> None:
    try:
        page.screenshot(path=str(shot.folder / "failure.png"), full_page=True)
    except Exception as exc:  # a crashed page still gets its console saved
        console.append(f"[harness] no failure screenshot: {exc}")
    (shot.folder / "console.txt").write_text("\n".join(console) + "\n", encoding="utf-8")


@pytest.fixture
def logged_in_page(page: Page, web_app: WebApp) -> Page:
    """`page` logged in as ADMIN, showing the campaign list."""
    log_in(page, web_app, ADMIN)
    return page
