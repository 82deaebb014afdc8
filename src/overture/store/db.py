"""Opening the control-plane database: URLs, engine settings, migrations on open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from overture.errors import OvertureError

MIGRATIONS = Path(__file__).parent / "migrations"
#: PostgreSQL advisory lock key held while migrating ("ovct"), so two processes
#: opening a new database at once do not both create the tables
PG_MIGRATION_LOCK = 0x6F766374
#: how long SQLite waits for another process's write before giving up
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: execution option asking SQLite for BEGIN IMMEDIATE (see `_sqlite_events`)
WRITE = "overture_write"


class ControlStoreError(OvertureError):
    """The control plane cannot be opened or refused a write; the message says why."""


def engine_url(url: str) -> URL:
    """The SQLAlchemy URL of a `[control] url`: sqlite, or PostgreSQL through psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ControlStoreError(f"control url {url!r} is not a database url") from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed
    raise ControlStoreError(
        f"control url {url!r}: unsupported database {parsed.drivername!r}; "
        "use sqlite:///path/control.db or postgresql://user@host/db"
    )


def create_control_engine(url: str) -> Engine:
    parsed = engine_url(url)
    if parsed.get_backend_name() == "postgresql":
        # pre_ping: a long-lived server outlives PostgreSQL restarts and idle timeouts
        return create_engine(parsed, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    if not memory:
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False},  # the server shares it between threads
        poolclass=StaticPool if memory else None,  # one connection, or each gets its own db
    )
    _sqlite_events(engine)
    return engine


def _sqlite_events(engine: Engine) -> None:
    """WAL, a busy timeout and our own BEGIN.

    WAL lets readers (the CLI, the canvas) read while a run writes; the busy timeout
    makes a second writer wait instead of failing; SQLite's locks die with their
    process, so a killed run never leaves the file locked. Writes BEGIN IMMEDIATE
    (taking the write lock up front) because a deferred transaction that reads then
    writes fails at once with "database is locked" when another writer got there first.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 must not emit BEGIN itself
        cursor = dbapi_connection.cursor()
        for pragma in (
            f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
            "journal_mode = WAL",
            "synchronous = FULL",  # a returned commit survives a crash or power cut
            "foreign_keys = ON",
            "case_sensitive_like = ON",  # prefix lookups behave as on PostgreSQL
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config() -> Config:
    """The Alembic config, built in code: no alembic.ini is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already.

    The upgrade runs in one transaction holding a lock (PostgreSQL: an advisory lock;
    SQLite: BEGIN IMMEDIATE), so a second process opening at the same moment waits
    and then finds the schema up to date.
    """
    config = alembic_config()
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
    if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
        raise ControlStoreError(
            f"the control plane is at schema revision {current!r}, newer than this version "
            f"of Overture knows (up to {head!r}): upgrade Overture"
        )
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
