"""Apache Spark (PySpark) as the data plane, with the message log kept in PostgreSQL.

`[data] url = "pyspark://local[2]"` (or a cluster's master: `pyspark://host:7077`,
`pyspark://yarn`, `pyspark://k8s://https://…`) opens a Spark session through Ibis's
PySpark backend. Spark holds what is big and written in bulk: profiles and related
tables, the work tables of runs, saved audiences. What needs unique keys and small
appends (the message log and its results, tracked links, feedback events, the
suppression list and unsubscribes) stays in PostgreSQL, `[data] log_url`; a rule or an
activity that joins them with profiles reads them in Spark through JDBC views (Debian's
`libpostgresql-jdbc-java`), each query reading the rows as they are then, filters pushed
down to PostgreSQL.

One Spark application per process: its SparkContext is started on first use and shared
by every plane of the process, each plane on a session of its own (`newSession()`: its
own current database and temporary views, the same executors).
"""

from __future__ import annotations

import atexit
import getpass
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from overture.data.plane import DataPlaneError

SCHEME = "pyspark://"
#: the database (Spark's schema) a workspace's tables live in, unless the URL says
DEFAULT_DATABASE = "overture"
#: Debian's libpostgresql-jdbc-java; `jdbc_jar=` in the URL or OVERTURE_SPARK_JDBC_JAR
#: names another
DEFAULT_JDBC_JAR = "/usr/share/java/postgresql.jar"
JDBC_DRIVER = "org.postgresql.Driver"
CATALOGS = ("hive", "in-memory")
_PARAMS = ("database", "warehouse", "log_url", "catalog", "jdbc_jar")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

#: quiet Spark's own logging (it writes WARN lines to stderr, into every command's output)
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# PySpark counts as Spark's shell, whose level (WARN unless set) Spark announces on stderr
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


@dataclass(frozen=True)
class SparkSettings:
    """What a `pyspark://` URL and `overture.toml` say."""

    master: str
    database: str = DEFAULT_DATABASE
    #: where managed tables are written; None: the cluster's own setting
    warehouse: str | None = None
    #: the PostgreSQL URL of the message log and events
    log_url: str | None = None
    #: `hive`: a metastore keeps the tables between processes (an embedded Derby one
    #: beside a local warehouse, or the cluster's); `in-memory`: forgotten at exit
    catalog: str = "hive"
    jdbc_jar: str | None = None
    #: extra Spark settings (`[data.spark]` in overture.toml)
    conf: dict[str, str] = field(default_factory=dict)

    @property
    def local(self) -> bool:
        return self.master.startswith("local")


def parse_url(url: str, *, log_url: str | None = None, state_dir: Path | None = None,
              conf: dict[str, Any] | None = None) -> SparkSettings:
    """Settings from `pyspark://MASTER?database=…&warehouse=…&log_url=…&catalog=…`."""
    if not url.startswith(SCHEME):
        raise DataPlaneError(f"not a Spark URL: {url!r} (it starts with {SCHEME})")
    master_part, _, query = url[len(SCHEME):].partition("?")
    master = unquote(master_part).rstrip("/")
    params = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise DataPlaneError(f"{url}: unknown setting {unknown[0]!r}; a Spark URL takes "
                             + ", ".join(_PARAMS))
    if not master:
        raise DataPlaneError(f"{url}: no Spark master; for example pyspark://local[2] or "
                             "pyspark://spark-master.internal:7077")
    if re.fullmatch(r"local(\[(\d+|\*)(,\d+)?\])?", master) or master == "yarn" \
            or "://" in master:
        pass
    elif re.fullmatch(r"[A-Za-z0-9.-]+:\d+", master):
        master = f"spark://{master}"  # a standalone cluster's master, host:port
    else:
        raise DataPlaneError(f"{url}: {master!r} is not a Spark master: use local[N], "
                             "HOST:PORT (a standalone cluster), yarn or k8s://…")
    database = params.get("database") or DEFAULT_DATABASE
    if not _IDENT.fullmatch(database):
        raise DataPlaneError(f"{url}: database {database!r} is not a valid name: letters, "
                             "digits and underscores, not starting with a digit")
    catalog = params.get("catalog") or "hive"
    if catalog not in CATALOGS:
        raise DataPlaneError(f"{url}: catalog {catalog!r}: use hive or in-memory")
    warehouse = params.get("warehouse") or None
    if warehouse is None and state_dir is not None and master.startswith("local"):
        warehouse = str(state_dir / "spark-warehouse")
    log = params.get("log_url") or log_url
    if not log:
        raise DataPlaneError(
            "a Spark data plane keeps the message log and feedback events in PostgreSQL: "
            'set [data] log_url = "postgresql://user@host/db" in overture.toml')
    if not log.startswith(("postgresql://", "postgres://")):
        raise DataPlaneError(f"[data] log_url must be a PostgreSQL URL, not {log!r}")
    return SparkSettings(master=master, database=database, warehouse=warehouse, log_url=log,
                         catalog=catalog, jdbc_jar=params.get("jdbc_jar") or None,
                         conf={str(k): str(v) for k, v in (conf or {}).items()})


# ---------------------------------------------------------------------------------------
# the process's Spark application
# ---------------------------------------------------------------------------------------

_lock = threading.Lock()
_root: Any = None  # the SparkSession every plane of the process derives its own from


def jdbc_jar(settings: SparkSettings) -> str:
    jar = settings.jdbc_jar or os.environ.get("OVERTURE_SPARK_JDBC_JAR") or DEFAULT_JDBC_JAR
    if not Path(jar).is_file():
        raise DataPlaneError(
            f"the PostgreSQL JDBC driver {jar} is missing: Spark reads the message log and "
            "events through it; install it (apt-get install libpostgresql-jdbc-java) or "
            "name the jar with jdbc_jar= in the URL")
    return jar


