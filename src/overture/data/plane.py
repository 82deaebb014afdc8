"""The data plane: one Ibis backend holding profiles, work tables and audiences.

Everything set-shaped runs inside this engine; Python only names tables, asks for
counts and reads the first rows of a preview.

On Spark the plane has two engines: Spark for profiles, work tables and audiences, and
PostgreSQL (`log`, a plane of its own) for the tables that need unique keys and small
appends (LOG_TABLES: the message log, events, links, suppressions, unsubscribes). Their
modules write through `plane.log`; `table_any` of one of them gives a Spark view of the
PostgreSQL table (data.spark), so that rules and activities join it with profiles
inside Spark. On DuckDB and PostgreSQL `log` is the plane itself.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

if TYPE_CHECKING:
    from overture.data.spark import SparkSettings

#: prefixes of the tables the engine owns; user tables never start with them
WORK_PREFIX = "ovw_"
AUDIENCE_PREFIX = "ova_"
INTERNAL_PREFIX = "overture_"
#: Ibis registers in-memory tables as temporary views named like this
IBIS_PREFIX = "ibis_"
MAX_IDENT = 63  # PostgreSQL's limit, the smallest of the supported engines
#: the tables a Spark plane keeps in PostgreSQL (its `log` plane): unique keys, small appends
LOG_TABLES = frozenset(f"{INTERNAL_PREFIX}{name}" for name in (
    "messages", "message_results", "events", "links", "suppressions", "unsubscribes"))


class DataPlaneError(Exception):
    """A data-plane problem worth a clear message (unknown table, unreachable server)."""


def safe_name(*parts: str) -> str:
    """A table name from parts, shortened with a hash when longer than any engine allows."""
    name = "_".join(parts)
    if len(name) <= MAX_IDENT:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_IDENT - 11]}_{digest}"


def work_table_name(run_id: str, activity: str, port: str) -> str:
    """Unique per (run, activity, port): two runs never write the same table."""
    run = re.sub(r"[^a-z0-9]", "", run_id.lower())[:16]
    return safe_name(f"{WORK_PREFIX}{run}", activity, port)


def run_prefix(run_id: str) -> str:
    run = re.sub(r"[^a-z0-9]", "", run_id.lower())[:16]
    return f"{WORK_PREFIX}{run}_"


def audience_table_name(audience: str) -> str:
    """`ova_NAME`; a name with other characters than letters, digits and underscores (a
    space: Spark takes no such table names) has them replaced and a hash of it added."""
    plain = re.sub(r"[^A-Za-z0-9_]", "_", audience)
    if plain != audience:
        plain = f"{plain}_{hashlib.sha1(audience.encode()).hexdigest()[:8]}"
    return safe_name(f"{AUDIENCE_PREFIX}{plain}")


@dataclass
class DataPlane:
    url: str
    con: BaseBackend
    #: table expressions kept while `pinned()`: a run reads the same tables many times
    _pinned: dict[str, ir.Table] | None = field(default=None, repr=False)
    #: Spark only: the PostgreSQL plane holding LOG_TABLES, and the settings it came from
    log_plane: DataPlane | None = field(default=None, repr=False)
    spark: SparkSettings | None = field(default=None, repr=False)
    #: Spark only: LOG_TABLES made readable in this plane's session (as JDBC views)
    _views: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def connect(cls, url: str, *, log_url: str | None = None, state_dir: Path | None = None,
                spark_conf: dict[str, Any] | None = None) -> DataPlane:
        """Open the plane of `url`; `log_url`, `state_dir` (the workspace's .overture/, for
        a local warehouse) and `spark_conf` matter to a `pyspark://` URL only."""
        if url.startswith("pyspark://"):
            from overture.data import spark

            return cls.connect_spark(spark.parse_url(url, log_url=log_url, state_dir=state_dir,
                                                     conf=spark_conf), url)
        try:
            if url.startswith("duckdb://"):
                path = url[len("duckdb://"):]
                path = path[1:] if path.startswith("/") and path != "/" else path
                path = "/" + path if not path.startswith((":", "/")) and path else path
                con = ibis.duckdb.connect(path or ":memory:")
                # its progress bar writes to stdout, into `--json` output of long runs
                con.con.execute("SET enable_progress_bar = false")
            else:
                con = ibis.connect(url)
        except Exception as exc:  # driver errors vary by backend
            raise DataPlaneError(f"cannot open the data plane at {url}: {exc}") from None
        return cls(url=url, con=con)

    @classmethod
    def connect_spark(cls, settings: SparkSettings, url: str) -> DataPlane:
        from overture.data import spark

        assert settings.log_url is not None
        log = cls.connect(settings.log_url)
        if log.backend != "postgres":
            log.close()
            raise DataPlaneError(f"[data] log_url must be PostgreSQL, not {log.backend}")
        try:
            con = spark.connect(settings)
        except BaseException:
            log.close()
            raise
        return cls(url=url, con=con, log_plane=log, spark=settings)

    @property
    def log(self) -> DataPlane:
        """The plane holding LOG_TABLES: PostgreSQL beside Spark, else this one."""
        return self.log_plane if self.log_plane is not None else self

    def for_thread(self) -> DataPlane:
        """A plane for another thread on the same database.

        DuckDB connections are not shared between threads: each gets a cursor of this
        one (same database, same catalog, its own transaction state). Other backends
        get a connection of their own.
        """
        if self.backend == "duckdb":
            con = ibis.duckdb.from_connection(self.con.con.cursor())
            con.con.execute("SET enable_progress_bar = false")
            return DataPlane(url=self.url, con=con)
        if self.spark is not None:
            return DataPlane.connect_spark(self.spark, self.url)
        return DataPlane.connect(self.url)

    @property
    def backend(self) -> str:
        return str(self.con.name)

    # ---- catalog ----
    def list_tables(self, *, include_internal: bool = False) -> list[str]:
        names = sorted(self.con.list_tables())
        if include_internal:
            return names
        return [n for n in names if not n.startswith((WORK_PREFIX, AUDIENCE_PREFIX,
                                                       INTERNAL_PREFIX, IBIS_PREFIX))]

    def has_table(self, name: str) -> bool:
        if self.log_plane is not None and name in LOG_TABLES:
            return self.log_plane.has_table(name)
        return name in self.con.list_tables()

    def table(self, name: str) -> ir.Table:
        return self.table_any(name)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Keep table expressions (and their schemas) while the block runs.

        For a run, where only the engine changes tables: looking a table's schema up
        costs a query, and a run looks the same tables up dozens of times.
        """
        self._pinned = {}
        try:
            yield
        finally:
            self._pinned = None

    def columns_of(self) -> dict[str, dict[str, str]]:
        """`{table: {column: type}}` for every user table, for checking names statically."""
        out: dict[str, dict[str, str]] = {}
        for name in self.list_tables():
            schema = self.con.table(name).schema()
            out[name] = {col: str(dtype) for col, dtype in schema.items()}
        return out

    # ---- work tables ----
    def materialize(self, expr: ir.Table, name: str) -> int:
        """Write `expr` as table `name` (replacing it) and return its row count."""
        self._forget(name)
        if self.backend == "pyspark":
            table = self._spark_replace(expr, name)
        else:
            table = self.con.create_table(name, expr, overwrite=True)
        if self._pinned is not None:
            self._pinned[name] = table
        return int(table.count().execute())

    def _spark_replace(self, expr: ir.Table, name: str) -> ir.Table:
        """Spark refuses to overwrite a table the query reads: write a new one and swap."""
        try:
            return self.con.create_table(name, expr, overwrite=True)
        except Exception as exc:
            if "UNSUPPORTED_OVERWRITE" not in str(exc):
                raise
        staged = safe_name(name[: MAX_IDENT - 13], "new", uuid.uuid4().hex[:8])
        self.con.create_table(staged, expr)
        self.con.drop_table(name, force=True)
        self.con.rename_table(staged, name)
        return self.con.table(name)

    def drop(self, name: str) -> None:
        self._forget(name)
        if self.log_plane is not None and name in LOG_TABLES:
            self.log_plane.drop(name)
            return
        self.con.drop_table(name, force=True)

    def _forget(self, name: str) -> None:
        if self._pinned is not None:
            self._pinned.pop(name, None)

    def count(self, expr: ir.Table) -> int:
        return int(expr.count().execute())

    def sql(self, expr: ir.Expr) -> str:
        return str(ibis.to_sql(expr, dialect=self.backend))

    def preview(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        table = self.table_any(name)
        return table.limit(limit).to_pyarrow().to_pylist()

    def table_any(self, name: str) -> ir.Table:
        """A table the engine owns (work table, audience) or a user table."""
        if self._pinned is not None and name in self._pinned:
            return self._pinned[name]
        if self.log_plane is not None and name in LOG_TABLES:
            return self.log_table(name)
        if not self.has_table(name):
            raise DataPlaneError(f"table {name!r} is not in the data plane")
        table = self.con.table(name)
        if self._pinned is not None:
            self._pinned[name] = table
        return table

    def log_table(self, name: str) -> ir.Table:
        """One of LOG_TABLES as a table of this plane's engine, to join with profiles.

        Beside Spark: a view reading the PostgreSQL table over JDBC at each query (so it
        is never stale), registered once per session.
        """
        if self.log_plane is None:
            return self.con.table(name)
        if name not in self._views:
            from overture.data import spark

            if not self.log_plane.has_table(name):
                raise DataPlaneError(f"table {name!r} is not in the data plane")
            assert self.spark is not None and self.spark.log_url is not None
            schema = self.log_plane.current_schema()
            spark.register_view(self.con._session,
                                spark.jdbc_of(self.spark.log_url), schema, name)
            self._views[name] = schema
        return self.con.table(name)

    def current_schema(self) -> str:
        """PostgreSQL: the schema new tables go to (where LOG_TABLES are)."""
        with self.con.con.cursor() as cursor:
            row = cursor.execute("SELECT current_schema()").fetchone()
        if row is None or row[0] is None:
            raise DataPlaneError("the PostgreSQL search path names no schema that exists")
        return str(row[0])

    def append(self, name: str, rows: Any) -> None:
        """Append an Arrow table to table `name` in one statement.

        On DuckDB the rows are registered, inserted and unregistered at once: an Ibis
        memtable stays registered (and in memory) for the connection's life, which a
        sender appending every few hundred results would pile up. On PostgreSQL they
        are sent with COPY (data.bulk): a memtable would be one INSERT per row.
        """
        if self.log_plane is not None and name in LOG_TABLES:
            self.log_plane.append(name, rows)
        elif self.backend == "duckdb":
            raw = self.con.con
            view = f"{IBIS_PREFIX}append_{uuid.uuid4().hex}"
            raw.register(view, rows)
            try:
                columns = ", ".join(f'"{c}"' for c in rows.column_names)
                raw.execute(f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "{view}"')
            finally:
                raw.unregister(view)
        elif self.backend == "postgres":
            from overture.data.bulk import copy_arrow

            with self.con.con.cursor() as cursor:
                copy_arrow(cursor, name, rows)
        elif self.backend == "pyspark":
            # Spark 4 takes Arrow as it is; columns by name, as the table orders them
            session = self.con._session
            order = list(self.con.table(name).columns)
            session.createDataFrame(rows).select(*order).write.insertInto(name)
        else:
            self.con.insert(name, ibis.memtable(rows))

    def execute(self, statements: list[tuple[str, list[Any]]]) -> None:
        """Run SQL statements in one transaction, values bound to `?` placeholders.

        For the few writes Ibis has no verb for (UPDATE … FROM); statements name only
        the engine's own tables, and every value is bound, never pasted in.
        """
        if self.backend == "duckdb":
            raw = self.con.con
            raw.execute("BEGIN TRANSACTION")
            try:
                for sql, params in statements:
                    raw.execute(sql, params)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
        elif self.backend == "postgres":
            conn = self.con.con
            with conn.transaction(), conn.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute(sql.replace("?", "%s"), params)
        else:
            raise DataPlaneError(f"raw statements are not supported on {self.backend}: "
                                 "this needs DuckDB or PostgreSQL")

    def ping(self) -> str:
        """Ask the engine a trivial question (readiness); its backend name."""
        if self.backend == "duckdb":
            self.con.con.execute("SELECT 1").fetchone()
        elif self.backend == "postgres":
            with self.con.con.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        elif self.backend == "pyspark":
            self.con._session.sql("SELECT 1").collect()
            self.log.ping()
        else:
            self.con.list_tables()
        return self.backend

    def close(self) -> None:
        if self.log_plane is not None:
            self.log_plane.close()
        if self.spark is not None:
            # the process's SparkContext serves its other planes: only this session's
            # views go (the context stops when the process exits)
            for name in self._views:
                self.con._session.catalog.dropTempView(name)
            self._views.clear()
            return
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect:
            disconnect()
