"""`overture run`: execute a campaign in test or live mode, with a live view of its activities."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Table
from rich.text import Text

from overture.cli.common import clean_errors, console, fail, open_workspace
from overture.data.workspace import Workspace, WorkspaceError
from overture.definition.campaign import read_document

if TYPE_CHECKING:
    from overture.cli.client import Backend, RemoteBackend, ServerClient

STATUS_STYLE = {"pending": "dim", "running": "bold yellow", "done": "green", "failed": "bold red",
                "skipped": "dim", "waiting": "cyan"}


class RateColumn(ProgressColumn):
    """Messages per second of a sending activity."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} msg/s", style="cyan")


class LiveView:
    """A table of activities with their status and port counts, redrawn as they change;
    a progress bar per channel activity while it sends."""

    def __init__(self, document: dict[str, Any]):
        self.rows: dict[str, dict[str, Any]] = {}
        for activity in document.get("activities", []):
            if isinstance(activity, dict):
                self.rows[str(activity.get("id"))] = {"type": activity.get("type"),
                                                      "status": "pending", "ports": None}
        self.live: Live | None = None
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), RateColumn(), auto_refresh=False)
        self.tasks: dict[str, Any] = {}

    def sending(self, activity_id: str, done: int, total: int) -> None:
        task = self.tasks.get(activity_id)
        if task is None:
            task = self.tasks[activity_id] = self.progress.add_task(
                f"sending {activity_id}", total=total)
        self.progress.update(task, completed=done, total=total)
        if self.live is not None:
            self.live.update(self.render())

    def update(self, activity_id: str, status: str, ports: dict[str, int | None] | None) -> None:
        row = self.rows.setdefault(activity_id, {"type": "", "status": status, "ports": None})
        row["status"] = status
        if ports is not None:
            row["ports"] = ports
        if self.live is not None:
            self.live.update(self.render())

    def render(self) -> RenderableType:
        if self.tasks:
            return Group(self.table(), self.progress)
        return self.table()

    def table(self) -> Table:
        table = Table(title="Activities", expand=False)
        table.add_column("activity")
        table.add_column("type", style="dim")
        table.add_column("status")
        table.add_column("ports", justify="left")
        for activity_id, row in self.rows.items():
            style = STATUS_STYLE.get(row["status"], "")
            ports = row["ports"]
            shown = ", ".join(f"{p}: {'—' if n is None else f'{n:,}'}"
                              for p, n in ports.items()) if ports else ""
            table.add_row(activity_id, str(row["type"]), Text(row["status"], style), shown)
        return table


