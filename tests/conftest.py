"""Shared fixtures: a fresh PostgreSQL schema per test, and control-plane URLs for both databases.

Without `OVERTURE_TEST_POSTGRES_URL` the PostgreSQL tests are deselected, never skipped,
and a banner at the end says how many did not run. With `OVERTURE_REQUIRE_POSTGRES=1`
(CI) a missing URL or an unreachable server fails the session at once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

PG_ENV = "OVERTURE_TEST_POSTGRES_URL"
REQUIRE_ENV = "OVERTURE_REQUIRE_POSTGRES"
PG_EXAMPLE = "postgresql://postgres@127.0.0.1:5432/test"
NOT_RUN = pytest.StashKey[int]()
#: the browser tests' plugin (NOT RUN banner, OVERTURE_REQUIRE_BROWSER), registered here so
#: that the xdist controller, which never reads tests/web/conftest.py, loads it too
pytest_plugins = ["web.plugin"]


def _libpq_url(url: str) -> str:
    """A URL psycopg understands (drops a SQLAlchemy `+driver`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput") or os.environ.get(REQUIRE_ENV) != "1":
        return
    url = os.environ.get(PG_ENV)
    if not url:
        raise pytest.UsageError(f"{REQUIRE_ENV}=1 but {PG_ENV} is not set (e.g. {PG_EXAMPLE})")
    try:
        psycopg.connect(_libpq_url(url), connect_timeout=5).close()
    except Exception as exc:
        message = f"{REQUIRE_ENV}=1 but PostgreSQL at {url} is unreachable: {exc}"
        raise pytest.UsageError(message) from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
    if os.environ.get(PG_ENV):
        return
    kept = [item for item in items if item.get_closest_marker("postgres") is None]
    deselected = [item for item in items if item.get_closest_marker("postgres") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
    config.stash[NOT_RUN] = len(deselected)
    if hasattr(config, "workerinput"):  # xdist: the controller prints the banner
        config.workeroutput["postgres_not_run"] = len(deselected)  # type: ignore[attr-defined]


class _XdistBanner:
    """Collects the workers' counts: under xdist only they collect tests."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_testnodedown(self, node: object, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        count = max(self.config.stash.get(NOT_RUN, 0), output.get("postgres_not_run", 0))
        self.config.stash[NOT_RUN] = count


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_XdistBanner(config), "overture-xdist-banner")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    count = terminalreporter.config.stash.get(NOT_RUN, 0)
    if count:
        terminalreporter.write_sep(
            "!",
            f"NOT RUN: {count} PostgreSQL tests — set {PG_ENV}={PG_EXAMPLE} to run them",
            red=True,
            bold=True,
        )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new empty schema (dropped afterwards) on the server of $OVERTURE_TEST_POSTGRES_URL."""
    base = os.environ.get(PG_ENV)
    if not base:  # only reachable by bypassing the deselection above
        raise RuntimeError(f"{PG_ENV} is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = _libpq_url(base)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")  # a leaked connection fails, not hangs
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def control_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A control-plane URL, once on SQLite (a file in tmp_path) and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control.db'}"
    return str(request.getfixturevalue("postgres_url"))
