"""`overture runs`: list runs, counts per transition, previews of work tables, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from overture.cli.common import clean_errors, console, fail, open_workspace
from overture.cli.run import STATUS_STYLE

app = typer.Typer(help="Look at runs: list, counts per transition, previews, log; prune old "
                       "work tables.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


@app.command("list")
@clean_errors
def list_command(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's runs.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The latest runs, newest first."""
    runs = open_workspace().control.list_runs(campaign, limit)
    if as_json:
        typer.echo(json.dumps([{"run": r.id, "campaign": r.campaign, "mode": r.mode,
                                "status": r.status.value, "started_at": _when(r.started_at),
                                "finished_at": _when(r.finished_at)} for r in runs], indent=2))
        return
    table = Table()
    for name in ("run", "campaign", "mode", "status", "started (UTC)", "finished (UTC)"):
        table.add_column(name)
    for r in runs:
        style = STATUS_STYLE.get(r.status.value, "")
        table.add_row(r.id, r.campaign, r.mode, Text(r.status.value, style),
                      _when(r.started_at), _when(r.finished_at))
    console.print(table)


def transitions(document: dict[str, Any], states: dict[str, Any]) -> list[dict[str, Any]]:
    """Every transition (port -> activity) with the count that flowed through it."""
    from overture.definition.graph import parse_input

    rows = []
    for activity in document.get("activities", []):
        if not isinstance(activity, dict):
            continue
        for text in activity.get("inputs") or []:
            source, port = parse_input(text)
            port = port or "out"
            state = states.get(source)
            count = (state.ports or {}).get(port) if state and state.ports else None
            rows.append({"from": source, "port": port, "to": activity.get("id"),
                         "count": count})
    return rows


@app.command("show")
@clean_errors
def show_command(run: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
                 as_json: JsonOpt = False) -> None:
    """A run's activities and the count on every transition."""
    from overture.engine.runner import run_summary

    ws = open_workspace()
    record = ws.control.get_run(run)
    states = ws.control.activity_runs(record.id)
    summary = run_summary(ws, record.id)
    summary["transitions"] = transitions(record.document, states)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console.print(f"Run [bold]{record.id}[/] · {record.campaign} · {record.mode} · "
                  f"{record.status.value} · clock {record.clock.isoformat()}")
    table = Table(title="Transitions")
    for name in ("from", "port", "to", "count"):
        table.add_column(name, justify="right" if name == "count" else "left")
    for row in summary["transitions"]:
        count = "—" if row["count"] is None else f"{row['count']:,}"
        table.add_row(row["from"], row["port"], row["to"], count)
    console.print(table)
    errors = {a: e["error"] for a, e in summary["activities"].items() if e.get("error")}
    for activity, error in errors.items():
        console.print(Text.assemble((activity, "red"), ": ", error))


@app.command("preview")
@clean_errors
def preview_command(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    port: Annotated[str, typer.Argument(help="ACTIVITY.PORT (or ACTIVITY for its out port).")],
    limit: Annotated[int, typer.Option(help="How many rows.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The first rows that went through a transition."""
    ws = open_workspace()
    record = ws.control.get_run(run)
    activity, _, port_name = port.partition(".")
    port_name = port_name or "out"
    state = ws.control.activity_runs(record.id).get(activity)
    if state is None:
        fail(f"run {record.id} has no activity {activity!r} that ran")
    tables = state.tables or {}
    if port_name not in tables:
        fail(f"{activity!r} has no port {port_name!r} in this run "
             f"(ports: {', '.join(tables) or 'none'})")
    table_name = tables[port_name]
    if table_name is None:
        fail(f"{activity}.{port_name} was not taken in this run: nothing went through it")
    if record.pruned_at is not None:
        fail(f"run {record.id} was pruned on {_when(record.pruned_at)}: its rows are gone")
    rows = ws.data.preview(table_name, limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    total = (state.ports or {}).get(port_name)
    out = Table(title=f"{activity}.{port_name}: first {len(rows)} of {total:,} rows"
                if total is not None else f"{activity}.{port_name}")
    columns = list(rows[0]) if rows else []
    for name in columns:
        out.add_column(name)
    for row in rows:
        out.add_row(*[Text("" if row[c] is None else str(row[c])) for c in columns])
    console.print(out)


@app.command("log")
@clean_errors
def log_command(run: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
                as_json: JsonOpt = False) -> None:
    """The run's log: what each activity did, and errors."""
    ws = open_workspace()
    record = ws.control.get_run(run)
    entries = [e for e in ws.control.logs(record.id) if e.level != "debug"]
    if as_json:
        typer.echo(json.dumps([{"at": e.at.isoformat(), "activity": e.activity_id,
                                "level": e.level, "message": e.message} for e in entries],
                              indent=2))
        return
    for e in entries:
        style = {"error": "red", "warning": "yellow"}.get(e.level, "")
        line = Text.assemble((_when(e.at), "dim"), " ",
                             (f"{e.activity_id} " if e.activity_id else "", "bold"),
                             (e.message, style))
        console.print(line, highlight=False)


@app.command("prune")
@clean_errors
def prune_command(
    older_than: Annotated[str, typer.Option("--older-than", help="Age such as 5d, 12h, 2w.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")]
    = False,
) -> None:
    """Drop the work tables of finished runs older than the age; unfinished runs are kept."""
    from overture.engine.retention import prune, prune_horizon

    ws = open_workspace()
    horizon = prune_horizon(older_than)
    pruned = prune(ws, horizon, dry_run=dry_run)
    verb = "would drop" if dry_run else "dropped"
    for run_id, n in pruned:
        console.print(f"run {run_id}: {verb} {n} work tables")
    suffix = " (dry run: nothing dropped)" if dry_run else ""
    console.print(f"{len(pruned)} finished runs older than {older_than} pruned{suffix}")
