"""Shared fixtures: a fresh PostgreSQL schema per test, control-plane URLs for both
databases, and the data-plane backends the targeting, delivery, feedback and report
suites run on (`data_backend`, `data_url`, `data_urls`).

Without `OVERTURE_TEST_POSTGRES_URL` the PostgreSQL tests are deselected, never skipped,
and a banner at the end says how many did not run. With `OVERTURE_REQUIRE_POSTGRES=1`
(CI) a missing URL or an unreachable server fails the session at once.

Spark (`spark`, marked `spark` and `postgres`: its message log is in PostgreSQL) runs on
one SparkSession per xdist worker (`local[2]`), a fresh Spark database and PostgreSQL
schema per test. `-m "not spark"` leaves it out (`make test`); `make test-spark` runs it.
Without PySpark or Java, the Spark tests are deselected and counted in the NOT RUN banner.

A test that a backend cannot pass says so with `@pytest.mark.xfail_backend(BACKEND,
reason=...)`: on that backend it is a strict xfail (it fails the run once it passes),
on the others an ordinary test.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy.engine import make_url

PG_ENV = "OVERTURE_TEST_POSTGRES_URL"
REQUIRE_ENV = "OVERTURE_REQUIRE_POSTGRES"
#: CI: the Spark tests must run (PySpark, Java and the JDBC driver installed)
REQUIRE_SPARK_ENV = "OVERTURE_REQUIRE_SPARK"
PG_EXAMPLE = "postgresql://postgres@127.0.0.1:5432/test"
NOT_RUN = pytest.StashKey[int]()
SPARK_NOT_RUN = pytest.StashKey[int]()
#: the master every Spark test runs on (the must-show: local[2])
SPARK_MASTER = "local[2]"


def spark_missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install -c constraints.txt -e '.[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (Spark needs Java 17)"
    from overture.data.spark import DEFAULT_JDBC_JAR

    if not Path(os.environ.get("OVERTURE_SPARK_JDBC_JAR", DEFAULT_JDBC_JAR)).is_file():
        return "the PostgreSQL JDBC driver is missing (apt-get install libpostgresql-jdbc-java)"
    return None
#: the browser tests' plugin (NOT RUN banner, OVERTURE_REQUIRE_BROWSER), registered here so
#: that the xdist controller, which never reads tests/web/conftest.py, loads it too
pytest_plugins = ["web.plugin"]


def _libpq_url(url: str) -> str:
    """A URL psycopg understands (drops a SQLAlchemy `+driver`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return
    if os.environ.get(REQUIRE_SPARK_ENV) == "1" and spark_missing() is not None:
        raise pytest.UsageError(f"{REQUIRE_SPARK_ENV}=1 but {spark_missing()}")
    if os.environ.get(REQUIRE_ENV) != "1":
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
        if {"postgres_url", "postgres_urls"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
        _xfail_on_backend(item)
    if spark_missing() is not None:
        spark = [item for item in items if item.get_closest_marker("spark") is not None]
        if spark:
            config.hook.pytest_deselected(items=spark)
            items[:] = [item for item in items if item.get_closest_marker("spark") is None]
        config.stash[SPARK_NOT_RUN] = len(spark)
        if hasattr(config, "workerinput"):
            config.workeroutput["spark_not_run"] = len(spark)  # type: ignore[attr-defined]
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
        spark = max(self.config.stash.get(SPARK_NOT_RUN, 0), output.get("spark_not_run", 0))
        self.config.stash[SPARK_NOT_RUN] = spark


def _xfail_on_backend(item: pytest.Item) -> None:
    """`xfail_backend(NAME, ..., reason=...)`: a strict xfail on the data backends named."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("data_backend") if callspec else None
    for mark in item.iter_markers("xfail_backend"):
        if backend in mark.args:
            item.add_marker(pytest.mark.xfail(
                strict=True, reason=f"{backend}: {mark.kwargs['reason']}"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "xfail_backend(*backends, reason): a strict xfail on those data backends")
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_XdistBanner(config), "overture-xdist-banner")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    spark = terminalreporter.config.stash.get(SPARK_NOT_RUN, 0)
    if spark:
        terminalreporter.write_sep(
            "!", f"NOT RUN: {spark} Spark tests — {spark_missing()}", red=True, bold=True)
    count = terminalreporter.config.stash.get(NOT_RUN, 0)
    if count:
        terminalreporter.write_sep(
            "!",
            f"NOT RUN: {count} PostgreSQL tests — set {PG_ENV}={PG_EXAMPLE} to run them",
            red=True,
            bold=True,
        )


def _new_schema() -> tuple[str, str]:
    """A new empty schema on the server of $OVERTURE_TEST_POSTGRES_URL: (URL, schema)."""
    base = os.environ.get(PG_ENV)
    if not base:  # only reachable by bypassing the deselection above
        raise RuntimeError(f"{PG_ENV} is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(base), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _drop_schemas(schemas: list[str]) -> None:
    if not schemas:
        return
    with psycopg.connect(_libpq_url(os.environ[PG_ENV]), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")  # a leaked connection fails, not hangs
        for schema in schemas:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new empty schema (dropped afterwards) on the server of $OVERTURE_TEST_POSTGRES_URL."""
    url, schema = _new_schema()
    try:
        yield url
    finally:
        _drop_schemas([schema])


#: the backends of suites that do not run on Spark (tests/data, tests/privacy override
#: `data_backend` with these)
DATA_BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
#: the targeting, delivery, feedback and report suites: Spark too
ALL_DATA_BACKENDS = [*DATA_BACKENDS,
                     pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.postgres])]


