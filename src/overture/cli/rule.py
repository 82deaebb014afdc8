"""`overture rule`: the SQL a rule runs (the "code view") and its count ("calculate")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from overture.cli.common import clean_errors, console, open_workspace
from overture.data.workspace import Workspace
from overture.definition.campaign import read_document

app = typer.Typer(help="Show the SQL of an activity's rule, or count it.", no_args_is_help=True)

Target = Annotated[str, typer.Argument(
    help="ACTIVITY (build_audience, incremental_query) or ACTIVITY.SUBSET (a split subset).")]


def _expression(ws: Workspace, file: Path, target: str, clock: str | None) -> Any:
    from overture.engine.rules import rule_expression

    raw = read_document(file)
    moment = datetime.fromisoformat(clock) if clock else datetime.now(UTC)
    found = rule_expression(ws, raw, target, base_dir=file.parent.resolve(), clock=moment)
    return found.expr, found.over_whole_dimension


Clock = Annotated[str | None, typer.Option(help="The clock for in_last (ISO 8601).")]


@app.command("sql")
@clean_errors
def sql_command(file: Path, target: Target, clock: Clock = None) -> None:
    """Print the SQL that the engine runs for this rule."""
    ws = open_workspace()
    expr, on_dimension = _expression(ws, file, target, clock)
    if on_dimension:
        console.print("-- the subset's rule over the whole dimension (its input is known only "
                      "when the campaign runs)", style="dim")
    typer.echo(ws.data.sql(expr))


@app.command("count")
@clean_errors
def count_command(
    file: Path, target: Target, clock: Clock = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"count": N}.')] = False,
) -> None:
    """Count the profiles matching this rule, without running the campaign."""
    ws = open_workspace()
    expr, on_dimension = _expression(ws, file, target, clock)
    n = ws.data.count(expr)
    if as_json:
        typer.echo(json.dumps({"count": n, "over_whole_dimension": on_dimension}))
        return
    suffix = " (over the whole dimension)" if on_dimension else ""
    console.print(f"{n:,} profiles{suffix}")
