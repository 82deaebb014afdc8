"""The suppression list and unsubscribes: who must never be sent to, kept in the data plane.

Two internal tables, created on first write (a reader of a missing table gets an
empty result or None):

- `overture_suppressions(channel, address, reason, source, added_at)`: addresses
  (an email address, a phone number, a push token) that no campaign of any category,
  transactional included, may send to; one row per channel and normalised address.
- `overture_unsubscribes(dimension, profile_key, channel, source, at)`: profiles that
  asked to receive no more marketing on a channel; one row per profile and channel.

They live in the data plane, not in the control plane, because the delivery engine
excludes them with an anti-join next to the profiles: one statement, whatever the
size of the list. For the same reason writes are set operations in the engine (the
values as one Arrow column, normalised and deduplicated by the engine, anti-joined
against the table and inserted in one statement), never a Python loop of single-row
statements. On PostgreSQL, where several processes may write at once, a primary key
keeps "one row per" true when two of them add the same address: the loser's insert
fails, and it tries again with a fresh anti-join.

Beside Spark both tables are in PostgreSQL (`plane.log`): writes and lists go there, and
the delivery engine's anti-joins read them in Spark (`plane.table_any`).

Addresses are compared normalised (`normalize_address`, `normalize_address_sql`, which
agree on every value): the delivery engine normalises a profile's address with the
same expression before the anti-join.

A suppression may also be stored *hashed*: `sha256:` and the hex SHA-256 of the
normalised address (`hash_address`, `hash_address_sql`), in the same `address` column.
Erasing a person (`overture privacy forget`) leaves only that form behind, so the
address is never sent to again although the list no longer holds it; the delivery
engine hashes a profile's normalised address too when the list holds any hashed row.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlglot.expressions as sge

from overture.data.bulk import copy_arrow
from overture.data.plane import INTERNAL_PREFIX, DataPlane
from overture.errors import OvertureError

SUPPRESSIONS = f"{INTERNAL_PREFIX}suppressions"
UNSUBSCRIBES = f"{INTERNAL_PREFIX}unsubscribes"
STAGE_PREFIX = f"{INTERNAL_PREFIX}suppress_stage_"

#: the channels whose addresses can be suppressed (direct mail has no single address)
CHANNELS: tuple[str, ...] = ("email", "sms", "push")
#: why an address is suppressed (hard bounces and complaints are also written by
#: `overture.feedback` when it reads bounce and complaint reports)
REASONS: tuple[str, ...] = ("manual", "hard_bounce", "complaint")
#: reasons only Overture writes, not offered to users: an address that soft-bounced too
#: often (`overture.feedback.ingest`)
AUTOMATIC_REASONS: tuple[str, ...] = ("soft_bounce",)
#: the reason of a hashed suppression left by erasing a person (not one a user gives)
HASHED_REASON = "erasure"
#: how a hashed suppression's address starts: `sha256:<hex of the normalised address>`
HASH_PREFIX = "sha256:"
#: the column an import reads by default, after `address`
DEFAULT_COLUMNS = {"email": "email", "sms": "phone", "push": "token"}

#: trimmed from both ends of every address: ASCII white space and the no-break spaces
#: that spreadsheets paste; listed one by one so that Python, DuckDB (RE2) and
#: PostgreSQL agree (`\s` and `str.strip()` mean different sets in each)
WHITESPACE = " \t\n\r\v\f\u00a0\u202f"
#: removed anywhere in a phone number, besides white space
SMS_SEPARATORS = ".-()"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()
_ASCII_LOWER = str.maketrans(_UPPER, _LOWER)
_SMS_DELETE = str.maketrans("", "", WHITESPACE + SMS_SEPARATORS)
_TRIM_PATTERN = f"^[{WHITESPACE}]+|[{WHITESPACE}]+$"
_SMS_PATTERN = f"[{WHITESPACE}.()-]"
_NON_ASCII_PATTERN = f"[^{chr(1)}-{chr(127)}]"
_WHITESPACE_CHARS = list(WHITESPACE)

#: column definitions, then the key: a primary key on PostgreSQL only (see `_ensure`)
_TABLES = {
    SUPPRESSIONS: ('"channel" VARCHAR NOT NULL, "address" VARCHAR NOT NULL, '
                   '"reason" VARCHAR NOT NULL, "source" VARCHAR, "added_at" TIMESTAMP NOT NULL',
                   '"channel", "address"'),
    # "at" is a keyword in DuckDB: every name is quoted
    UNSUBSCRIBES: ('"dimension" VARCHAR NOT NULL, "profile_key" VARCHAR NOT NULL, '
                   '"channel" VARCHAR NOT NULL, "source" VARCHAR, "at" TIMESTAMP NOT NULL',
                   '"dimension", "profile_key", "channel"'),
}
#: how many times a write is tried again after losing a race on the primary key
WRITE_ATTEMPTS = 3
#: addresses per DELETE statement
DELETE_CHUNK = 1000


class SuppressionError(OvertureError):
    """A suppression or unsubscribe the user asked for that cannot be done, and why."""


@dataclass(frozen=True)
class SuppressionResult:
    """What an add or an import did.

    `added + already + invalid` is the number of values given: `already` counts an
    address suppressed before, or repeated in the same batch; `invalid` a blank one.
    """

    added: int
    already: int
    invalid: int
    #: the column an import read (None for `add_suppressions`)
    column: str | None = None

    @property
    def total(self) -> int:
        return self.added + self.already + self.invalid


# ---------------------------------------------------------------------------------------
# names and normalisation
# ---------------------------------------------------------------------------------------

def check_channel(channel: str) -> str:
    """`channel` if it is one whose addresses can be suppressed, else a SuppressionError."""
    if channel not in CHANNELS:
        raise SuppressionError(f"unknown channel {channel!r}: use {_words(CHANNELS)}")
    return channel


def check_reason(reason: str) -> str:
    """`reason` if it is a known suppression reason, else a SuppressionError."""
    if reason not in REASONS and reason not in AUTOMATIC_REASONS:
        raise SuppressionError(f"unknown reason {reason!r}: use {_words(REASONS)}")
    return reason


def _words(items: tuple[str, ...]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1]


def normalize_address(value: str, channel: str) -> str:
    """The form an address is stored and compared in, so that `Ann@Example.com ` and
    `ann@example.com` are one address.

    email: trimmed, ASCII letters lower-cased (only ASCII: engines lower-case other
    letters differently, and the Python and SQL forms must agree); sms: trimmed, with
    white space, dots, dashes and parentheses removed (`+33 6 12-34.56` is `+336123456`);
    push: trimmed, case kept (tokens are case-sensitive). Same result as
    `normalize_address_sql` on every value.
    """
    check_channel(channel)
    text = value.strip(WHITESPACE)
    if channel == "email":
        return text.translate(_ASCII_LOWER)
    if channel == "sms":
        return text.translate(_SMS_DELETE)
    return text


def normalize_address_sql(expr: ir.StringValue, channel: str) -> ir.StringValue:
    """`normalize_address` as an engine expression, for a whole column at once.

    The delivery engine applies it to the profiles' address column before the
    anti-join with `suppressed_addresses`. Regular expressions cost most, so each one
    only runs on the values that need it (white space at an end, a separator in a
    phone number, a non-ASCII letter): on clean data this is little more than LOWER.
    Lower-casing is LOWER on ASCII-only values and TRANSLATE of A-Z on the others, so
    that non-ASCII letters are left as they are, on every engine as in Python.
    """
    check_channel(channel)
    if channel == "sms":
        return expr.re_search(_SMS_PATTERN).ifelse(expr.re_replace(_SMS_PATTERN, ""), expr)
    ends = expr.left(1).isin(_WHITESPACE_CHARS) | expr.right(1).isin(_WHITESPACE_CHARS)
    text = ends.ifelse(expr.re_replace(_TRIM_PATTERN, ""), expr)
    if channel == "email":
        # the test is on the raw value: it differs from the trimmed one's only by the
        # no-break spaces, and both branches give the same result on ASCII text
        return expr.re_search(_NON_ASCII_PATTERN).ifelse(text.translate(_UPPER, _LOWER),
                                                        text.lower())
    return text


def hash_address(value: str, channel: str) -> str:
    """The hashed form of an address: `sha256:` and the hex SHA-256 of its UTF-8
    normalised form; "" for a blank address. Same result as `hash_address_sql`."""
    normal = normalize_address(value, channel)
    if not normal:
        return ""
    return HASH_PREFIX + hashlib.sha256(normal.encode("utf-8")).hexdigest()


@ibis.udf.scalar.builtin(name="sha256")
def _sha256_text(value: str) -> str:  # type: ignore[empty-body]
    """DuckDB's sha256(text) -> hex text."""