def _builder_conf(settings: SparkSettings) -> dict[str, str]:
    conf = {
        "spark.app.name": "overture",
        "spark.jars": jdbc_jar(settings),
        "spark.sql.session.timeZone": "UTC",
        # Ibis reads results through pandas: Arrow makes that a columnar copy
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.catalogImplementation": settings.catalog,
    }
    if settings.local:
        conf["spark.ui.enabled"] = "false"
        conf["spark.ui.showConsoleProgress"] = "false"  # a progress bar on stderr
        # 200 shuffle partitions are for clusters; on one machine each is a task
        conf["spark.sql.shuffle.partitions"] = "4"
        log4j = Path(tempfile.gettempdir()) / "overture-spark-log4j2.properties"
        if not log4j.exists() or log4j.read_text(encoding="utf-8") != _LOG4J:
            log4j.write_text(_LOG4J, encoding="utf-8")
        java = [f"-Dlog4j.configurationFile={log4j}"]
        if settings.warehouse and "://" not in settings.warehouse:
            home = Path(settings.warehouse).resolve().parent
            home.mkdir(parents=True, exist_ok=True)
            java.append(f"-Dderby.system.home={home}")  # derby.log there, not in the cwd
            if settings.catalog == "hive":
                metastore = home / "spark-metastore"
                conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
                    f"jdbc:derby:;databaseName={metastore};create=true")
        conf["spark.driver.extraJavaOptions"] = " ".join(java)
    if settings.warehouse:
        warehouse = settings.warehouse
        if "://" not in warehouse:
            warehouse = str(Path(warehouse).resolve())
        conf["spark.sql.warehouse.dir"] = warehouse
    conf.update(settings.conf)
    return conf


def _same_master(session: Any, settings: SparkSettings) -> Any:
    """The running session, if it runs on the master asked for: one application a process."""
    running = str(session.sparkContext.master)
    if running != settings.master:
        raise DataPlaneError(
            f"this process already runs Spark on {running}; one Spark application "
            f"per process, it cannot also open {settings.master}")
    return session


def root_session(settings: SparkSettings) -> Any:
    """The process's SparkSession, started on first use with these settings."""
    global _root
    with _lock:
        if _root is not None:
            return _same_master(_root, settings)
        try:
            from pyspark import SparkContext
            from pyspark.sql import SparkSession
        except ImportError:
            raise DataPlaneError(
                "the Spark data plane needs PySpark: pip install 'overture[spark]'") from None
        if SparkContext._active_spark_context is not None:  # started by the host program
            _root = SparkSession.builder.getOrCreate()
            return _same_master(_root, settings)
        builder = SparkSession.builder.master(settings.master)
        for key, value in _builder_conf(settings).items():
            builder = builder.config(key, value)
        if settings.catalog == "hive":
            builder = builder.enableHiveSupport()
        try:
            _root = builder.getOrCreate()
        except Exception as exc:  # no Java, a master that does not answer
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataPlaneError(f"cannot start Spark on {settings.master}: {first}") from None
        _root.sparkContext.setLogLevel("ERROR")
        atexit.register(_stop)
        return _root


def _stop() -> None:
    global _root
    with _lock:
        if _root is not None:
            try:
                _root.stop()
            finally:
                _root = None


def connect(settings: SparkSettings) -> Any:
    """An Ibis PySpark backend on a new session of the process's application, its
    current database `settings.database` (created if missing)."""
    import ibis

    session = root_session(settings).newSession()
    try:
        session.sql(f"CREATE DATABASE IF NOT EXISTS `{settings.database}`")
        session.sql(f"USE `{settings.database}`")
    except Exception as exc:
        raise DataPlaneError(f"cannot use Spark database {settings.database!r}: "
                             f"{_first_line(exc)}") from None
    return ibis.pyspark.connect(session)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------
# the PostgreSQL tables, read from Spark
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Jdbc:
    url: str
    user: str
    password: str | None


def jdbc_of(log_url: str) -> Jdbc:
    """The JDBC URL and credentials of a libpq-style PostgreSQL URL."""
    parts = urlsplit(log_url)
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or 5432
    database = parts.path.lstrip("/") or (parts.username or getpass.getuser())
    user = unquote(parts.username) if parts.username else (
        os.environ.get("PGUSER") or getpass.getuser())
    password = unquote(parts.password) if parts.password else os.environ.get("PGPASSWORD")
    return Jdbc(url=f"jdbc:postgresql://{host}:{port}/{database}", user=user,
                password=password)


def register_view(session: Any, jdbc: Jdbc, schema: str, table: str) -> None:
    """Make PostgreSQL's `schema.table` readable in Spark as the temporary view `table`.

    A JDBC relation is read when a query runs, never cached: every query sees the rows
    PostgreSQL holds then, and Spark pushes simple filters down to it.
    """
    reader = (session.read.format("jdbc")
              .option("url", jdbc.url)
              .option("driver", JDBC_DRIVER)
              .option("user", jdbc.user)
              .option("dbtable", f'"{schema}"."{table}"')
              .option("fetchsize", "10000"))
    if jdbc.password:
        reader = reader.option("password", jdbc.password)
    try:
        reader.load().createOrReplaceTempView(table)
    except Exception as exc:
        raise DataPlaneError(f"Spark cannot read {table} from PostgreSQL over JDBC: "
                             f"{_first_line(exc)}") from None
