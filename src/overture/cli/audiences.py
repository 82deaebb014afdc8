"""`overture audiences`: list saved audiences, or save a transition's population as one."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from overture.cli.common import clean_errors, console, fail, open_workspace

app = typer.Typer(help="Saved audiences: list them, or save a run's transition as one.",
                  no_args_is_help=True)


@app.command("list")
@clean_errors
def list_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every saved audience with its dimension and size."""
    from overture.data import audiences

    found = audiences.list_audiences(open_workspace().data)
    if as_json:
        typer.echo(json.dumps([{"name": a.name, "dimension": a.dimension, "rows": a.rows,
                                "saved_at": a.saved_at.isoformat(), "run": a.run_id}
                               for a in found], indent=2))
        return
    table = Table()
    for name in ("audience", "dimension", "profiles", "saved at (UTC)", "from run"):
        table.add_column(name)
    for a in found:
        table.add_row(a.name, a.dimension, f"{a.rows:,}", a.saved_at.strftime("%Y-%m-%d %H:%M"),
                      f"{a.run_id or ''} {a.activity or ''}".strip())
    console.print(table)


@app.command("save")
@clean_errors
def save_command(
    name: Annotated[str, typer.Argument(help="Audience name ([a-z][a-z0-9_]*).")],
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    port: Annotated[str, typer.Argument(help="ACTIVITY.PORT whose profiles to save.")],
) -> None:
    """Save the profiles that went through a transition of a run (test runs included)."""
    import re

    from overture.data import audiences

    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        fail(f"audience name {name!r} must match [a-z][a-z0-9_]*")
    ws = open_workspace()
    record = ws.control.get_run(run)
    activity, _, port_name = port.partition(".")
    port_name = port_name or "out"
    state = ws.control.activity_runs(record.id).get(activity)
    table_name = (state.tables or {}).get(port_name) if state else None
    if not table_name:
        fail(f"run {record.id} has no rows on {activity}.{port_name}")
    from overture.definition.validation import validate
    from overture.engine.environment import environment_for

    validated = validate(record.document, environment_for(ws, None))
    schema = validated.ports.get(f"{activity}.{port_name}")
    if schema is None or schema.dimension is None:
        fail(f"{activity}.{port_name} does not hold profiles")
    rows = ws.data.table_any(table_name)
    info = audiences.save(ws.data, name, schema.dimension, rows.select(schema.key),
                          run_id=record.id, activity=activity)
    console.print(f"audience [bold]{name}[/] saved: {info.rows:,} {schema.dimension}")