@ibis.udf.scalar.builtin(name="convert_to")
def _pg_convert_to(value: str, encoding: str) -> bytes:  # type: ignore[empty-body]
    """PostgreSQL's convert_to(text, encoding) -> bytea."""


@ibis.udf.scalar.builtin(name="sha256")
def _pg_sha256(value: bytes) -> bytes:  # type: ignore[empty-body]
    """PostgreSQL's sha256(bytea) -> bytea."""


@ibis.udf.scalar.builtin(name="encode")
def _pg_encode(value: bytes, form: str) -> str:  # type: ignore[empty-body]
    """PostgreSQL's encode(bytea, 'hex') -> text."""


def hash_address_sql(normal: ir.StringValue, backend: str) -> ir.StringValue:
    """`hash_address` of an already normalised address column, in the engine."""
    if backend == "postgres":
        digest = _pg_encode(_pg_sha256(_pg_convert_to(normal, "UTF8")), "hex")
    else:
        digest = _sha256_text(normal)
    return ibis.literal(HASH_PREFIX) + digest


# ---------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------

def _execute(plane: DataPlane, sql: str) -> int:
    """Run one statement on the raw connection; the rows it changed (-1 when unknown)."""
    if plane.backend == "duckdb":
        # DuckDB's execute returns the connection itself: never close it
        result = plane.con.con.execute(sql)
        row = result.fetchone() if sql.startswith(("DELETE", "INSERT")) else None
        return int(row[0]) if row else -1
    result = plane.con.raw_sql(sql)
    try:
        return int(getattr(result, "rowcount", -1))
    finally:
        close = getattr(result, "close", None)
        if close:
            close()


