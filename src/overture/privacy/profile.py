"""Finding one person: the profile row, its key as the engine holds it, and every place
the workspace keeps something about it (linked rows, audiences, work tables, messages,
addresses).

Each place is an Ibis expression or a table name, so that the export reads it and
`forget` deletes it with one statement per table, never row by row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from overture.data import audiences, messages, suppressions
from overture.data.catalog import Link
from overture.data.plane import WORK_PREFIX, DataPlane
from overture.errors import OvertureError

if TYPE_CHECKING:
    from overture.data.workspace import Workspace

#: how an anonymised profile key starts in the message log
PSEUDONYM_PREFIX = "sha256:"
#: work tables looked up per statement (a UNION ALL of one probe each)
PROBE_CHUNK = 100
_KEY_TEXT = "_overture_key_text"


class PrivacyError(OvertureError):
    """An export, erasure or expiry that cannot be done, and why."""


@dataclass(frozen=True)
class Profile:
    """One person of a dimension, as found in the data plane."""

    dimension: str
    key_column: str
    #: the key as the engine returned it (a Python value of the column's type)
    key: Any
    #: the key cast to text by the engine: how the message log and unsubscribes hold it
    key_text: str
    #: the profile's row (several only when the key column is not unique)
    rows: list[dict[str, Any]]

    @property
    def pseudonym(self) -> str:
        return pseudonym(self.dimension, self.key_text)

    def table(self, plane: DataPlane) -> ir.Table:
        """The profile's row(s) as an expression."""
        table = plane.table_any(self.dimension)
        return table.filter(table[self.key_column] == self.key)


def pseudonym(dimension: str, key_text: str) -> str:
    """What replaces a forgotten profile's key in the message log: `sha256:` and the hex
    SHA-256 of `dimension:key`. The same for every row of the person, so counts of
    messages and of distinct profiles stay right."""
    digest = hashlib.sha256(f"{dimension}:{key_text}".encode()).hexdigest()
    return PSEUDONYM_PREFIX + digest


def quote(name: str) -> str:
    """An identifier quoted for DuckDB and PostgreSQL alike."""
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------
# the profile
# ---------------------------------------------------------------------------------------

def dimension_of(ws: Workspace, dimension: str | None) -> str:
    """The dimension asked for, else the catalog's target; checked against schema.yaml."""
    name = dimension or ws.catalog.target
    if not name:
        raise PrivacyError("no dimension: pass --dimension TABLE or set `target` in "
                           "schema.yaml")
    if name not in ws.catalog.tables:
        declared = ", ".join(sorted(ws.catalog.tables)) or "none"
        raise PrivacyError(f"{name!r} is not a table of schema.yaml (tables: {declared})")
    if not ws.data.has_table(name):
        raise PrivacyError(f"table {name!r} is not loaded in the data plane")
    return name


def _key_value(dtype: dt.DataType, text: str, where: str) -> Any:
    """The key typed like its column: compared as a number, a date… never as text."""
    if dtype.is_integer():
        try:
            return int(text.strip())
        except ValueError:
            raise PrivacyError(f"{text!r} is not a key of {where}, which holds whole "
                               "numbers") from None
    if dtype.is_floating() or dtype.is_decimal():
        try:
            float(text.strip())
        except ValueError:
            raise PrivacyError(f"{text!r} is not a key of {where}, which holds numbers") \
                from None
        return ibis.literal(text.strip()).cast(dtype)
    if dtype.is_string():
        return text
    return ibis.literal(text.strip()).cast(dtype)


def find_profile(ws: Workspace, key: str, dimension: str | None = None) -> Profile:
    """The profile of this key (given as text) in the dimension, or a PrivacyError."""
    dim = dimension_of(ws, dimension)
    column = ws.catalog.tables[dim].key
    table = ws.data.table_any(dim)
    if column not in table.columns:
        raise PrivacyError(f"table {dim!r} has no column {column!r} (its key in schema.yaml)")
    where = f"{dim}.{column}"
    wanted = _key_value(table.schema()[column], key, where)
    matched = table.filter(table[column] == wanted)
    matched = matched.mutate(**{_KEY_TEXT: matched[column].cast("string")})
    try:
        rows: list[dict[str, Any]] = matched.to_pyarrow().to_pylist()
    except Exception as exc:  # the engine could not read the text as the column's type
        raise PrivacyError(f"{key!r} cannot be read as a key of {where} "
                           f"({table.schema()[column]}): {_first_line(exc)}") from None
    if not rows:
        raise PrivacyError(f"no profile {key!r} in {dim!r} (key {column})")
    key_text = str(rows[0].pop(_KEY_TEXT))
    for row in rows[1:]:
        row.pop(_KEY_TEXT)
    return Profile(dim, column, rows[0][column], key_text, rows)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---------------------------------------------------------------------------------------
