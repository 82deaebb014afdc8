"""Loading CSV and Parquet files into the data plane.

A file is read in batches with pyarrow (`pyarrow.csv.open_csv`,
`pyarrow.parquet.ParquetFile.iter_batches`), written batch by batch into a staging
table, checked (key present, without NULLs or duplicates), and only then swapped in
for the target table in one transaction; a load that fails at any point leaves the
table as it was. Every problem a user can cause (a missing file, a ragged row, a
value that does not fit its type, a duplicate key) is an `OvertureError` whose
message names the file, the line where it can be known, and the column.

Types are inferred from the first block of a CSV file; when a later block holds a
value that does not fit an inferred type (an `x` among integers), the column is
widened (to float64, timestamp or string) and the load starts again. Types given by
the user (`types=`) or by the table appended to are never widened: such a value is
an error naming its line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from overture.data.bulk import copy_arrow
from overture.data.plane import (
    AUDIENCE_PREFIX,
    INTERNAL_PREFIX,
    MAX_IDENT,
    WORK_PREFIX,
    DataPlane,
    safe_name,
)
from overture.definition import yamlio
from overture.errors import OvertureError

if TYPE_CHECKING:
    from overture.data.workspace import Workspace

#: `progress(done, total, unit)`: unit is "bytes" for CSV, "rows" for Parquet
ProgressFn = Callable[[int, int, str], None]
Mode = Literal["replace", "append"]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
STAGING_PREFIX = f"{INTERNAL_PREFIX}load_"
CSV_BLOCK_SIZE = 4 << 20  # bytes per CSV batch; types are inferred from the first one
PARQUET_BATCH_ROWS = 64_000
DEFAULT_DECIMAL = (18, 2)
#: text that is a code, not a number: a leading plus, or a leading zero before a digit
LEADING_CODE = r"^\s*(\+|-?0[0-9])"
#: cells read as NULL in a CSV file (in every column, text included)
CSV_NULLS = ["", "NULL", "null"]

#: the type names a user may give, with their aliases
TYPE_NAMES = ("string", "int64", "float64", "boolean", "date", "timestamp", "decimal")
_ALIASES = {
    "string": "string", "str": "string", "text": "string", "varchar": "string",
    "int64": "int64", "int": "int64", "integer": "int64", "bigint": "int64",
    "float64": "float64", "float": "float64", "double": "float64",
    "boolean": "boolean", "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp", "datetime": "timestamp",
    "decimal": "decimal", "numeric": "decimal",
}
_DECIMAL = re.compile(r"(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\Z")


class LoadError(OvertureError):
    """A file that cannot be loaded; the message says where and why."""


class KeyCheckError(LoadError):
    """The key column is missing, has NULLs or duplicates; the table was left as it was."""


@dataclass
class LoadResult:
    """What a load did: rows read from the file, and the columns with their types."""

    rows: int
    columns: dict[str, str]
    table: str = ""
    mode: str = "replace"
    key: str | None = None
    table_rows: int = 0  # rows in the table after the load (differs from `rows` on append)
    file: str = ""
    format: str = ""
    declared: bool = False  # a declaration was appended to schema.yaml
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table, "file": self.file, "format": self.format, "mode": self.mode,
            "rows": self.rows, "table_rows": self.table_rows, "columns": self.columns,
            "key": self.key, "declared": self.declared, "warnings": self.warnings,
        }


# ---------------------------------------------------------------------------------------
# names and types
# ---------------------------------------------------------------------------------------

def check_identifier(name: str, what: str) -> None:
    """Raise unless `name` is `[A-Za-z_][A-Za-z0-9_]*` and short enough for every engine."""
    if not IDENTIFIER.match(name):
        raise LoadError(
            f"{what} {name!r} is not a valid name: use letters, digits and underscores, "
            "not starting with a digit"
        )
    if len(name) > MAX_IDENT:
        raise LoadError(f"{what} {name!r} is longer than {MAX_IDENT} characters")


def check_table_name(table: str) -> None:
    check_identifier(table, "table name")
    if table.lower().startswith((WORK_PREFIX, AUDIENCE_PREFIX, INTERNAL_PREFIX)):
        raise LoadError(
            f"table name {table!r} starts with {WORK_PREFIX!r}, {AUDIENCE_PREFIX!r} or "
            f"{INTERNAL_PREFIX!r}, which Overture keeps for its own tables"
        )


def parse_type(name: str) -> pa.DataType:
    """A user's type name (`int64`, `decimal(12,2)`, …) as an Arrow type."""
    text = name.strip().lower()
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise LoadError(f"type {name!r}: precision must be 1 to 38 and scale at most "
                            "the precision")
        return pa.decimal128(precision, scale)
    canonical = _ALIASES.get(text)
    if canonical is None:
        raise LoadError(f"unknown type {name!r}: use one of {', '.join(TYPE_NAMES)} "
                        "(or decimal(P,S))")
    return {
        "string": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
        "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
        "decimal": pa.decimal128(*DEFAULT_DECIMAL),
    }[canonical]