def _ensure(plane: DataPlane, table: str) -> None:
    """Create an internal table unless it is there (`IF NOT EXISTS`: two first writers
    do not trip over each other).

    On PostgreSQL, where several processes may write at once, a primary key makes "one
    row per key" a guarantee. A DuckDB file has one writing process, where the
    anti-join is enough, and DuckDB's index would make a bulk insert of a million
    addresses ten times slower.
    """
    columns, key = _TABLES[table]
    if plane.backend == "postgres":
        columns += f", PRIMARY KEY ({key})"
    _execute(plane, f'CREATE TABLE IF NOT EXISTS "{table}" ({columns})')


def _utc(at: datetime | None) -> datetime:
    """`at` (default now) in UTC without a zone, as every internal timestamp is stored."""
    if at is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None)


def _is_duplicate(exc: Exception) -> bool:
    """Whether `exc` is a primary-key violation: another writer got there first."""
    import duckdb
    import psycopg.errors

    if isinstance(exc, psycopg.errors.UniqueViolation):
        return True
    # only a table someone gave a key by hand has one on DuckDB
    return isinstance(exc, duckdb.ConstraintException) and "duplicate key" in str(exc).lower()


def _insert_new(plane: DataPlane, table: str, new_rows: Callable[[], ir.Table]) -> int:
    """Insert `new_rows()` (an anti-join: rows not in `table` yet) in one statement; how many.

    The statement is Ibis's compiled SELECT under an INSERT run on the raw connection,
    which reports the rows it wrote: the count is exact, with no second pass. A
    concurrent writer that inserted one of the rows first makes the insert fail on
    the primary key (PostgreSQL), and it is tried again with a fresh anti-join.
    """
    for _ in range(WRITE_ATTEMPTS):
        rows = new_rows()
        columns = ", ".join(f'"{name}"' for name in rows.columns)
        try:
            return _execute(plane, f'INSERT INTO "{table}" ({columns}) {plane.sql(rows)}')
        except Exception as exc:
            if not _is_duplicate(exc):
                raise
    raise SuppressionError(f"other writers kept changing {table} at the same time; try again")