def _parse_vars(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            fail(f"--var {pair!r}: write NAME=VALUE")
        name, value = pair.split("=", 1)
        try:
            values[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            values[name.strip()] = value
    return values


def _parse_clock(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--clock {text!r} is not an ISO 8601 instant such as 2027-03-01T09:00:00+00:00")
    if moment.tzinfo is None:
        fail("--clock needs a UTC offset, e.g. 2027-03-01T09:00:00+00:00")
    return moment


def register(app: typer.Typer) -> None:
    @app.command("run")
    @clean_errors
    def run(
        file: Annotated[Path | None, typer.Argument(help="Campaign document (YAML or JSON).")]
        = None,
        test: Annotated[bool, typer.Option("--test", help="Test mode: real data, nothing "
                                                          "sent, no audience written.")] = False,
        live: Annotated[bool, typer.Option("--live", help="Live mode: send the messages "
                                                          "and write audiences.")] = False,
        resume: Annotated[str | None, typer.Option("--resume", metavar="RUN",
                                                   help="Resume an interrupted run.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
        clock: Annotated[str | None, typer.Option(
            help="Fix the run's logical clock (ISO 8601 with offset).")] = None,
        var: Annotated[list[str] | None, typer.Option(
            "--var", help="Set a campaign variable: NAME=VALUE (repeatable).")] = None,
        detach: Annotated[bool, typer.Option(
            "--detach", help="Record the run for the workers (`overture worker`, or the "
                             "server) and return at once, printing its id.")] = False,
    ) -> None:
        """Run a campaign: every activity on real data, with live counts per port."""
        from overture.cli.client import URL_ENV, server_for
        from overture.engine.runner import queue_run, resume_run, start_run

        ws: Workspace | None = None
        try:
            ws = open_workspace()
        except WorkspaceError:
            if not os.environ.get(URL_ENV, "").strip():
                raise
        client = server_for(ws)
        if client is not None:
            if detach:
                fail("--detach records the run in the workspace for its workers; a server "
                     "holds this workspace: start the run through it (without --detach)")
            _run_through_server(client, file, test=test, live=live, resume=resume,
                                as_json=as_json, clock=clock, var=var or [])
            return
        assert ws is not None
        if detach:
            if file is None or resume or test == live:
                fail("--detach takes a campaign FILE and --test or --live")
            from overture.cli.client import plain_json

            run_id = queue_run(ws, plain_json(read_document(file)),
                               base_dir=file.parent.resolve(),
                               mode="live" if live else "test", clock=_parse_clock(clock),
                               variables=_parse_vars(var or []))
            typer.echo(json.dumps({"run": run_id, "status": "pending"}) if as_json
                       else run_id)
            return
        if resume:
            run_doc = ws.control.get_run(resume).document
            view = LiveView(run_doc)
            result = _with_view(view, as_json, lambda obs: resume_run(
                ws, resume, obs, progress=view.sending))
        else:
            if file is None:
                fail("give a campaign FILE, or --resume RUN")
            if test == live:
                fail("say how to run: --test (real data, nothing sent) or --live (sends)")
            mode = "live" if live else "test"
            from overture.cli.client import plain_json

            raw = plain_json(read_document(file))  # YAML dates as the store keeps them
            view = LiveView(raw)
            result = _with_view(view, as_json, lambda obs: start_run(
                ws, raw, base_dir=file.parent.resolve(), mode=mode,
                clock=_parse_clock(clock), variables=_parse_vars(var or []), observer=obs,
                progress=view.sending))
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            _print_result(result)
        if result["status"] != "done":
            raise typer.Exit(1)


def _run_through_server(client: ServerClient, file: Path | None, *, test: bool, live: bool,
                        resume: str | None, as_json: bool, clock: str | None,
                        var: list[str]) -> None:
    """`overture run` when a server holds the workspace (or OVERTURE_URL names one): a
    test run of the file as the campaign's draft, executed by the server."""
    from overture.cli.client import RemoteBackend, storable

    backend = RemoteBackend(client)
    if clock is not None:
        fail(f"--clock: runs through the server at {client.url} read the server's clock; "
             "stop the server to run on a clock of your own")
    if resume:
        result = follow_run(backend, backend.run_action(resume, "resume"), as_json)
    else:
        if file is None:
            fail("give a campaign FILE, or --resume RUN")
        if test == live:
            fail("say how to run: --test (real data, nothing sent) or --live (sends)")
        document = storable(read_document(file), file, backend.root)
        name = str(document.get("name") or "NAME")
        if live:
            fail(f"live runs through the server at {client.url} are started by publishing: "
                 f"`overture campaign update {name} {file}` (or `create`), then "
                 f"`overture campaign publish {name}`")
        _store_draft(backend, name, document)
        run_id = backend.start_test_run(name, _parse_vars(var))
        result = follow_run(backend, run_id, as_json, document)
    from overture.cli.client import spec_result

    result = spec_result(result)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print_result(result)
    if result["status"] != "done":
        raise typer.Exit(1)


def _store_draft(backend: RemoteBackend, name: str, document: dict[str, Any]) -> None:
    """The file becomes the campaign's draft: created when new, replaced when changed."""
    from overture.cli.client import ServerCallError

    try:
        current = backend.campaign(name, problems=False)
    except ServerCallError as exc:
        if exc.status != 404:
            raise
        backend.create(document)
        return
    if current.get("draft") != document:
        backend.update(name, document)


def follow_run(backend: Backend, run_id: str, quiet: bool,
               document: dict[str, Any] | None = None) -> dict[str, Any]:
    """Wait for a run started or resumed through `backend` to stop moving (executing it
    here when it is local), with the live view on a terminal; its run resource."""
    if document is None:
        first = backend.run(run_id)
        document = {"activities": [{"id": a, "type": ""} for a in first["activities"]]}
    view = LiveView(document)
    return _with_view(view, quiet, lambda obs: backend.settle(run_id, obs, view.sending))


def _with_view(view: LiveView, quiet: bool, work: Any) -> dict[str, Any]:
    if quiet or not console.is_terminal:
        return work(view.update)
    with Live(view.render(), console=console, refresh_per_second=8, transient=True) as live:
        view.live = live
        return work(view.update)


def _print_result(result: dict[str, Any]) -> None:
    table = Table(title=f"Run {result['run']} · {result['campaign']} · {result['mode']} · "
                        f"{result['status']}")
    table.add_column("activity")
    table.add_column("status")
    table.add_column("ports")
    table.add_column("excluded")
    for activity_id, entry in result["activities"].items():
        style = STATUS_STYLE.get(entry["status"], "")
        ports = entry.get("ports")
        shown = ", ".join(f"{p}: {'—' if n is None else f'{n:,}'}"
                          for p, n in ports.items()) if ports else ""
        excluded = entry.get("excluded") or {}
        table.add_row(activity_id, Text(entry["status"], style), shown,
                      ", ".join(f"{k}: {v:,}" for k, v in excluded.items()))
    console.print(table)
    hinted = _print_waiting(result)
    if result.get("error") and result["status"] == "paused":
        console.print(f"[bold cyan]paused:[/] {escape(result['error'])}")
        console.print(f"To continue: [cyan]overture run --resume {result['run']}[/]")
    elif result["status"] == "waiting":
        if not hinted and result.get("error"):
            console.print(f"[bold cyan]waiting:[/] {escape(result['error'])}")
    elif result["status"] == "stopped":
        why = f": {escape(result['error'])}" if result.get("error") else ""
        console.print(f"[bold]stopped[/]{why}")
    elif result.get("error"):
        console.print(f"[bold red]failed:[/] {escape(result['error'])}")
        console.print(f"Fix the cause, then: [cyan]overture run --resume {result['run']}[/]")


def _print_waiting(result: dict[str, Any]) -> bool:
    """What each waiting activity waits for, and the command that lets it go on; whether
    there was any."""
    run = result["run"]
    hinted = False
    for activity_id, entry in result["activities"].items():
        kind = entry.get("waiting_for")
        if entry.get("status") != "waiting" or not kind:
            continue
        if kind == "confirmation":
            hint = f"waits for a confirmation: overture runs confirm {run} {activity_id}"
        elif kind == "breakpoint":
            hint = f"stops at a breakpoint: overture runs continue {run} {activity_id}"
        elif kind in ("timer", "deferred"):
            hint = f"waits until {entry.get('wake_at') or 'its time'} (the server wakes it)"
        else:
            hint = f"is paused ({kind}): overture runs resume {run}"
        console.print(f"[cyan]{escape(activity_id)}[/] {escape(hint)}", highlight=False,
                      soft_wrap=True)
        hinted = True
    return hinted