# linked tables
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Linked:
    """A link of the profile's table and the rows it reaches from the profile."""

    name: str
    link: Link
    rows: ir.Table | None  # None when the linked table is not loaded
    #: the linked table's column holding the profile's key, when the link's `on` is
    #: exactly {key: that column}: only then are its rows the person's alone to delete
    key_column: str | None


def linked(ws: Workspace, profile: Profile) -> list[Linked]:
    """Every link of the profile's table (one level deep), with the rows it reaches."""
    plane = ws.data
    spec = ws.catalog.tables[profile.dimension]
    found = []
    for name, link in spec.links.items():
        mine = profile.table(plane).view()
        key_column = None
        if list(link.on) == [profile.key_column]:
            key_column = link.on[profile.key_column]
        if not plane.has_table(link.table):
            found.append(Linked(name, link, None, key_column))
            continue
        other = plane.table_any(link.table)
        missing = [c for c in link.on.values() if c not in other.columns] + \
                  [c for c in link.on if c not in mine.columns]
        if missing:
            raise PrivacyError(f"link {profile.dimension}.{name}: no column "
                               f"{missing[0]!r} (check schema.yaml)")
        predicates = [other[theirs] == mine[ours] for ours, theirs in link.on.items()]
        found.append(Linked(name, link, other.semi_join(mine, predicates), key_column))
    return found


# ---------------------------------------------------------------------------------------
# audiences and work tables
# ---------------------------------------------------------------------------------------

def audiences_holding(plane: DataPlane, profile: Profile
                      ) -> list[tuple[audiences.AudienceInfo, list[dict[str, Any]]]]:
    """Saved audiences of the dimension holding the key, with the person's rows."""
    held = []
    for info in audiences.list_audiences(plane):
        if info.dimension != profile.dimension or not plane.has_table(info.table_name):
            continue
        table = plane.table_any(info.table_name)
        if profile.key_column not in table.columns:
            continue
        rows = table.filter(table[profile.key_column] == profile.key).to_pyarrow().to_pylist()
        if rows:
            held.append((info, rows))
    return held


@dataclass(frozen=True)
class WorkTable:
    """A run's work table (the rows through one port) that holds the key."""

    table: str
    run: str
    activity: str | None
    port: str | None


def work_tables_holding(ws: Workspace, profile: Profile) -> list[WorkTable]:
    """The work tables of runs holding the key, each with its run, activity and port.

    A work table holds its dimension's key column: those with a column of the key's
    name and type are probed, in a few UNION ALL statements. When another table of
    schema.yaml has a key of the same name, a table counts only if its run's document
    says the port is of this dimension (or cannot say).
    """
    plane = ws.data
    dtype = plane.table_any(profile.dimension).schema()[profile.key_column]
    candidates: dict[str, ir.Table] = {}
    for name in plane.list_tables(include_internal=True):
        if not name.startswith(WORK_PREFIX):
            continue
        table = plane.con.table(name)
        column_type = table.schema().get(profile.key_column)
        if column_type is not None and column_type.copy(nullable=True) == \
                dtype.copy(nullable=True):
            candidates[name] = table
    names = list(candidates)
    holding: list[str] = []
    for start in range(0, len(names), PROBE_CHUNK):
        probes = []
        for name in names[start:start + PROBE_CHUNK]:
            table = candidates[name]
            probes.append(table.filter(table[profile.key_column] == profile.key)
                          .select(t=ibis.literal(name)).limit(1))
        union = probes[0] if len(probes) == 1 else ibis.union(*probes, distinct=False)
        holding.extend(row["t"] for row in union.to_pyarrow().to_pylist())
    shared = any(spec.key == profile.key_column for name, spec in ws.catalog.tables.items()
                 if name != profile.dimension)
    places = _ports(ws, sorted(set(holding)), check_dimension=shared)
    return [work for work, dim in places if dim in (None, profile.dimension)]