# ---------------------------------------------------------------------------------------
# suppressions
# ---------------------------------------------------------------------------------------

def add_suppressions(plane: DataPlane, channel: str, addresses: Iterable[str],
                     reason: str = "manual", source: str | None = None,
                     at: datetime | None = None) -> SuppressionResult:
    """Suppress addresses on a channel: normalised, deduplicated and inserted in the engine.

    An address already suppressed keeps its first row (reason, source, date): the
    first reason is the one that explains why it was blocked.
    """
    check_channel(channel)
    check_reason(reason)
    _check_many(addresses)
    values = pa.array([None if v is None else str(v) for v in addresses], type=pa.string())
    return _add_array(plane, channel, values, reason, source, _utc(at))


def add_hashed_suppressions(plane: DataPlane, channel: str, addresses: Iterable[str],
                            source: str | None = None,
                            at: datetime | None = None) -> SuppressionResult:
    """Suppress addresses by their hash only (`hash_address`): the list never holds
    them, yet the delivery engine excludes them. Reason `erasure`."""
    check_channel(channel)
    _check_many(addresses)
    hashed = [hash_address(str(v), channel) if v is not None else "" for v in addresses]
    values = pa.array(hashed, type=pa.string())
    return _add_array(plane, channel, values, HASHED_REASON, source, _utc(at))


def _check_many(addresses: Iterable[str]) -> None:
    """Refuse a lone string, which would otherwise be taken one character at a time."""
    if isinstance(addresses, str | bytes):
        raise TypeError("addresses must be a list of addresses, not one string")


def _add_array(plane: DataPlane, channel: str, values: pa.Array | pa.ChunkedArray,
               reason: str, source: str | None, at: datetime,
               column: str | None = None) -> SuppressionResult:
    """Add one Arrow column of raw addresses, in a few statements whatever its length.

    Upload, normalise and count each distinct value (one temporary table), read the
    counts, insert the anti-join with the list; a failure at any point adds nothing.
    """
    plane = plane.log
    total = len(values)
    if total == 0:
        return SuppressionResult(0, 0, 0, column)
    # blank and NUL-holding values are invalid either way: as "" they need no NULL
    # handling in COPY, and PostgreSQL cannot store a NUL
    has_nul = pc.fill_null(pc.match_substring(values, "\x00"), False)
    values = pc.if_else(has_nul, pa.scalar("", pa.string()), pc.fill_null(values, ""))
    token = secrets.token_hex(6)
    stages = [f"{STAGE_PREFIX}{token}_{part}" for part in ("raw", "norm")]
    try:
        raw = _upload(plane, stages[0], values)
        norm = raw.select(address=normalize_address_sql(raw.address, channel))
        # one pass over the values: each normalised address once, with how many times
        staged = plane.con.create_table(
            stages[1], norm.group_by("address").aggregate(n=norm.count()), temp=True)
        blank = staged.address == ""
        sums = staged.aggregate(valid=staged.n.sum(where=~blank),
                                invalid=staged.n.sum(where=blank)).to_pyarrow().to_pylist()[0]
        valid_count, invalid = int(sums["valid"] or 0), int(sums["invalid"] or 0)
        _ensure(plane, SUPPRESSIONS)

        def new_rows() -> ir.Table:
            existing = plane.con.table(SUPPRESSIONS)
            existing = existing.filter(existing.channel == channel)
            fresh = staged.filter(~blank).select("address").anti_join(existing, "address")
            return fresh.select(
                channel=ibis.literal(channel, type="string"), address=fresh.address,
                reason=ibis.literal(reason, type="string"),
                source=ibis.literal(source, type="string"),
                added_at=ibis.literal(at, type="timestamp"))

        added = _insert_new(plane, SUPPRESSIONS, new_rows) if valid_count else 0
    finally:
        for stage in stages:
            plane.con.drop_table(stage, force=True)
    return SuppressionResult(added=added, already=valid_count - added, invalid=invalid,
                             column=column)


