"""`overture runs`: list runs, counts per transition, previews of work tables, retention;
and what people do to runs: confirm sending, continue past a breakpoint, pause, stop,
resume, restart, and the list of tasks waiting for them. On the workspace, or through a
running server (the same output either way)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from overture.cli.client import RemoteBackend, connect, spec_result
from overture.cli.common import clean_errors, console, fail, open_workspace
from overture.cli.run import STATUS_STYLE, _print_result, follow_run

app = typer.Typer(help="Look at runs: list, counts per transition, previews, log; confirm, "
                       "continue, pause, stop, resume, restart; tasks waiting for people; "
                       "prune old work tables.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


RunArg = Annotated[str, typer.Argument(help="Run id (or a unique prefix).")]
ActivityArg = Annotated[str, typer.Argument(help="Activity id.")]
#: what waits for a clock, not for a person
TIMED = frozenset({"timer", "deferred"})


def _when(moment: datetime | str | None) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


@app.command("list")
@clean_errors
def list_command(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's runs.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The latest runs, newest first."""
    backend = connect()
    try:
        runs = backend.runs(campaign, limit)
    finally:
        backend.close()
    if as_json:
        typer.echo(json.dumps([{"run": r["id"], "campaign": r["campaign"], "mode": r["mode"],
                                "status": r["status"], "started_at": _when(r["started_at"]),
                                "finished_at": _when(r["finished_at"])} for r in runs],
                              indent=2))
        return
    table = Table()
    for name in ("run", "campaign", "mode", "status", "started (UTC)", "finished (UTC)"):
        table.add_column(name)
    for r in runs:
        style = STATUS_STYLE.get(r["status"], "")
        table.add_row(r["id"], r["campaign"], r["mode"], Text(r["status"], style),
                      _when(r["started_at"]), _when(r["finished_at"]))
    console.print(table)


def transitions(document: dict[str, Any], activities: dict[str, Any]) -> list[dict[str, Any]]:
    """Every transition (port -> activity) with the count that flowed through it, from a
    run's activities as its summary reports them."""
    from overture.definition.graph import parse_input

    rows = []
    for activity in document.get("activities", []):
        if not isinstance(activity, dict):
            continue
        for text in activity.get("inputs") or []:
            source, port = parse_input(text)
            port = port or "out"
            entry = activities.get(source)
            ports = entry.get("ports") if isinstance(entry, dict) else None
            rows.append({"from": source, "port": port, "to": activity.get("id"),
                         "count": ports.get(port) if ports else None})
    return rows


@app.command("show")
@clean_errors
def show_command(run: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
                 as_json: JsonOpt = False) -> None:
    """A run's activities and the count on every transition."""
    backend = connect()
    try:
        summary = backend.run(run)
        document = backend.run_document(summary["run"])
    finally:
        backend.close()
    summary["transitions"] = transitions(document or {}, summary["activities"])
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console.print(f"Run [bold]{summary['run']}[/] · {summary['campaign']} · {summary['mode']} · "
                  f"{summary['status']} · clock {summary['clock']}")
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
    activity, _, port_name = port.partition(".")
    backend = connect()
    if isinstance(backend, RemoteBackend):
        page = backend.rows(run, activity, port_name or "out", limit)
        _print_rows(page["rows"], page["columns"], f"{activity}.{port_name or 'out'}",
                    page.get("total"), as_json)
        return
    backend.close()
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
    _print_rows(rows, list(rows[0]) if rows else [], f"{activity}.{port_name}",
                (state.ports or {}).get(port_name), as_json)