def parse_type_options(items: list[str]) -> dict[str, str]:
    """`["amount=decimal(12,2)", "zip=string"]` as `{column: type}`, each type checked."""
    out: dict[str, str] = {}
    for item in items:
        column, sep, type_name = item.partition("=")
        column, type_name = column.strip(), type_name.strip()
        if not sep or not column or not type_name:
            raise LoadError(f"--type {item!r}: write COLUMN=TYPE, for example zip=string")
        parse_type(type_name)
        if column in out:
            raise LoadError(f"--type names column {column!r} twice")
        out[column] = type_name
    return out


def type_name(dtype: dt.DataType) -> str:
    """A column type in the words of `--type` (`string`, `int64`, `decimal(18,2)`, …)."""
    if dtype.is_string():
        return "string"
    if dtype.is_boolean():
        return "boolean"
    if dtype.is_date():
        return "date"
    if isinstance(dtype, dt.Timestamp):
        return "timestamp" if dtype.timezone is None else "timestamp with time zone"
    if isinstance(dtype, dt.Decimal):
        return f"decimal({dtype.precision},{dtype.scale})"
    return str(dtype.copy(nullable=True))


def _arrow_type_name(typ: pa.DataType) -> str:
    try:
        return type_name(dt.dtype(typ))
    except Exception:  # an Arrow type Ibis has no name for
        return str(typ)


# ---------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------