def _upload(plane: DataPlane, name: str, values: pa.Array | pa.ChunkedArray) -> ir.Table:
    """The values as a table of one column `address`, in the engine.

    DuckDB reads the Arrow memory in place. Ibis would send the rows to PostgreSQL as
    row-by-row INSERTs (most of a minute for a million): they go in by COPY instead, as
    CSV that Arrow writes.
    """
    data = pa.table({"address": values})
    if plane.backend != "postgres":
        return ibis.memtable(data)
    table = plane.con.create_table(name, schema=ibis.schema({"address": "string"}),
                                   temp=True)
    with plane.con.con.cursor() as cursor:
        copy_arrow(cursor, name, data)
    return table


def import_suppressions(plane: DataPlane, path: str | Path, channel: str,
                        column: str | None = None, reason: str = "manual", *,
                        source: str | None = None,
                        at: datetime | None = None) -> SuppressionResult:
    """Suppress every address of a CSV (optionally gzipped) or Parquet file.

    The file is parsed by Arrow's multi-threaded readers and the addresses reach the
    engine as one Arrow column: a million lines take about a second. The column read
    is `column`, else `address`, else the channel's usual name (email, phone, token),
    else the only column; a one-column CSV file may have no header (see
    `read_addresses`). `source` defaults to `import:FILENAME`.
    """
    check_channel(channel)
    check_reason(reason)
    file = Path(path)
    values, used = read_addresses(file, channel, column)
    return _add_array(plane, channel, values, reason, source or f"import:{file.name}",
                      _utc(at), column=used)


def remove_suppressions(plane: DataPlane, channel: str, addresses: Iterable[str]) -> int:
    """Lift the suppression of these addresses (normalised); how many were suppressed."""
    check_channel(channel)
    _check_many(addresses)
    wanted = sorted({normalize_address(a, channel) for a in addresses} - {""})
    plane = plane.log
    if not wanted or not plane.has_table(SUPPRESSIONS):
        return 0
    removed = 0
    for start in range(0, len(wanted), DELETE_CHUNK):
        chunk = wanted[start:start + DELETE_CHUNK]
        where = sge.and_(sge.column("channel").eq(sge.convert(channel)),
                         sge.column("address").isin(*[sge.convert(v) for v in chunk]))
        before = None
        if plane.backend not in ("duckdb", "postgres"):  # rows changed are not reported
            table = plane.con.table(SUPPRESSIONS)
            matching = table.filter((table.channel == channel) & table.address.isin(chunk))
            before = int(matching.count().execute())
        changed = _execute(plane, sge.delete(SUPPRESSIONS, where=where).sql(plane.backend))
        removed += before if before is not None else max(changed, 0)
    return removed


def list_suppressions(plane: DataPlane, channel: str | None = None,
                      limit: int | None = None) -> list[dict[str, Any]]:
    """Suppressed addresses, the most recent first, as dicts of the table's columns."""
    if channel is not None:
        check_channel(channel)
    plane = plane.log
    if not plane.has_table(SUPPRESSIONS):
        return []
    table = plane.con.table(SUPPRESSIONS)
    if channel is not None:
        table = table.filter(table.channel == channel)
    table = table.order_by([ibis.desc("added_at"), "channel", "address"])
    if limit is not None:
        table = table.limit(limit)
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    return rows