def _ports(ws: Workspace, tables: list[str], *, check_dimension: bool
           ) -> list[tuple[WorkTable, str | None]]:
    """Each work table's run, activity and port (from the control plane), and its
    dimension when `check_dimension` (from the run's validated document; None: unknown)."""
    from overture.store.repository import RunNotFound

    found: dict[str, tuple[str, dict[str, tuple[str, str]]] | None] = {}
    dimensions: dict[str, dict[str, str | None]] = {}
    out: list[tuple[WorkTable, str | None]] = []
    for name in tables:
        run_part = name[len(WORK_PREFIX):].split("_", 1)[0]
        if run_part not in found:
            try:
                run = ws.control.get_run(run_part)
            except RunNotFound:
                found[run_part] = None
            else:
                where = {table: (activity, port)
                         for activity, state in ws.control.activity_runs(run.id).items()
                         for port, table in (state.tables or {}).items() if table}
                found[run_part] = (run.id, where)
        known = found[run_part]
        if known is None:
            out.append((WorkTable(name, run_part, None, None), None))
            continue
        run_id, where = known
        activity, port = where.get(name, (None, None))
        dimension = None
        if check_dimension and activity is not None:
            if run_id not in dimensions:
                dimensions[run_id] = _port_dimensions(ws, run_id)
            dimension = dimensions[run_id].get(f"{activity}.{port}")
        out.append((WorkTable(name, run_id, activity, port), dimension))
    return out


def _port_dimensions(ws: Workspace, run_id: str) -> dict[str, str | None]:
    """`{"activity.port": dimension}` of a run, from its document validated again."""
    from overture.definition.validation import validate
    from overture.engine.environment import environment_for

    try:
        validated = validate(ws.control.get_run(run_id).document, environment_for(ws, None))
    except Exception:  # an old document the workspace no longer validates: unknown
        return {}
    return {port: schema.dimension for port, schema in validated.ports.items()}


# ---------------------------------------------------------------------------------------
# messages and addresses
# ---------------------------------------------------------------------------------------

def messages_of(plane: DataPlane, profile: Profile) -> ir.Table | None:
    """The message log's rows of the profile (results applied), or None without a log."""
    log = messages.message_log(plane)
    if log is None:
        return None
    return log.filter((log.dimension == profile.dimension)
                      & (log.profile_key == profile.key_text))


def addresses_of(ws: Workspace, profile: Profile) -> dict[str, list[str]]:
    """`{channel: normalised addresses}` of the person: the profile's address columns
    and every address the message log used for it (it may have changed since)."""
    found: dict[str, set[str]] = {}
    spec = ws.catalog.tables[profile.dimension]
    for channel, columns in spec.channels.items():
        if channel not in suppressions.CHANNELS:
            continue
        for row in profile.rows:
            value = row.get(columns.address)
            if value is not None:
                found.setdefault(channel, set()).add(
                    suppressions.normalize_address(str(value), channel))
    log = messages_of(ws.data, profile)
    if log is not None:
        used = log.filter(log.address.notnull() & log.channel.isin(suppressions.CHANNELS))
        for row in used.select("channel", "address").distinct().to_pyarrow().to_pylist():
            found.setdefault(row["channel"], set()).add(
                suppressions.normalize_address(row["address"], row["channel"]))
    return {channel: sorted(values - {""}) for channel, values in sorted(found.items())
            if values - {""}}


# ---------------------------------------------------------------------------------------
# statements
# ---------------------------------------------------------------------------------------

def run_statements(plane: DataPlane, statements: list[tuple[str, list[Any]]]) -> list[int]:
    """Run statements in one transaction; the rows each changed. Values are bound to
    `?` placeholders, never pasted in."""
    counts: list[int] = []
    if plane.backend == "duckdb":
        raw = plane.con.con
        raw.execute("BEGIN TRANSACTION")
        try:
            for sql, params in statements:
                row = raw.execute(sql, params).fetchone()
                counts.append(int(row[0]) if row else 0)
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")
        return counts
    if plane.backend == "postgres":
        conn = plane.con.con
        with conn.transaction(), conn.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql.replace("?", "%s"), params)
                counts.append(max(int(cursor.rowcount), 0))
        return counts
    raise PrivacyError(f"erasing and expiring data is not supported on {plane.backend}")


def count_rows(plane: DataPlane, sql: str, params: list[Any]) -> int:
    """`SELECT COUNT(*)` of a statement's WHERE, for a dry run or a preview."""
    if plane.backend == "duckdb":
        row = plane.con.con.execute(sql, params).fetchone()
        return int(row[0]) if row else 0
    if plane.backend == "postgres":
        with plane.con.con.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            row = cursor.fetchone()
            return int(row[0]) if row else 0
    raise PrivacyError(f"counting rows is not supported on {plane.backend}")