def _print_rows(rows: list[dict[str, Any]], columns: list[str], label: str,
                total: int | None, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    out = Table(title=f"{label}: first {len(rows)} of {total:,} rows"
                if total is not None else label)
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
    backend = connect()
    try:
        entries = [e for e in backend.log(run) if e["level"] != "debug"]
    finally:
        backend.close()
    if as_json:
        typer.echo(json.dumps([{"at": e["at"], "activity": e["activity_id"],
                                "level": e["level"], "message": e["message"]}
                               for e in entries], indent=2))
        return
    for e in entries:
        style = {"error": "red", "warning": "yellow"}.get(e["level"], "")
        line = Text.assemble((_when(e["at"]), "dim"), " ",
                             (f"{e['activity_id']} " if e["activity_id"] else "", "bold"),
                             (e["message"], style))
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


# ---- what people do to runs ----

def _after(backend_call: Any, as_json: bool) -> None:
    """Run an action through the backend, wait for the run to stop moving (executing it
    here when local), print it like `overture run`; exit 1 if it failed."""
    backend = connect()
    try:
        run_id = backend_call(backend)
        summary = follow_run(backend, run_id, as_json)
    finally:
        backend.close()
    if as_json:
        typer.echo(json.dumps(spec_result(summary), indent=2))
    else:
        _print_result(summary)
    if summary.get("status") == "failed":
        raise typer.Exit(1)


@app.command("confirm")
@clean_errors
def confirm_command(run: RunArg, activity: ActivityArg, as_json: JsonOpt = False) -> None:
    """Give the go-ahead to a sending activity waiting for confirmation; the run goes on."""
    _after(lambda b: b.confirm(run, activity), as_json)


@app.command("continue")
@clean_errors
def continue_command(run: RunArg, activity: ActivityArg, as_json: JsonOpt = False) -> None:
    """Continue a run stopped at a breakpoint before ACTIVITY."""
    _after(lambda b: b.continue_breakpoint(run, activity), as_json)


@app.command("pause")
@clean_errors
def pause_command(run: RunArg, as_json: JsonOpt = False) -> None:
    """Pause a run (an executing one stops at its next safe point): `runs resume` goes on."""
    _after(lambda b: b.run_action(run, "pause"), as_json)


@app.command("stop")
@clean_errors
def stop_command(run: RunArg, as_json: JsonOpt = False) -> None:
    """Stop a run for good (it does not resume; `runs restart` starts a new one)."""
    _after(lambda b: b.run_action(run, "stop"), as_json)


@app.command("resume")
@clean_errors
def resume_command(run: RunArg, as_json: JsonOpt = False) -> None:
    """Resume a paused, failed, waiting or interrupted run from the activities not done
    (a suspended activity is retried)."""
    _after(lambda b: b.run_action(run, "resume"), as_json)


@app.command("restart")
@clean_errors
def restart_command(run: RunArg, as_json: JsonOpt = False) -> None:
    """A new run of the same document, version and variables (the old one stops)."""
    _after(lambda b: b.run_action(run, "restart"), as_json)


@app.command("tasks")
@clean_errors
def tasks_command(as_json: JsonOpt = False) -> None:
    """Activities waiting for people: confirmations, breakpoints, paused sends."""
    backend = connect()
    try:
        tasks = [t for t in backend.tasks() if t.get("kind") not in TIMED]
    finally:
        backend.close()
    if as_json:
        typer.echo(json.dumps(tasks, indent=2))
        return
    if not tasks:
        console.print("nothing waits for anyone")
        return
    for task in tasks:  # one line each: the command is copied as it is
        run, activity, kind = task["run"], task["activity"], task.get("kind") or ""
        what, command = {
            "confirmation": ("waits for a confirmation", f"overture runs confirm {run} "
                                                         f"{activity}"),
            "breakpoint": ("stops at a breakpoint", f"overture runs continue {run} {activity}"),
        }.get(kind, (f"is paused ({kind})", f"overture runs resume {run}"))
        message = f" ({task['message']})" if task.get("message") else ""
        console.print(Text.assemble((run, "bold"), " ", (activity, "cyan"), f" {what}: ",
                                    (command, "cyan"), message), highlight=False,
                      soft_wrap=True)