def count_suppressions(plane: DataPlane) -> dict[str, int]:
    """`{channel: suppressed addresses}` for the channels that have any."""
    plane = plane.log
    if not plane.has_table(SUPPRESSIONS):
        return {}
    table = plane.con.table(SUPPRESSIONS)
    rows = table.group_by("channel").aggregate(n=table.count()).to_pyarrow().to_pylist()
    return {row["channel"]: int(row["n"]) for row in sorted(rows, key=lambda r: r["channel"])}


def suppressed_addresses(plane: DataPlane, channel: str) -> ir.Table | None:
    """One column `address` (normalised) of a channel's suppressed addresses, or None.

    For the delivery engine's anti-join against `normalize_address_sql(profile
    address, channel)`; None when nothing was ever suppressed.
    """
    check_channel(channel)
    if not plane.has_table(SUPPRESSIONS):
        return None
    table = plane.table_any(SUPPRESSIONS)
    return table.filter(table.channel == channel).select("address")


def hashed_suppressions(plane: DataPlane, channel: str) -> ir.Table | None:
    """One column `address` of a channel's hashed suppressions, or None when it has none.

    The delivery engine compares `hash_address_sql` of the profiles' addresses with it;
    None (one small count) spares it hashing every address when nothing is hashed.
    """
    suppressed = suppressed_addresses(plane, channel)
    if suppressed is None:
        return None
    hashed = suppressed.filter(suppressed.address.startswith(HASH_PREFIX))
    return hashed if int(hashed.count().execute()) else None


# ---------------------------------------------------------------------------------------
# unsubscribes
# ---------------------------------------------------------------------------------------

def record_unsubscribe(plane: DataPlane, dimension: str, profile_key: object, channel: str,
                       source: str | None = None, at: datetime | None = None) -> bool:
    """Record that a profile unsubscribed from a channel; False if it already had.

    Keyed by profile, not address: an unsubscribed profile that changes its address
    stays unsubscribed. The key is stored as text (`str(key)`, as the engine casts it).
    """
    check_channel(channel)
    if not dimension:
        raise SuppressionError("an unsubscribe needs the dimension (the profile table)")
    key = "" if profile_key is None else str(profile_key)
    if not key:
        raise SuppressionError("an unsubscribe needs a profile key")
    when = _utc(at)
    plane = plane.log
    _ensure(plane, UNSUBSCRIBES)
    row = ibis.memtable(
        {"dimension": [dimension], "profile_key": [key], "channel": [channel],
         "source": [source], "at": [when]},
        schema=ibis.schema({"dimension": "string", "profile_key": "string",
                            "channel": "string", "source": "string", "at": "timestamp"}))

    existing = plane.con.table(UNSUBSCRIBES)
    existing = existing.filter((existing.dimension == dimension)
                               & (existing.profile_key == key) & (existing.channel == channel))
    if int(existing.count().execute()):
        return False
    try:
        plane.con.insert(UNSUBSCRIBES, row)
    except Exception as exc:  # on PostgreSQL, a concurrent click recorded it first
        if _is_duplicate(exc):
            return False
        raise
    return True


def unsubscribed_keys(plane: DataPlane, dimension: str, channel: str) -> ir.Table | None:
    """One column `profile_key` (text) of the profiles unsubscribed from a channel, or None.

    For the delivery engine's anti-join against `key.cast("string")`; None when no one
    ever unsubscribed.
    """
    check_channel(channel)
    if not plane.has_table(UNSUBSCRIBES):
        return None
    table = plane.table_any(UNSUBSCRIBES)
    return table.filter((table.dimension == dimension)
                        & (table.channel == channel)).select("profile_key")


# ---------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_DELIMITERS = (",", ";", "\t", "|")
_HEADER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}\Z")
_PHONE = re.compile(r"\+?[0-9]+\Z")


