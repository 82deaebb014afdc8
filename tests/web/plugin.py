"""The browser tests' pytest plugin: the `web` marker, one xdist group, and a loud NOT RUN
banner when Chromium, Playwright or the web build is missing.

Registered by tests/conftest.py (`pytest_plugins`), so that the xdist controller,
which collects nothing and so never reads tests/web/conftest.py, prints the banner.
Like the PostgreSQL tests (tests/conftest.py): tests marked `web` are deselected,
never skipped, when the browser cannot run, and the summary ends with how many did
not run and why. With `OVERTURE_REQUIRE_BROWSER=1` (CI, `.ci/run`) a missing browser
fails the session at once instead.
"""

from __future__ import annotations

import os

import pytest

from web.browser import missing

REQUIRE_ENV = "OVERTURE_REQUIRE_BROWSER"
#: every browser test runs on one xdist worker: one Chromium at a time
GROUP = "web"
#: fixtures that drive a browser: a test using one is a browser test even unmarked
BROWSER_FIXTURES = {"browser", "page", "logged_in_page"}
NOT_RUN = pytest.StashKey[int]()
WORKER_KEY = "browser_not_run"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"web: drives a browser (Chromium through Playwright); in xdist group {GROUP!r}")
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_XdistBanner(config), "overture-browser-banner")


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput") or os.environ.get(REQUIRE_ENV) != "1":
        return
    reason = missing()
    if reason:
        raise pytest.UsageError(f"{REQUIRE_ENV}=1 but the browser tests cannot run: {reason}")


@pytest.hookimpl(tryfirst=True)  # before xdist's hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.web)
        web = item.get_closest_marker("web") is not None
        if web and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(GROUP))
    reason = missing()
    if reason is None:
        return
    kept = [item for item in items if item.get_closest_marker("web") is None]
    deselected = [item for item in items if item.get_closest_marker("web") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
    config.stash[NOT_RUN] = len(deselected)
    if hasattr(config, "workerinput"):  # xdist: the controller prints the banner
        config.workeroutput[WORKER_KEY] = len(deselected)  # type: ignore[attr-defined]


class _XdistBanner:
    """Collects the workers' counts: under xdist only they collect tests."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_testnodedown(self, node: object, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        count = max(self.config.stash.get(NOT_RUN, 0), output.get(WORKER_KEY, 0))
        self.config.stash[NOT_RUN] = count


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    count = terminalreporter.config.stash.get(NOT_RUN, 0)
    if count:
        terminalreporter.write_sep(
            "!", f"NOT RUN: {count} browser tests — {missing()}", red=True, bold=True)
