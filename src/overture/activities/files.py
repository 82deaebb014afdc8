"""Reading a file for load_file: good rows typed, bad rows kept as rejects with a reason.

The file is read by pyarrow (every column as text), handed to the data plane, and typed
there by the patterns of data.text_values (the same on every engine), so a value that
does not fit its declared type rejects its row instead of failing the whole file.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from overture.activities.base import ActivityError, ExecContext
from overture.data.text_values import parse_text
from overture.definition import activities as act

IDENTIFIER = "^[A-Za-z_][A-Za-z0-9_]*$"
_TYPES = {"string": "string", "int64": "int64", "float64": "float64", "boolean": "boolean",
          "date": "date", "timestamp": "timestamp", "decimal": "decimal(18, 3)"}


def file_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ActivityError(f"{path.name}: cannot tell the format from the extension; set "
                        "`format: csv` or `format: parquet`")


def file_columns(path: Path, declared: str | None, delimiter: str = ",") -> list[str]:
    """The column names of a file, read from its header or schema only."""
    fmt = file_format(path, declared)
    try:
        if fmt == "parquet":
            names = list(pq.read_schema(path).names)
        else:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                names = next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise ActivityError(f"{path.name}: cannot read: {exc}") from None
    if not names:
        raise ActivityError(f"{path.name}: the file is empty (no header line)")
    import re

    for name in names:
        if not re.match(IDENTIFIER, name):
            raise ActivityError(f"{path.name}: column name {name!r} must be letters, digits "
                                "and _ (not starting with a digit)")
    if len(set(names)) != len(names):
        raise ActivityError(f"{path.name}: a column name appears twice in the header")
    return [n.strip() for n in names]


def resolve_path(ctx: ExecContext, a: act.LoadFile) -> Path:
    path = Path(a.path)
    if not path.is_absolute() and ctx.base_dir is not None:
        path = ctx.base_dir / path
    if not path.exists():
        raise ActivityError(f"file not found: {path}")
    return path


def read_rows_file(ctx: ExecContext, a: act.LoadFile) -> tuple[ir.Table, ir.Table]:
    """(typed rows with `_line`, rejected rows with `_line` and `_reason`)."""
    path = resolve_path(ctx, a)
    names = file_columns(path, a.format, a.delimiter)
    if file_format(path, a.format) == "parquet":
        raw = pq.read_table(path).cast(pa.schema([(n, pa.string()) for n in names]))
        lines = np.arange(1, raw.num_rows + 1, dtype=np.int64)
        ragged: list[dict[str, Any]] = []
    else:
        raw, lines, ragged = _read_csv(path, names, a.delimiter)
    raw = raw.append_column("_line", pa.array(lines, pa.int64()))
    staged_name = ctx.table_name(a.id, "_raw")
    # created empty, then appended in one statement (COPY on PostgreSQL): an Ibis
    # memtable would reach PostgreSQL as one INSERT per line of the file
    ctx.plane.drop(staged_name)
    ctx.plane.con.create_table(staged_name, schema=ibis.Schema.from_pyarrow(raw.schema))
    ctx.plane.append(staged_name, raw)
    staged = ctx.plane.table_any(staged_name)
    typed: dict[str, ir.Value] = {}
    failed: list[tuple[ir.BooleanValue, str]] = []
    for name in names:
        column = staged[name]
        declared = a.columns.get(name)
        if declared and declared != "string":
            cast = parse_text(column.strip(), _TYPES[declared], ctx.plane.backend)
            failed.append((column.notnull() & (column.strip() != "") & cast.isnull(),
                           f"column {name}: not a {declared}"))
            typed[name] = cast
        else:
            typed[name] = column
    bad = ibis.literal(False)
    reason: ir.Value = ibis.literal(None, type="string")
    for condition, message in reversed(failed):
        bad = bad | condition
        reason = ibis.ifelse(condition, ibis.literal(message), reason)
    good = staged.filter(~bad).select("_line", **typed)
    rejected = staged.filter(bad).select("_line", _reason=reason, **{n: staged[n] for n in names})
    if ragged:
        extra = ibis.memtable(ragged, schema=ibis.schema(
            {"_line": "int64", "_reason": "string", **dict.fromkeys(names, "string")}))
        rejected = rejected.union(extra)
    return good, rejected


def _read_csv(path: Path, names: list[str], delimiter: str
              ) -> tuple[pa.Table, np.ndarray, list[dict[str, Any]]]:
    invalid: list[dict[str, Any]] = []

    def on_invalid(row: Any) -> str:
        invalid.append({"_line": row.number, "_reason":
                        f"expected {row.expected_columns} fields, found {row.actual_columns}",
                        **dict.fromkeys(names)})
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                             newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
                quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        raise ActivityError(f"{path.name}: not a readable CSV file: {exc}") from None
    table = table.rename_columns([n.strip() for n in table.column_names])
    # pyarrow numbers records (header = 1, blank lines skipped); people read lines
    starts = _record_lines(path, delimiter)
    bad_records = np.array([r["_line"] for r in invalid if r["_line"]], dtype=np.int64)
    all_records = np.arange(2, table.num_rows + len(invalid) + 2, dtype=np.int64)
    records = np.setdiff1d(all_records, bad_records, assume_unique=True)[: table.num_rows]
    for row in invalid:
        if row["_line"] and row["_line"] - 1 < len(starts):
            row["_line"] = int(starts[row["_line"] - 1])
    lines = starts[np.minimum(records - 1, len(starts) - 1)] if len(starts) else records
    return table, lines, invalid


def _record_lines(path: Path, delimiter: str) -> np.ndarray:
    """The physical line on which each non-blank record of a CSV file starts."""
    starts: list[int] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        consumed = 0
        for record in reader:
            if record:
                starts.append(consumed + 1)
            consumed = reader.line_num
    return np.array(starts, dtype=np.int64)