def read_addresses(path: Path, channel: str,
                   column: str | None = None) -> tuple[pa.ChunkedArray, str | None]:
    """The addresses of a CSV or Parquet file as one Arrow string column, and its name.

    Parquet is recognised by its extension (.parquet, .pq) or its first bytes; anything
    else is CSV, gzipped or not, with `,`, `;`, tab or `|` between fields (the one the
    first line holds most of). A file of several columns has a header; a file of one
    column may not: its first line is a header unless it looks like an address (for
    email it holds an @, for sms it is a phone number, for push it is not a name of at
    most 32 letters, digits and underscores). The column name is None for a file
    without a header.
    """
    check_channel(channel)
    if not path.exists():
        raise SuppressionError(f"{path}: no such file")
    if path.is_dir():
        raise SuppressionError(f"{path}: is a folder, not a file")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise SuppressionError(f"{path}: cannot read the file: {exc.strerror}") from None
    if not magic:
        raise SuppressionError(f"{path}: the file is empty")
    if magic == _PARQUET_MAGIC or path.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(path, channel, column)
    return _read_csv(path, channel, column, gzipped=magic.startswith(_GZIP_MAGIC))


def _pick(path: Path, names: list[str], channel: str, column: str | None) -> int:
    """The index of the column holding the addresses (see `read_addresses`)."""
    folded = [n.lower() for n in names]
    if column is not None:
        if column in names:
            return names.index(column)
        if column.lower() in folded:
            return folded.index(column.lower())
        raise SuppressionError(f"{path}: no column {column!r} (columns: {', '.join(names)})")
    for candidate in ("address", DEFAULT_COLUMNS[channel]):
        if candidate in folded:
            return folded.index(candidate)
    if len(names) == 1:
        return 0
    raise SuppressionError(
        f"{path}: {len(names)} columns ({', '.join(names)}) and none is named address or "
        f"{DEFAULT_COLUMNS[channel]}: say which holds the addresses with --column")


def _read_parquet(path: Path, channel: str,
                  column: str | None) -> tuple[pa.ChunkedArray, str | None]:
    try:
        parquet = pq.ParquetFile(path)
        names = list(parquet.schema_arrow.names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SuppressionError(f"{path}: not a readable Parquet file: {exc}") from None
    if not names:
        raise SuppressionError(f"{path}: the Parquet file has no columns")
    name = names[_pick(path, names, channel, column)]
    try:
        values = parquet.read(columns=[name]).column(0)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SuppressionError(f"{path}: cannot read column {name!r}: {exc}") from None
    typ = values.type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)
            or pa.types.is_integer(typ) or pa.types.is_null(typ)):
        raise SuppressionError(f"{path}: column {name!r} holds {typ}, not text")
    return pc.cast(values, pa.string()), name


def _open_text(path: Path, gzipped: bool) -> io.TextIOWrapper:
    binary: Any = gzip.open(path, "rb") if gzipped else path.open("rb")  # noqa: SIM115
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def _first_line(path: Path, gzipped: bool) -> tuple[str, int] | None:
    """The first non-blank line (without its end) and its number, None for a blank file."""
    try:
        with _open_text(path, gzipped) as text:
            for number, line in enumerate(text, start=1):
                stripped = line.rstrip("\r\n")
                if stripped.strip(WHITESPACE):
                    return stripped, number
    except UnicodeDecodeError:
        line_no = _bad_utf8_line(path, gzipped)
        raise SuppressionError(f"{path}{_at(line_no)}: text that is not valid UTF-8; save the "
                               "file as UTF-8") from None
    except (OSError, EOFError) as exc:
        raise SuppressionError(f"{path}: cannot read the file: {exc}") from None
    return None


def _looks_like_header(cell: str, channel: str, column: str | None) -> bool:
    """Whether the only cell of a one-column file's first line is a header, not an address."""
    value = cell.strip(WHITESPACE)
    if column is not None and value.lower() == column.lower():
        return True
    if channel == "email":
        return "@" not in value
    if channel == "sms":
        return not _PHONE.match(normalize_address(value, "sms"))
    return bool(_HEADER_NAME.match(value))


