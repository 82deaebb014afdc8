"""`overture data`: load files into the data plane and look at what is there."""

from __future__ import annotations

import difflib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from overture.cli.common import (
    clean_errors,
    console,
    err_console,
    fail,
    workspace_session,
)
from overture.data.catalog import Catalog
from overture.data.workspace import Workspace

if TYPE_CHECKING:  # the engine's libraries load only when a command needs them
    from overture.data.loading import LoadResult

app = typer.Typer(
    help="Load CSV and Parquet files into the data plane; inspect tables, columns and "
         "values; check schema.yaml against what is loaded.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _require_table(ws: Workspace, table: str) -> None:
    tables = ws.data.list_tables()
    if table in tables:
        return
    if table in ws.catalog.tables:
        fail(f"table {table!r} is declared in schema.yaml but not loaded: run "
             f"`overture data load {table} FILE`")
    fail(f"no table {table!r} in the data plane{_suggest(table, tables)}; "
         "`overture data tables` lists them")


# ---------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------

class _Bar:
    """A Rich progress bar fed by `load_file`'s progress callback (bytes or rows)."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int, unit: str) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            counter = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
            speed = [TransferSpeedColumn()] if unit == "bytes" else []
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), counter, *speed,
                TimeRemainingColumn(), console=err_console, transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(escape(self.label), total=total or None)
        assert self.task is not None
        self.progress.update(self.task, completed=done, total=total or None)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@app.command()
@clean_errors
def load(
    table: Annotated[str, typer.Argument(help="Table to fill (created or replaced).")],
    file: Annotated[Path, typer.Argument(help="A .csv, .csv.gz, .tsv or .parquet file.")],
    key: Annotated[str | None, typer.Option(
        "--key", help="The column that identifies a row: checked present, unique, never "
                      "empty; declared in schema.yaml when the table is not.")] = None,
    type_: Annotated[list[str] | None, typer.Option(
        "--type", help="COLUMN=TYPE to override an inferred type (string, int64, float64, "
                       "boolean, date, timestamp, decimal or decimal(P,S)); repeatable.")] = None,
    append: Annotated[bool, typer.Option(
        "--append", help="Add the rows to the table instead of replacing it.")] = False,
    format_: Annotated[str | None, typer.Option(
        "--format", help="csv, tsv or parquet (default: from the extension).")] = None,
    delimiter: Annotated[str | None, typer.Option(
        "--delimiter", help="CSV field delimiter (default: detected from the header).")] = None,
    encoding: Annotated[str, typer.Option(
        "--encoding", help="CSV text encoding, for example latin-1.")] = "utf-8",
    as_json: JsonOption = False,
) -> None:
    """Load a CSV or Parquet file into a table; a failed load leaves the table untouched."""
    from overture.data.loading import load_into_workspace, parse_type_options

    types = parse_type_options(type_ or [])
    with workspace_session() as ws:
        bar = _Bar(f"{table} ← {file.name}", enabled=not as_json and err_console.is_terminal)
        started = time.monotonic()
        try:
            result = load_into_workspace(
                ws, table, file, key=key, types=types, mode="append" if append else "replace",
                progress=bar, format=format_, delimiter=delimiter, encoding=encoding,
            )
        finally:
            bar.close()
        seconds = time.monotonic() - started
        if as_json:
            _echo_json({**result.to_dict(), "seconds": round(seconds, 3)})
            return
        _print_load(result, seconds, ws)


def _print_load(result: LoadResult, seconds: float, ws: Workspace) -> None:
    verb = "Appended" if result.mode == "append" else "Loaded"
    total = (f" (now {result.table_rows:,} rows)" if result.mode == "append" else "")
    console.print(
        f"{verb} [bold]{result.rows:,}[/] row{'' if result.rows == 1 else 's'} into "
        f"[bold]{escape(result.table)}[/]{total} "
        f"from {escape(result.file)} in {seconds:.1f} s", highlight=False, soft_wrap=True,
    )
    grid = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    grid.add_column("column")
    grid.add_column("type")
    grid.add_column("")
    for column, kind in result.columns.items():
        grid.add_row(escape(column), kind, "key" if column == result.key else "")
    console.print(grid)
    if result.declared:
        console.print(f"Declared [bold]{escape(result.table)}[/] with key "
                      f"[bold]{escape(result.key or '')}[/] in {escape(str(ws.schema_path))}",
                      highlight=False, soft_wrap=True)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------------------------
# tables, show, values, check
# ---------------------------------------------------------------------------------------

@app.command()
@clean_errors
def tables(as_json: JsonOption = False) -> None:
    """List the tables: rows, columns, declared key, and whether schema.yaml declares them."""
    with workspace_session() as ws:
        catalog = ws.catalog
        rows: list[dict[str, Any]] = []
        loaded = ws.data.list_tables()
        for name in loaded:
            table = ws.data.table(name)
            spec = catalog.tables.get(name)
            rows.append({
                "table": name, "loaded": True, "rows": int(table.count().execute()),
                "columns": len(table.columns), "key": spec.key if spec else None,
                "declared": spec is not None,
            })
        for name, spec in catalog.tables.items():
            if name not in loaded:
                rows.append({"table": name, "loaded": False, "rows": None, "columns": None,
                             "key": spec.key, "declared": True})
        if as_json:
            _echo_json(rows)
            return
        if not rows:
            console.print("No tables yet: [cyan]overture data load TABLE FILE --key COLUMN[/]")
            return
        grid = Table(header_style="bold")
        for title, justify in (("table", "left"), ("rows", "right"), ("columns", "right"),
                               ("key", "left"), ("schema.yaml", "left")):
            grid.add_column(title, justify=justify)  # type: ignore[arg-type]
        for row in rows:
            grid.add_row(
                escape(row["table"]),
                f"{row['rows']:,}" if row["loaded"] else "[dim]not loaded[/]",
                str(row["columns"]) if row["loaded"] else "",
                escape(row["key"] or ""),
                "declared" if row["declared"] else "[dim]not declared[/]",
            )
        console.print(grid)


def column_roles(catalog: Catalog, table: str) -> dict[str, list[str]]:
    """What schema.yaml says each column of `table` is for: key, link, channel address…"""
    roles: dict[str, list[str]] = {}

    def add(column: str | None, role: str) -> None:
        if column:
            roles.setdefault(column, []).append(role)

    spec = catalog.tables.get(table)
    if spec is not None:
        add(spec.key, "key")
        for channel, columns in spec.channels.items():
            add(columns.address, f"{channel} address")
            add(columns.consent, f"{channel} consent")
        add(spec.timezone, "timezone")
        add(spec.language, "language")
        for link_name, link in spec.links.items():
            for mine, theirs in link.on.items():
                add(mine, f"link {link_name} → {link.table}.{theirs} ({link.cardinality})")
    for other, other_spec in catalog.tables.items():
        if other == table:
            continue
        for link_name, link in other_spec.links.items():
            if link.table == table:
                for mine, theirs in link.on.items():
                    add(theirs, f"linked from {other}.{mine} ({other}.{link_name})")
    return roles


@app.command()
@clean_errors
def show(
    table: Annotated[str, typer.Argument(help="A loaded table.")],
    as_json: JsonOption = False,
) -> None:
    """Show a table's columns with their types and roles in schema.yaml, and its row count."""
    from overture.data.loading import type_name

    with workspace_session() as ws:
        _require_table(ws, table)
        expr = ws.data.table(table)
        catalog = ws.catalog
        roles = column_roles(catalog, table)
        count = int(expr.count().execute())
        columns = [{"column": name, "type": type_name(dtype), "roles": roles.get(name, [])}
                   for name, dtype in expr.schema().items()]
        spec = catalog.tables.get(table)
        missing = sorted(set(roles) - set(expr.columns))
        if as_json:
            _echo_json({"table": table, "rows": count, "declared": spec is not None,
                        "key": spec.key if spec else None, "target": catalog.target == table,
                        "columns": columns, "missing_columns": missing})
            return
        where = "declared in schema.yaml" if spec else "not declared in schema.yaml"
        target = ", the default target" if catalog.target == table else ""
        console.print(f"[bold]{escape(table)}[/]: {count:,} rows, {len(columns)} columns "
                      f"({where}{target})", highlight=False, soft_wrap=True)
        grid = Table(header_style="bold")
        grid.add_column("column")
        grid.add_column("type")
        grid.add_column("role in schema.yaml")
        for col in columns:
            grid.add_row(escape(col["column"]), col["type"], escape(", ".join(col["roles"])))
        console.print(grid)
        for name in missing:
            err_console.print(f"[yellow]warning:[/] schema.yaml uses column {name!r} "
                              f"({escape(', '.join(roles[name]))}), which {table} does not have",
                              highlight=False, soft_wrap=True)


@app.command()
@clean_errors
def values(
    table: Annotated[str, typer.Argument(help="A loaded table.")],
    column: Annotated[str, typer.Argument(help="One of its columns.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many values.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The most frequent values of a column, with counts and shares (NULL included)."""
    import ibis

    from overture.data.loading import type_name

    with workspace_session() as ws:
        _require_table(ws, table)
        expr = ws.data.table(table)
        if column not in expr.columns:
            fail(f"table {table!r} has no column {column!r}{_suggest(column, list(expr.columns))}; "
                 f"`overture data show {table}` lists them")
        summary = expr.aggregate(
            rows=expr.count(), distinct=expr[column].nunique(),
            nulls=expr[column].isnull().sum(),
        ).to_pyarrow().to_pylist()[0]
        total = int(summary["rows"] or 0)
        counts = (
            expr.group_by(column)
            .aggregate(count=expr.count())
            .order_by([ibis.desc("count"), ibis._[column].isnull(),
                       *([column] if not expr[column].type().is_nested() else [])])
            .limit(limit)
        )
        top = counts.to_pyarrow().to_pylist()
        shown = [{"value": row[column], "count": int(row["count"]),
                  "share": (int(row["count"]) / total) if total else 0.0} for row in top]
        other = total - sum(v["count"] for v in shown)
        data = {"table": table, "column": column, "type": type_name(expr[column].type()),
                "rows": total, "distinct": int(summary["distinct"] or 0),
                "nulls": int(summary["nulls"] or 0), "values": shown, "other": other}
        if as_json:
            _echo_json(data)
            return
        console.print(
            f"[bold]{escape(table)}.{escape(column)}[/] ({data['type']}): {total:,} rows, "
            f"{data['distinct']:,} distinct value{'' if data['distinct'] == 1 else 's'}, "
            f"{data['nulls']:,} NULL",
            highlight=False, soft_wrap=True)
        grid = Table(header_style="bold")
        grid.add_column("value")
        grid.add_column("count", justify="right")
        grid.add_column("share", justify="right")
        for item in shown:
            label = "[dim]NULL[/]" if item["value"] is None else escape(_text(item["value"]))
            grid.add_row(label, f"{item['count']:,}", f"{item['share']:.1%}")
        if other:
            grid.add_row("[dim](other values)[/]", f"{other:,}",
                         f"{other / total:.1%}" if total else "")
        console.print(grid)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if value == "" or value != value.strip() else value
    return str(value)


@app.command()
@clean_errors
def check(as_json: JsonOption = False) -> None:
    """Check schema.yaml against the loaded tables: every key, link and channel column."""
    with workspace_session() as ws:
        catalog = ws.catalog
        problems = catalog.problems(ws.data.columns_of())
        if as_json:
            _echo_json({"ok": not problems, "problems": [
                {"path": p.path, "message": p.message} for p in problems]})
        elif problems:
            for problem in problems:
                console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
            err_console.print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in "
                              f"{ws.schema_path.name}", highlight=False, soft_wrap=True)
        else:
            console.print(f"{ws.schema_path.name} matches the loaded tables "
                          f"({len(catalog.tables)} declared)", highlight=False, soft_wrap=True)
        if problems:
            raise typer.Exit(1)
