"""`overture rule`: the SQL a rule runs (the "code view") and its count ("calculate")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from overture.cli.common import clean_errors, console, fail, open_workspace
from overture.data.workspace import Workspace
from overture.definition.campaign import read_document
from overture.definition.errors import InvalidDocument
from overture.definition.validation import test_variables, validate

app = typer.Typer(help="Show the SQL of an activity's rule, or count it.", no_args_is_help=True)

Target = Annotated[str, typer.Argument(
    help="ACTIVITY (build_audience, incremental_query) or ACTIVITY.SUBSET (a split subset).")]


def _expression(ws: Workspace, file: Path, target: str, clock: str | None) -> Any:
    from overture.data import audiences
    from overture.engine.environment import environment_for
    from overture.rules.compiler import Compiler, RuleContext

    raw = read_document(file)
    result = validate(raw, environment_for(ws, file.parent.resolve()))
    if result.problems:
        raise InvalidDocument(result.problems)
    campaign = result.raise_for_problems()
    activity_id, _, subset_id = target.partition(".")
    try:
        activity = campaign.activity(activity_id)
    except KeyError:
        fail(f"no activity {activity_id!r} in {file}")
    rule = getattr(activity, "rule", None)
    dimension = getattr(activity, "target", None) or campaign.target or ws.catalog.target
    if subset_id:
        subsets = {s.id: s for s in getattr(activity, "subsets", [])}
        if subset_id not in subsets:
            fail(f"{activity_id!r} has no subset {subset_id!r}")
        rule = subsets[subset_id].rule
        schema = result.ports.get(f"{activity_id}.{subset_id}")
        dimension = schema.dimension if schema else dimension
    elif not hasattr(activity, "rule"):
        fail(f"{activity_id!r} is a {activity.type}: it has no rule of its own "
             "(name a split subset as ACTIVITY.SUBSET)")
    moment = datetime.fromisoformat(clock) if clock else datetime.now(UTC)
    plane = ws.data

    def audience_table(name: str) -> tuple[str, str] | None:
        info = audiences.lookup(plane, name)
        return (info.table_name, info.dimension) if info else None

    compiler = Compiler(RuleContext(
        plane=plane, resolver=result_resolver(ws), clock=moment,
        timezone=ZoneInfo(campaign.timezone), variables=test_variables(campaign),
        filters_dir=ws.filters_dir, audience_table=audience_table))
    return compiler.filter(str(dimension), rule), bool(subset_id)


def result_resolver(ws: Workspace) -> Any:
    from overture.rules.resolve import Resolver

    return Resolver(ws.catalog, ws.data.columns_of())


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