def _read_csv(path: Path, channel: str, column: str | None,
              gzipped: bool) -> tuple[pa.ChunkedArray, str | None]:
    first = _first_line(path, gzipped)
    if first is None:
        return pa.chunked_array([], type=pa.string()), column
    line, number = first  # the blank lines before it are skipped below
    delimiter, cells = max(((d, next(csv.reader([line], delimiter=d))) for d in _DELIMITERS),
                           key=lambda pair: len(pair[1]))
    if len(cells) == 1:
        delimiter = ","
    header = len(cells) > 1 or _looks_like_header(cells[0], channel, column)
    if header:
        names = [c.strip(WHITESPACE) for c in cells]
        index = _pick(path, names, channel, column)
        used: str | None = names[index]
    elif column is not None:
        raise SuppressionError(
            f"{path}: no column {column!r}: the file has one column and no header (its first "
            f"line, {cells[0]!r}, is an address); leave --column out")
    else:
        index, used = 0, None
    fields = [f"f{i}" for i in range(len(cells))]
    try:
        stream = pa.input_stream(str(path), compression="gzip" if gzipped else None)
        with stream:
            table = pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=fields, encoding="utf8",
                                               skip_rows=number - 1),
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types={f: pa.string() for f in fields},
                    include_columns=[fields[index]], strings_can_be_null=False),
            )
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, gzipped, delimiter, len(cells), str(exc)) from None
    except (OSError, EOFError) as exc:
        raise SuppressionError(f"{path}: cannot read the file: {exc}") from None
    values = table.column(0)
    if header:
        values = values.slice(1)
    if pc.any(pc.match_substring_regex(values, "[\r\n]")).as_py():
        where = _multiline_record(path, gzipped, delimiter)
        raise SuppressionError(
            f"{path}{_at(where)}: a value spans several lines: a quote (\") opened there is "
            "not closed")
    if values.num_chunks == 0:
        values = pa.chunked_array([], type=pa.string())
    return values, used


def _csv_error(path: Path, gzipped: bool, delimiter: str, expected: int,
               message: str) -> SuppressionError:
    """A message for an Arrow CSV error, naming the line found by reading the file again."""
    ragged = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if ragged:
        got = int(ragged.group(2))
        line = _ragged_line(path, gzipped, delimiter, expected)
        return SuppressionError(
            f"{path}{_at(line)}: {got} field{'s' if got != 1 else ''} where the first line has "
            f"{expected} (a stray or missing {delimiter!r}, or an unclosed quote?)")
    if "UTF8" in message or "UTF-8" in message:
        line = _bad_utf8_line(path, gzipped)
        return SuppressionError(f"{path}{_at(line)}: text that is not valid UTF-8; save the "
                                "file as UTF-8")
    return SuppressionError(f"{path}: not a readable CSV file: {message}")


def _first_record_line(path: Path, gzipped: bool, delimiter: str,
                       bad: Callable[[list[str]], bool]) -> int | None:
    """The physical line (1-based) where the first record for which `bad` holds starts."""
    try:
        with _open_text(path, gzipped) as text:
            reader = csv.reader(text, delimiter=delimiter)
            previous_end = 0
            for record in reader:
                start = previous_end + 1
                previous_end = reader.line_num
                if bad(record):
                    return start
    except (OSError, EOFError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _ragged_line(path: Path, gzipped: bool, delimiter: str, expected: int) -> int | None:
    """The first record without `expected` fields."""
    return _first_record_line(path, gzipped, delimiter,
                              lambda record: bool(record) and len(record) != expected)


def _multiline_record(path: Path, gzipped: bool, delimiter: str) -> int | None:
    """The first record holding a line break."""
    return _first_record_line(
        path, gzipped, delimiter,
        lambda record: any("\n" in field or "\r" in field for field in record))


def _bad_utf8_line(path: Path, gzipped: bool) -> int | None:
    opener: Any = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as binary:
            for number, raw in enumerate(binary, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return number
    except (OSError, EOFError):
        return None
    return None


def _at(line: int | None) -> str:
    return f", line {line}" if line else ""