@pytest.fixture(scope="session", params=ALL_DATA_BACKENDS)
def data_backend(request: pytest.FixtureRequest) -> str:
    """The data-plane backend a test runs on: `duckdb`, `postgres` (marked `postgres`, so
    it follows the NOT RUN rules above), then `spark` (marked `spark` and `postgres`).
    Tests take `data_url` or `data_urls`."""
    return str(request.param)


@pytest.fixture
def data_url(data_backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The `[data] url` of one test's workspace: None (the workspace's own DuckDB file), a
    new PostgreSQL schema, or a new Spark database (its log in a new PostgreSQL schema);
    dropped after the test."""
    if data_backend == "duckdb":
        yield None
    elif data_backend == "postgres":
        yield str(request.getfixturevalue("postgres_url"))
    else:
        urls = request.getfixturevalue("spark_session")
        url, drop = urls()
        try:
            yield url
        finally:
            drop()


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Callable[[], tuple[str, Callable[[], None]]]]:
    """The worker's Spark application (local[2], started once, its warehouse in a
    temporary folder, its catalog in memory: a quarter faster than the default Hive
    metastore, which tests/data/test_spark_plane.py covers between processes); calling it
    gives a `pyspark://` URL of a new database, its log in a new PostgreSQL schema, and a
    function dropping both."""
    from overture.data import spark

    folder = tmp_path_factory.mktemp("spark")
    settings = spark.SparkSettings(master=SPARK_MASTER, warehouse=str(folder / "warehouse"),
                                   log_url=os.environ.get(PG_ENV), catalog="in-memory")
    root = spark.root_session(settings)

    def new() -> tuple[str, Callable[[], None]]:
        log_url, schema = _new_schema()
        database = f"t_{uuid.uuid4().hex[:12]}"
        url = (f"pyspark://{SPARK_MASTER}?database={database}"
               f"&log_url={quote(log_url, safe='')}")

        def drop() -> None:
            root.sql(f"DROP DATABASE IF EXISTS `{database}` CASCADE")
            _drop_schemas([schema])

        return url, drop

    yield new


def _spark_urls(request: pytest.FixtureRequest) -> Callable[[], str]:
    """`spark_urls()` for a shared workspace: each dropped at the end of the session."""
    factory = request.getfixturevalue("spark_session")
    drops: list[Callable[[], None]] = []

    def new() -> str:
        url, drop = factory()
        drops.append(drop)
        return str(url)

    def drop_all() -> None:
        for drop in drops:
            drop()

    request.addfinalizer(drop_all)
    return new


@pytest.fixture(scope="session")
def postgres_urls() -> Iterator[Callable[[], str]]:
    """`postgres_urls()`: a new schema each call, for a workspace shared by a module's or
    the session's tests; all are dropped at the end of the session."""
    schemas: list[str] = []

    def new() -> str:
        url, schema = _new_schema()
        schemas.append(schema)
        return url

    try:
        yield new
    finally:
        _drop_schemas(schemas)


@pytest.fixture(scope="session")
def data_urls(data_backend: str, request: pytest.FixtureRequest
              ) -> Callable[[], str | None]:
    """`data_urls()`: a `[data] url` for a workspace shared by a module's or the session's
    tests: None on DuckDB, `postgres_urls()` on PostgreSQL, a new Spark database on Spark."""
    if data_backend == "duckdb":
        return lambda: None
    if data_backend == "spark":
        return _spark_urls(request)
    return request.getfixturevalue("postgres_urls")  # type: ignore[no-any-return]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def control_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A control-plane URL, once on SQLite (a file in tmp_path) and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control.db'}"
    return str(request.getfixturevalue("postgres_url"))