def detect_format(path: Path, fmt: str | None = None) -> tuple[str, str | None]:
    """`(format, compression)` from `fmt` or the file's extension."""
    if fmt:
        fmt = fmt.lower()
        if fmt not in ("csv", "tsv", "parquet"):
            raise LoadError(f"unknown format {fmt!r}: use csv, tsv or parquet")
        compression = "gzip" if path.name.lower().endswith(".gz") else None
        return fmt, compression
    name = path.name.lower()
    compression = None
    if name.endswith(".gz"):
        compression, name = "gzip", name[:-3]
    for ext, kind in ((".csv", "csv"), (".txt", "csv"), (".tsv", "tsv"),
                      (".parquet", "parquet"), (".pq", "parquet")):
        if name.endswith(ext):
            if kind == "parquet" and compression:
                break
            return kind, compression
    raise LoadError(
        f"{path}: cannot tell the format from the extension {path.suffix or '(none)'!r}; "
        "name it .csv, .csv.gz, .tsv or .parquet, or pass --format csv|parquet"
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    if path.is_dir():
        raise LoadError(f"{path}: is a folder, not a file")
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty (not even a header row)")


def _check_columns(names: list[str], path: Path) -> None:
    seen: dict[str, str] = {}
    for index, name in enumerate(names, start=1):
        if name == "":
            raise LoadError(f"{path}: column {index} has no name in the header")
        if not IDENTIFIER.match(name):
            raise LoadError(
                f"{path}: column {index} {name!r} is not a valid column name: use letters, "
                "digits and underscores, not starting with a digit"
            )
        if len(name) > MAX_IDENT:
            raise LoadError(f"{path}: column {name!r} is longer than {MAX_IDENT} characters")
        folded = name.lower()
        if folded in seen:
            same = "twice" if seen[folded] == name else f"and {seen[folded]!r} (names ignore case)"
            raise LoadError(f"{path}: column {name!r} appears {same} in the header")
        seen[folded] = name


class _Restart(Exception):
    """A later block did not fit an inferred type: widen it and read the file again."""


class _Source:
    unit = "rows"
    total = 0
    schema: pa.Schema
    names: list[str]

    def set_types(self, types: dict[str, pa.DataType], fixed: set[str]) -> None:
        raise NotImplementedError

    def batches(self) -> Iterator[tuple[pa.RecordBatch, int]]:
        """`(batch, done)`: `done` in `unit`."""
        raise NotImplementedError


class _CsvSource(_Source):
    """A CSV file read in blocks, its column types fixed after the first block."""

    unit = "bytes"

    def __init__(self, path: Path, compression: str | None, delimiter: str, encoding: str):
        self.path = path
        self.compression = compression
        self.delimiter = delimiter
        self.encoding = encoding
        self.total = path.stat().st_size
        self.fixed: set[str] = set()  # columns whose type the user (or the table) chose
        self.tz_tried: set[str] = set()
        self.names, self.inferred = self._infer()
        _check_columns(self.names, path)
        self.set_types({}, set())

    def set_types(self, types: dict[str, pa.DataType], fixed: set[str]) -> None:
        """Fix every column's type: `types` where given, else the inferred one."""
        self.fixed = fixed
        self.types: dict[str, pa.DataType] = {}
        for name in self.names:
            typ = types.get(name, self.inferred[name])
            if pa.types.is_null(typ):
                typ = pa.string()
            elif pa.types.is_binary(typ) and name not in types:
                line = _find_line(self, lambda r: False, utf8_check=True)
                raise LoadError(
                    f"{self.path}{_at(line)}: column {name!r} holds text that is not valid "
                    f"{self.encoding}; save the file as UTF-8 or pass --encoding "
                    "(for example latin-1)"
                )
            elif pa.types.is_timestamp(typ):
                typ = pa.timestamp("us", typ.tz)
            self.types[name] = typ
        # integers not chosen by the user are read as text and converted batch by batch,
        # so that codes with a leading zero or plus (zip codes, phone numbers) stay text
        self.guarded = {n for n in self.names
                        if n not in fixed and pa.types.is_integer(self.types[n])}
        self.schema = pa.schema([(n, self.types[n]) for n in self.names])

    def _retype(self, name: str, typ: pa.DataType) -> _Restart:
        self.types[name] = typ
        if not pa.types.is_integer(typ):
            self.guarded.discard(name)
        self.schema = pa.schema([(n, self.types[n]) for n in self.names])
        return _Restart()

    def _stream(self) -> tuple[pa.NativeFile, pa.NativeFile]:
        raw = pa.OSFile(str(self.path), "rb")
        stream = pa.CompressedInputStream(raw, self.compression) if self.compression else raw
        return raw, stream

    def _open(self, column_types: dict[str, pa.DataType] | None,
              stream: pa.NativeFile) -> pacsv.CSVStreamingReader:
        return pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_SIZE, encoding=self.encoding),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types, null_values=CSV_NULLS, strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )

    def _infer(self) -> tuple[list[str], dict[str, pa.DataType]]:
        raw, stream = self._stream()
        try:
            reader = self._open(None, stream)
        except pa.ArrowInvalid as exc:
            raise self._error(exc) from None
        finally:
            raw.close()
        return list(reader.schema.names), {f.name: f.type for f in reader.schema}

    def batches(self) -> Iterator[tuple[pa.RecordBatch, int]]:
        raw, stream = self._stream()
        try:
            try:
                reader = self._open(
                    {**self.types, **{name: pa.string() for name in self.guarded}}, stream)
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    yield self._guard(batch), min(raw.tell(), self.total)
            except pa.ArrowInvalid as exc:
                raise self._error(exc) from None
        finally:
            raw.close()

    def _guard(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Convert the guarded integer columns, or widen them and read the file again."""
        if not self.guarded:
            return batch
        arrays = list(batch.columns)
        for name in sorted(self.guarded):
            index = self.names.index(name)
            column = arrays[index]
            if pc.any(pc.match_substring_regex(column, LEADING_CODE)).as_py():
                raise self._retype(name, pa.string())
            try:
                arrays[index] = pc.cast(column, self.types[name])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                try:
                    pc.cast(column, pa.float64())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise self._retype(name, pa.string()) from None
                raise self._retype(name, pa.float64()) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    # ---- errors: where and why ----
    def _error(self, exc: pa.ArrowInvalid) -> Exception:
        message = str(exc)
        if message.startswith("Empty CSV file"):
            return LoadError(f"{self.path}: the file is empty (not even a header row)")
        ragged = re.search(r"Expected (\d+) columns, got (\d+)", message)
        if ragged:
            expected, got = int(ragged.group(1)), int(ragged.group(2))
            line = _find_line(self, lambda r: len(r) != expected)
            return LoadError(
                f"{self.path}{_at(line)}: expected {expected} fields as in the header, "
                f"found {got} (a missing or extra delimiter {self.delimiter!r}, or an "
                "unclosed quote?)"
            )
        conv = re.search(r"In CSV column #(\d+): CSV conversion error to ([^:]+): "
                         r"(?:invalid value '(.*)'|(.*))\Z", message, re.S)
        rescale = re.search(r"In CSV column #(\d+): Rescaling Decimal", message)
        if conv or rescale:
            index = int((conv or rescale).group(1))  # type: ignore[union-attr]
            column = self.names[index]
            target = self.types[column]
            value = conv.group(3) if conv else None
            detail = conv.group(4) if conv else None
            widened = self._widen(column, target, value, detail)
            if widened is not None:
                self.types[column] = widened
                self.schema = pa.schema([(n, self.types[n]) for n in self.names])
                return _Restart()
            return self._bad_value(index, column, target, value, detail)
        if "invalid UTF8" in message or "UTF-8" in message or "decode" in message:
            line = _find_line(self, lambda r: False, utf8_check=True)
            return LoadError(
                f"{self.path}{_at(line)}: text that is not valid {self.encoding}; save the "
                "file as UTF-8 or pass --encoding (for example latin-1)"
            )
        return LoadError(f"{self.path}: cannot read the file: {message}")

    def _widen(self, column: str, current: pa.DataType, value: str | None,
               detail: str | None) -> pa.DataType | None:
        # timestamps with a zone offset: time zone aware (in UTC), once
        if (pa.types.is_timestamp(current) and current.tz is None and detail
                and "expected no zone offset" in detail and column not in self.tz_tried):
            self.tz_tried.add(column)
            return pa.timestamp("us", "UTC")
        if column in self.fixed:
            return None
        if pa.types.is_integer(current) and value is not None and _is_float(value):
            return pa.float64()
        if pa.types.is_decimal(current) and (value is None or _is_float(value)):
            return pa.float64()
        if pa.types.is_date(current) and value is not None and _is_timestamp(value):
            return pa.timestamp("us")
        if pa.types.is_string(current):
            return None
        return pa.string()

    def _bad_value(self, index: int, column: str, target: pa.DataType, value: str | None,
                   detail: str | None) -> LoadError:
        kind = _arrow_type_name(target)
        if value is not None:
            line = _find_line(self, lambda r: len(r) > index and r[index] == value)
            return LoadError(
                f"{self.path}{_at(line)}: column {column!r}: {value!r} is not a valid {kind}"
            )
        if pa.types.is_decimal(target):
            scale = target.scale
            line = _find_line(self, lambda r: len(r) > index and _too_precise(r[index], scale))
            return LoadError(
                f"{self.path}{_at(line)}: column {column!r}: a value has more than {scale} "
                f"decimal places for {kind}; give a larger scale, for example "
                f"--type {column}=decimal(18,{min(scale + 2, 18)})"
            )
        reason = detail or "a value does not fit"
        if "zone offset" in reason:
            reason = ("it mixes timestamps with and without a time zone offset "
                      f"({reason.split(' in ')[0]})")
        return LoadError(f"{self.path}: column {column!r} ({kind}): {reason}")


def _at(line: int | None) -> str:
    return f", line {line}" if line else ""


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _is_timestamp(value: str) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _too_precise(value: str, scale: int) -> bool:
    if value in CSV_NULLS:
        return False
    try:
        exponent = Decimal(value.strip()).as_tuple().exponent
    except InvalidOperation:
        return False
    return isinstance(exponent, int) and -exponent > scale


def _find_line(source: _CsvSource, bad: Callable[[list[str]], bool], *,
               utf8_check: bool = False) -> int | None:
    """The physical line (1-based, the header is line 1) of the first record `bad` accepts.

    Only called once a load has failed, to point at the offending line.
    """
    import gzip

    opener: Any = gzip.open if source.compression == "gzip" else open
    try:
        with opener(source.path, "rb") as binary:
            if utf8_check:
                for number, raw_line in enumerate(binary, start=1):
                    try:
                        raw_line.decode(source.encoding)
                    except (UnicodeDecodeError, LookupError):
                        return number
                return None
            text = io.TextIOWrapper(binary, encoding=source.encoding, errors="replace",
                                    newline="")
            reader = csv.reader(text, delimiter=source.delimiter)
            previous_end = 0
            for index, record in enumerate(reader):
                start = previous_end + 1
                previous_end = reader.line_num
                if index == 0 or not record:
                    continue
                if bad(record):
                    return start
    except (OSError, csv.Error, EOFError):
        return None
    return None


def _sniff_delimiter(path: Path, compression: str | None, encoding: str) -> str:
    """`,` unless the header line has more `;`, tabs or `|` than commas."""
    import gzip

    opener: Any = gzip.open if compression == "gzip" else open
    try:
        with opener(path, "rb") as binary:
            head = binary.readline(1 << 16).decode(encoding, errors="replace")
    except (OSError, EOFError, LookupError):
        return ","
    counts = {d: head.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


class _ParquetSource(_Source):
    unit = "rows"

    def __init__(self, path: Path):
        self.path = path
        try:
            self.file = pq.ParquetFile(str(path))
        except (pa.ArrowInvalid, OSError) as exc:
            raise LoadError(f"{path}: not a readable Parquet file ({exc})") from None
        self.arrow = self.file.schema_arrow
        self.names = list(self.arrow.names)
        _check_columns(self.names, path)
        self.total = self.file.metadata.num_rows
        self.set_types({}, set())

    def set_types(self, types: dict[str, pa.DataType], fixed: set[str]) -> None:
        self.fixed = fixed
        self.schema = pa.schema(
            [pa.field(f.name, types.get(f.name) or _normalize(f.type)) for f in self.arrow])

    def batches(self) -> Iterator[tuple[pa.RecordBatch, int]]:
        done = 0
        try:
            for batch in self.file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                yield self._cast(batch, done), done + batch.num_rows
                done += batch.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise LoadError(f"{self.path}: cannot read the file: {exc}") from None

    def _cast(self, batch: pa.RecordBatch, done: int) -> pa.RecordBatch:
        if batch.schema.equals(self.schema):
            return batch
        arrays = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            target = self.schema.field(name).type
            if column.type.equals(target):
                arrays.append(column)
                continue
            if pa.types.is_dictionary(column.type):
                column = column.dictionary_decode()
            lossy_ok = pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type)
            try:
                arrays.append(pc.cast(column, target, safe=not lossy_ok))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise self._bad_value(name, column, target, done) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _bad_value(self, name: str, column: pa.Array, target: pa.DataType,
                   done: int) -> LoadError:
        kind = _arrow_type_name(target)
        for index in range(len(column)):
            value = column[index]
            try:
                pc.cast(pa.array([value.as_py()], column.type), target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                return LoadError(
                    f"{self.path}, row {done + index + 1}: column {name!r}: "
                    f"{value.as_py()!r} cannot be read as {kind}"
                )
        return LoadError(f"{self.path}: column {name!r} ({column.type}) cannot be read as "
                         f"{kind}")


def _normalize(typ: pa.DataType) -> pa.DataType:
    """Arrow types every engine takes: plain strings, microsecond timestamps, no nulls."""
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_null(typ) or pa.types.is_large_string(typ):
        return pa.string()
    if pa.types.is_large_binary(typ):
        return pa.binary()
    if pa.types.is_timestamp(typ):
        return pa.timestamp("us", typ.tz)
    if pa.types.is_date64(typ):
        return pa.date32()
    return typ


# ---------------------------------------------------------------------------------------
# writing into the engine
# ---------------------------------------------------------------------------------------

def _q(name: str, backend: str = "") -> str:
    if backend == "pyspark":  # Spark SQL quotes names with backticks ("…" is a string)
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


#: rows a Spark load sends per write (each write is a Spark job and a file per task)
SPARK_WRITE_ROWS = 1_000_000


class _Writer:
    """Creates a table and appends Arrow batches to it, by the fastest path of the backend."""

    def __init__(self, plane: DataPlane, name: str, schema: pa.Schema):
        self.plane = plane
        self.name = name
        self.schema = schema
        self._pending: list[pa.RecordBatch] = []
        _drop_table(plane, name)
        plane.con.create_table(name, schema=ibis.Schema.from_pyarrow(schema))

    def write(self, batch: pa.RecordBatch) -> None:
        table = pa.Table.from_batches([batch], schema=self.schema)
        backend = self.plane.backend
        if backend == "duckdb":
            raw = self.plane.con.con
            view = f"{INTERNAL_PREFIX}batch_{secrets.token_hex(4)}"
            raw.register(view, table)
            try:
                raw.execute(f"INSERT INTO {_q(self.name)} SELECT * FROM {_q(view)}")
            finally:
                raw.unregister(view)
        elif backend == "postgres":
            with self.plane.con.con.cursor() as cursor:
                copy_arrow(cursor, self.name, table)
        elif backend == "pyspark":
            self._pending.append(batch)
            if sum(b.num_rows for b in self._pending) >= SPARK_WRITE_ROWS:
                self.flush()
        else:
            self.plane.con.insert(self.name, table)

    def flush(self) -> None:
        """Spark: write the batches gathered so far, as one Arrow table (one job)."""
        if self._pending:
            rows = pa.Table.from_batches(self._pending, schema=self.schema)
            self._pending = []
            self.plane.append(self.name, rows)


def _swap(plane: DataPlane, staging: str, table: str) -> None:
    """Replace `table` by `staging` in one transaction where the engine has them."""
    backend = plane.backend
    drop = f"DROP TABLE IF EXISTS {_q(table, backend)}"
    rename = f"ALTER TABLE {_q(staging, backend)} RENAME TO {_q(table, backend)}"
    if backend == "duckdb":
        raw = plane.con.con
        raw.begin()
        try:
            raw.execute(drop)
            raw.execute(rename)
        except Exception:
            raw.rollback()
            raise
        raw.commit()
    elif backend == "postgres":
        conn = plane.con.con
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(drop)
            cursor.execute(rename)
    else:
        _execute(plane, drop)
        _execute(plane, rename)


def _execute(plane: DataPlane, sql: str) -> None:
    """Run one DDL statement on the raw connection (Ibis's DDL helpers are avoided: with
    the sqlglot pinned here, `drop_table` renders an empty `DROP TABLE IF EXISTS`)."""
    backend = plane.backend
    if backend == "duckdb":
        plane.con.con.execute(sql)
    elif backend == "postgres":
        with plane.con.con.cursor() as cursor:
            cursor.execute(sql)
    else:
        result = plane.con.raw_sql(sql)
        close = getattr(result, "close", None)
        if close:
            close()


def _drop_table(plane: DataPlane, name: str) -> None:
    _execute(plane, f"DROP TABLE IF EXISTS {_q(name, plane.backend)}")


def _count(expr: Any) -> int:
    return int(expr.count().execute())


def _check_key(plane: DataPlane, staging: str, key: str, *, path: Path, table: str,
               mode: str) -> None:
    new = plane.con.table(staging)
    outcome = "nothing was appended" if mode == "append" and plane.has_table(table) else (
        f"the table {table!r} was not replaced" if plane.has_table(table)
        else f"the table {table!r} was not created")
    nulls = _count(new.filter(new[key].isnull()))
    if nulls:
        raise KeyCheckError(
            f"{path}: key column {key!r} is empty (NULL) in {nulls} row{_s(nulls)}; "
            f"{outcome}"
        )
    keys = new.select(key)
    where = f"in {path}"
    if mode == "append" and plane.has_table(table):
        old = plane.con.table(table)
        keys = ibis.union(old.select(old[key].cast(new[key].type()).name(key)), keys,
                          distinct=False)
        where = f"across the table {table!r} and {path}"
    dups = keys.group_by(key).aggregate(n=keys.count()).filter(lambda t: t.n > 1)
    count = _count(dups)
    if count:
        example = dups.order_by([ibis.desc("n"), key]).limit(1).to_pyarrow().to_pylist()[0]
        raise KeyCheckError(
            f"key column {key!r} is not unique {where}: {count} value{_s(count)} "
            f"appear{'s' if count == 1 else ''} more than once (for example "
            f"{example[key]!r}, {example['n']} times); {outcome}"
        )


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# ---------------------------------------------------------------------------------------
# the entry points
# ---------------------------------------------------------------------------------------

def load_file(
    plane: DataPlane,
    table: str,
    path: str | Path,
    *,
    key: str | None = None,
    types: dict[str, str] | None = None,
    mode: Mode = "replace",
    progress: ProgressFn | None = None,
    format: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> LoadResult:
    """Load a CSV or Parquet file into `table`, replacing it or appending to it.

    The table is only touched once the whole file has been read and the key checked.
    """
    if mode not in ("replace", "append"):
        raise LoadError(f"unknown mode {mode!r}: use replace or append")
    check_table_name(table)
    path = Path(path)
    kind, compression = detect_format(path, format)
    _check_file(path)
    wanted = {col: parse_type(name) for col, name in (types or {}).items()}
    fixed = set(wanted)
    existing: dict[str, pa.DataType] = {}
    appending = mode == "append" and plane.has_table(table)
    if plane.has_table(table):
        existing = {f.name: _normalize(f.type)
                    for f in plane.con.table(table).schema().to_pyarrow()}
    if appending:
        for column, typ in wanted.items():
            if column in existing and not existing[column].equals(typ):
                raise LoadError(
                    f"--type {column}={(types or {})[column]}: in table {table!r} the "
                    f"column {column!r} is {_arrow_type_name(existing[column])}"
                )
        wanted = {**existing, **wanted}
        fixed |= set(existing)

    source: _CsvSource | _ParquetSource
    if kind == "parquet":
        source = _ParquetSource(path)
    else:
        delim = delimiter or ("\t" if kind == "tsv" else
                              _sniff_delimiter(path, compression, encoding))
        source = _CsvSource(path, compression, delim, encoding)
    unknown = [c for c in (types or {}) if c not in source.names]
    if unknown:
        raise LoadError(f"{path}: --type names column {unknown[0]!r}, which is not in the "
                        f"file (its columns: {', '.join(source.names)})")
    if not appending and kind != "parquet":
        # reloading a table: its columns keep their types unless a value does not fit
        # (then they widen as inferred types do); --type always wins
        wanted = {**{c: t for c, t in existing.items() if _csv_readable(t)}, **wanted}
    source.set_types({c: t for c, t in wanted.items() if c in source.names},
                     {c for c in fixed if c in source.names})

    names = list(source.schema.names)
    if key is not None and key not in names:
        raise KeyCheckError(f"{path}: no key column {key!r} in the file (its columns: "
                            f"{', '.join(names)})")
    if appending:
        extra = [c for c in names if c not in existing]
        if extra:
            raise LoadError(
                f"{path}: column {extra[0]!r} is not in table {table!r} (its columns: "
                f"{', '.join(existing)}); load with replace to change the columns"
            )

    staging = safe_name(f"{STAGING_PREFIX}{table}", secrets.token_hex(4))
    try:
        rows = 0
        for _attempt in range(4 * len(names) + 2):
            try:
                rows = _write_all(plane, staging, source, progress)
                break
            except _Restart:
                continue
        else:  # pragma: no cover - each restart widens a type, so this cannot loop
            raise LoadError(f"{path}: the column types kept changing while reading")
        if key is not None:
            _check_key(plane, staging, key, path=path, table=table, mode=mode)
        if appending:
            plane.con.insert(table, plane.con.table(staging))
            _drop_table(plane, staging)
        else:
            _swap(plane, staging, table)
    except BaseException as exc:
        with contextlib.suppress(Exception):  # the original error matters more
            _drop_table(plane, staging)
        if isinstance(exc, _engine_errors()):
            kept = ("nothing was appended" if appending
                    else f"the table {table!r} was left as it was")
            raise LoadError(f"{path}: the data plane ({plane.backend}) refused the load: "
                            f"{str(exc).strip()}; {kept}") from None
        raise

    schema = plane.con.table(table).schema()
    result = LoadResult(
        rows=rows,
        columns={name: type_name(dtype) for name, dtype in schema.items()},
        table=table, mode=mode, key=key, file=str(path), format=kind,
        table_rows=_count(plane.con.table(table)),
    )
    if appending:
        missing = [c for c in existing if c not in names]
        if missing:
            listed = ", ".join(repr(c) for c in missing)
            result.warnings.append(
                f"{path} has no column{_s(len(missing))} {listed}: the appended rows hold "
                "NULL there")
    if rows == 0:
        result.warnings.append(f"{path} has a header but no rows")
    return result


def _csv_readable(typ: pa.DataType) -> bool:
    return any(check(typ) for check in (
        pa.types.is_string, pa.types.is_boolean, pa.types.is_integer, pa.types.is_floating,
        pa.types.is_decimal, pa.types.is_date32, pa.types.is_timestamp))


def _engine_errors() -> tuple[type[BaseException], ...]:
    """The errors of the engines' drivers: a disk that is full, a view that depends on the
    table, a lost server. They become a `LoadError`, never a traceback."""
    import duckdb
    import psycopg

    errors: tuple[type[BaseException], ...] = (duckdb.Error, psycopg.Error)
    try:
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException
    except ImportError:  # Spark is an optional extra
        return errors
    return (*errors, PySparkException, Py4JError)


def _write_all(plane: DataPlane, staging: str, source: _Source,
               progress: ProgressFn | None) -> int:
    writer = _Writer(plane, staging, source.schema)
    rows = 0
    if progress:
        progress(0, source.total, source.unit)
    for batch, done in source.batches():
        if batch.num_rows:
            writer.write(batch)
        rows += batch.num_rows
        if progress:
            progress(done, source.total, source.unit)
    writer.flush()
    if progress:
        progress(source.total, source.total, source.unit)
    return rows


# ---------------------------------------------------------------------------------------
# the workspace: schema.yaml's declared key, and declaring new tables
# ---------------------------------------------------------------------------------------

def load_into_workspace(
    ws: Workspace,
    table: str,
    path: str | Path,
    *,
    key: str | None = None,
    types: dict[str, str] | None = None,
    mode: Mode = "replace",
    progress: ProgressFn | None = None,
    format: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> LoadResult:
    """`load_file` checking the key declared in schema.yaml, and declaring new keyed tables.

    When the table is declared, its key is checked on every load (`key` may be left
    out, and must match when given). When it is not declared and `key` is given, a
    declaration is appended to schema.yaml once the load has succeeded.
    """
    check_table_name(table)
    catalog = ws.catalog
    spec = catalog.tables.get(table)
    new_schema_text: str | None = None
    warnings: list[str] = []
    if spec is not None:
        if key is not None and key != spec.key:
            raise LoadError(
                f"schema.yaml declares table {table!r} with key {spec.key!r}, not {key!r}: "
                f"change the key in {ws.schema_path} or load with --key {spec.key}"
            )
        key = spec.key
    elif key is not None:
        check_identifier(key, "key column")
        try:
            new_schema_text = declare_table_text(ws.schema_path, table, key)
        except LoadError as exc:
            warnings.append(str(exc))
    result = load_file(ws.data, table, path, key=key, types=types, mode=mode,
                       progress=progress, format=format, delimiter=delimiter,
                       encoding=encoding)
    if new_schema_text is not None:
        ws.schema_path.write_text(new_schema_text, encoding="utf-8")
        ws.reload_catalog()
        result.declared = True
    result.warnings.extend(warnings)
    return result


def declare_table_text(schema_path: Path, table: str, key: str) -> str:
    """schema.yaml's text with `table: {key: KEY}` added, the rest (comments too) untouched."""
    text = schema_path.read_text(encoding="utf-8") if schema_path.exists() else ""
    new = _insert_declaration(text, table, key)
    from overture.data.catalog import Catalog

    try:
        before = yamlio.load(text) or {}
        after = yamlio.load(new) or {}
        Catalog.model_validate(after)
    except Exception as exc:
        raise LoadError(f"could not declare {table!r} in {schema_path.name} ({exc}); add "
                        f"`{table}: {{key: {key}}}` under `tables:` yourself") from None
    tables_after = dict(after.get("tables") or {})
    declared = tables_after.pop(table, None)
    rest_same = {k: v for k, v in after.items() if k != "tables"} == {
        k: v for k, v in before.items() if k != "tables"}
    if declared != {"key": key} or tables_after != (before.get("tables") or {}) or not rest_same:
        raise LoadError(f"could not declare {table!r} in {schema_path.name}: add "
                        f"`{table}: {{key: {key}}}` under `tables:` yourself")
    return new


def _insert_declaration(text: str, table: str, key: str) -> str:
    block_entry = f"{table}:\n{{inner}}key: {key}\n"
    flow_entry = f"{table}: {{key: {key}}}"
    try:
        root = yaml.compose(text, Loader=yamlio.Loader)
    except yaml.YAMLError as exc:
        raise LoadError(f"schema.yaml is not valid YAML: {exc}") from None
    if text and not text.endswith("\n"):
        text += "\n"
    tables = None
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if key_node.value == "tables":
                tables = value_node
    elif root is not None:
        raise LoadError("schema.yaml is not a mapping")
    if tables is None:
        return text + "tables:\n" + _indent(block_entry.format(inner="  "), "  ")
    if isinstance(tables, yaml.ScalarNode):
        if tables.value not in ("", "~", "null", "Null", "NULL"):
            raise LoadError("`tables:` in schema.yaml is not a mapping")
        start, end = tables.start_mark.index, tables.end_mark.index
        if start == end:  # `tables:` with nothing after it
            line_end = text.index("\n", start) + 1
            return text[:line_end] + _indent(block_entry.format(inner="  "), "  ") + \
                text[line_end:]
        return text[:start] + "{" + flow_entry + "}" + text[end:]
    if not isinstance(tables, yaml.MappingNode):
        raise LoadError("`tables:` in schema.yaml is not a mapping")
    if tables.flow_style:
        close = tables.end_mark.index - 1  # the `}`
        sep = ", " if tables.value else ""
        return text[:close] + sep + flow_entry + text[close:]
    first_key, first_value = tables.value[0]
    indent = first_key.start_mark.column
    inner = 2
    if isinstance(first_value, yaml.MappingNode) and first_value.value and \
            not first_value.flow_style:
        inner = max(1, first_value.value[0][0].start_mark.column - indent)
    last_line = _last_line(tables)
    lines = text.splitlines(keepends=True)
    insert_at = last_line + 1
    while insert_at < len(lines):  # comments indented under the last table belong to it
        stripped = lines[insert_at].lstrip(" ")
        depth = len(lines[insert_at]) - len(stripped)
        if stripped.startswith("#") and depth > indent:
            insert_at += 1
            continue
        break
    entry = _indent(block_entry.format(inner=" " * inner), " " * indent)
    return "".join(lines[:insert_at]) + entry + "".join(lines[insert_at:])


def _last_line(node: yaml.Node) -> int:
    """The 0-based line where the last scalar or flow collection under `node` ends."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        end = node.end_mark
        # an end mark at a line's column 0 belongs to the line before
        return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line
    last = node.start_mark.line
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            children.extend((k, v))
    elif isinstance(node, yaml.SequenceNode):
        children.extend(node.value)
    for child in children:
        last = max(last, _last_line(child))
    return last


def _indent(block: str, prefix: str) -> str:
    return "".join(prefix + line for line in block.splitlines(keepends=True))
