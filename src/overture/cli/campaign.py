"""`overture campaign`: validate documents, preview their schedule, print their JSON Schema;
and the lifecycle of stored campaigns (spec §6): drafts, versions, publication, statuses,
test runs and signals, on the workspace or through a running server."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.markup import escape
from rich.table import Table

from overture.cli.client import Backend, connect, spec_result, storable
from overture.cli.common import clean_errors, console, err_console, fail, open_workspace
from overture.cli.run import _parse_vars, _print_result, follow_run
from overture.data.workspace import WorkspaceError
from overture.definition.campaign import DocumentError, campaign_json_schema, read_document
from overture.definition.errors import InvalidDocument, Problem
from overture.definition.validation import validate
from overture.errors import OvertureError
from overture.schedules import Schedule, ScheduleError, parse_schedule

app = typer.Typer(help="Check campaign documents and print their schema; create, publish and "
                       "run stored campaigns.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Campaign name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
VarOpt = Annotated[list[str] | None, typer.Option(
    "--var", help="Set a campaign variable: NAME=VALUE (repeatable).")]
#: campaign names (spec §2): what `schedule ARG` reads as a stored campaign
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
PAST = {"pause": "paused", "resume": "resumed", "stop": "stopped", "close": "closed",
        "archive": "archived"}


@app.command("validate")
@clean_errors
def validate_command(
    file: Annotated[Path, typer.Argument(help="Campaign document (YAML or JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="Problems as JSON.")] = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Check structure and graph only, without the workspace's data.")]
    = False,
) -> None:
    """Print every problem of a document with its activity and setting path (exit 1 if any)."""
    from overture.engine.environment import environment_for

    try:
        raw = read_document(file)
    except DocumentError as exc:
        if not as_json:
            raise
        problem = Problem("", str(exc))  # the shape of every other answer, for tools
        typer.echo(json.dumps({"valid": False, "problems": [problem.to_dict()]}, indent=2))
        raise typer.Exit(1) from None
    env = None
    if not offline:
        from overture.server.serve import server_info

        try:
            ws = open_workspace()
        except WorkspaceError:
            err_console.print("[yellow]no workspace: checking structure and graph only[/]")
        else:
            if server_info(ws.state_dir) is not None:
                err_console.print("[yellow]the workspace is held by `overture serve`: checking "
                                  "structure and graph only[/]")
            else:
                env = environment_for(ws, file.parent.resolve())
    result = validate(raw, env)
    if as_json:
        typer.echo(json.dumps({"valid": result.ok,
                               "problems": [p.to_dict() for p in result.problems]}, indent=2))
    elif result.ok:
        assert result.campaign is not None
        console.print(f"[green]✓[/] {escape(str(file))}: campaign "
                      f"{escape(repr(result.campaign.name))} is valid "
                      f"({len(result.campaign.activities)} activities)", highlight=False,
                      soft_wrap=True)
    else:
        for problem in result.problems:
            err_console.print(f"[red]✗[/] {escape(str(problem))}", highlight=False,
                              soft_wrap=True)
        err_console.print(f"{len(result.problems)} problem(s) in {file}")
    if not result.ok:
        raise typer.Exit(1)


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of campaign documents (for editors and the canvas)."""
    typer.echo(json.dumps(campaign_json_schema(), indent=2))


@app.command("schedule")
@clean_errors
def schedule_command(
    file: Annotated[str, typer.Argument(
        metavar="FILE|NAME",
        help="Campaign document (YAML or JSON), or the name of a stored campaign (its latest "
             "published version, else its draft).")],
    after: Annotated[str | None, typer.Option(
        "--after", metavar="INSTANT",
        help="List the starts after this ISO 8601 instant; without a UTC offset it is read "
             "in the campaign's time zone. Default: now.")] = None,
    count: Annotated[int, typer.Option("--count", min=1, help="How many starts.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"starts": [...]}.')] = False,
) -> None:
    """List the next starts of a campaign's schedule, with their UTC offsets (spec §7)."""
    raw, origin = _schedule_document(file)
    zone = _campaign_zone(raw, origin)
    if raw.get("schedule") is None:
        if as_json:
            typer.echo(json.dumps({"starts": []}))
        fail(f"{origin}: no schedule: the campaign starts only by hand")
    schedule = _campaign_schedule(raw["schedule"])
    if schedule.is_signal:
        if as_json:
            typer.echo(json.dumps({"starts": []}))
        limit = (f", at most once every {_duration(schedule.min_interval)}"
                 if schedule.min_interval else "")
        err_console.print(f"{escape(origin)}: started by signals through the API{limit}; "
                          "no timed starts", highlight=False, soft_wrap=True)
        return
    instant = _instant(after, zone)
    starts = schedule.starts(zone, instant, count)
    shown = [start.isoformat() for start in starts]
    if as_json:
        typer.echo(json.dumps({"starts": shown}))
    else:
        for line in shown:
            typer.echo(line)
    if len(starts) < count:
        what = "no start" if not starts else f"only {len(starts)} start(s)"
        err_console.print(f"{what} after {instant.isoformat()}: the schedule ends",
                          highlight=False, soft_wrap=True)


def _schedule_document(arg: str) -> tuple[dict[str, Any], str]:
    """The campaign document `overture campaign schedule` reads, and where it came from:
    a file, or else (a bare name) a stored campaign's latest version or its draft."""
    path = Path(arg)
    if path.exists() or not NAME_RE.match(arg):
        return read_document(path), str(path)
    backend = connect()
    try:
        try:
            record = backend.campaign(arg, problems=False)
        except OvertureError as exc:
            if getattr(exc, "code", None) == "not_found":
                raise DocumentError(f"{arg}: no such file, and no campaign of that name in "
                                    f"{backend.where}") from None
            raise
        number = record.get("latest_version")
        if number:
            return backend.version_document(arg, int(number)), f"campaign {arg} (version {number})"
        return dict(record.get("draft") or {}), f"campaign {arg} (draft)"
    finally:
        backend.close()


def _campaign_zone(raw: dict[str, Any], origin: str) -> str:
    zone = raw.get("timezone", "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        fail(f"{origin}: timezone: {zone!r} is not an IANA time zone such as Europe/Paris")
    return str(zone)


def _campaign_schedule(raw: Any) -> Schedule:
    try:
        return parse_schedule(raw)
    except ScheduleError as exc:
        raise InvalidDocument([Problem(f"schedule.{path}" if path else "schedule", message)
                               for path, message in exc.problems]) from None


def _instant(text: str | None, zone: str) -> datetime:
    """--after as an aware instant: naive means in the campaign's time zone."""
    if text is None:
        return datetime.now(UTC).astimezone(ZoneInfo(zone))
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--after: {text!r} is not an ISO 8601 instant such as 2027-03-01T09:00 or "
             "2027-03-01T09:00+01:00")
    if value.utcoffset() is None:  # local: through UTC, so a time in a gap moves forward
        value = value.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return value.astimezone(ZoneInfo(zone))


def _duration(value: Any) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# ---- the lifecycle of stored campaigns (spec §6) ----

def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _ok(text: str) -> None:
    console.print(f"[green]✓[/] {text}", highlight=False, soft_wrap=True)


def _when(text: str | None) -> str:
    """An ISO instant from the API as `YYYY-MM-DD HH:MM:SS` UTC ('' for none)."""
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _problems_line(detail: dict[str, Any]) -> str:
    problems = detail.get("problems") or []
    if detail.get("draft") is None:
        return "no draft"
    if not problems:
        return "the draft is valid"
    return (f"the draft has {len(problems)} problem(s) to fix before publishing: "
            f"overture campaign show {detail['name']}")


def _status_line(detail: dict[str, Any]) -> str:
    parts = [str(detail["name"]), str(detail["status"])]
    number = detail.get("latest_version")
    parts.append(f"version {number}" if number else "never published")
    if detail.get("next_start"):
        parts.append(f"next start {detail['next_start']}")
    return " · ".join(parts)


def _read_file(backend: Backend, file: Path) -> dict[str, Any]:
    return storable(read_document(file), file, backend.root)


def _run_exit(summary: dict[str, Any]) -> None:
    if summary.get("status") == "failed":
        raise typer.Exit(1)


def _show_run(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _echo_json(spec_result(summary))
    else:
        _print_result(summary)


@app.command("create")
@clean_errors
def create_command(
    file: Annotated[Path, typer.Argument(help="Campaign document (YAML or JSON).")],
    as_json: JsonOpt = False,
) -> None:
    """Store a new campaign as a draft, from a file (the name is the document's `name`).

    A draft may still have problems: `overture campaign show NAME` lists them, and
    publishing refuses until they are fixed.
    """
    backend = connect()
    try:
        detail = backend.create(_read_file(backend, file))
    finally:
        backend.close()
    if as_json:
        _echo_json(detail)
        return
    _ok(f"campaign {escape(repr(detail['name']))} created as a draft; "
        f"{escape(_problems_line(detail))}")


@app.command("update")
@clean_errors
def update_command(
    name: NameArg,
    file: Annotated[Path, typer.Argument(help="The new draft (YAML or JSON).")],
    as_json: JsonOpt = False,
) -> None:
    """Replace a campaign's draft (published versions stay as they are)."""
    backend = connect()
    try:
        detail = backend.update(name, _read_file(backend, file))
    finally:
        backend.close()
    if as_json:
        _echo_json(detail)
        return
    _ok(f"draft of {escape(repr(name))} replaced; {escape(_problems_line(detail))}")


@app.command("list")
@clean_errors
def list_command(as_json: JsonOpt = False) -> None:
    """Stored campaigns: status, latest published version, next start."""
    backend = connect()
    try:
        campaigns = backend.campaigns()
    finally:
        backend.close()
    rows = [{"name": c["name"], "status": c["status"], "latest_version": c.get("latest_version"),
             "next_start": c.get("next_start"), "updated_at": c.get("updated_at"),
             "updated_by": c.get("updated_by")} for c in campaigns]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        console.print("no stored campaigns: [cyan]overture campaign create FILE[/]")
        return
    table = Table()
    for column in ("name", "status", "version", "next start (UTC)", "updated (UTC)", "by"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["status"], str(row["latest_version"] or "—"),
                      _when(row["next_start"]), _when(row["updated_at"]),
                      row["updated_by"] or "")
    console.print(table)


@app.command("show")
@clean_errors
def show_command(name: NameArg, as_json: JsonOpt = False) -> None:
    """A campaign's status, versions, the draft's problems and its history."""
    backend = connect()
    try:
        detail = backend.campaign(name)
        detail["history"] = backend.history(name)
    finally:
        backend.close()
    if as_json:
        _echo_json(detail)
        return
    console.print(f"[bold]{escape(_status_line(detail))}[/]", highlight=False, soft_wrap=True)
    versions = detail.get("versions") or []
    if versions:
        console.print("versions:")
        for version in versions:
            console.print(f"  {version['number']}  published {_when(version['published_at'])} "
                          f"UTC by {escape(str(version['published_by']))}", highlight=False)
    problems = detail.get("problems") or []
    if detail.get("draft") is None:
        console.print("no draft")
    else:
        console.print(f"draft: {len(problems)} problem(s)" if problems else "draft: valid")
    for problem in problems:
        text = str(Problem(problem.get("path") or "", problem.get("message") or ""))
        console.print(f"  [red]✗[/] {escape(text)}", highlight=False, soft_wrap=True)
    console.print("history:")
    _print_history(detail["history"], indent="  ")


def _print_history(entries: list[dict[str, Any]], indent: str = "") -> None:
    for entry in entries:
        detail = entry.get("detail")
        extra = " " + json.dumps(detail, default=str) if detail else ""
        console.print(f"{indent}{_when(entry['at'])}  {escape(str(entry['actor']))}  "
                      f"{escape(str(entry['action']))}{escape(extra)}", highlight=False,
                      soft_wrap=True)


@app.command("history")
@clean_errors
def history_command(name: NameArg, as_json: JsonOpt = False) -> None:
    """Who did what to a campaign, and when (UTC), oldest first."""
    backend = connect()
    try:
        entries = backend.history(name)
    finally:
        backend.close()
    if as_json:
        _echo_json(entries)
    else:
        _print_history(entries)


@app.command("publish")
@clean_errors
def publish_command(name: NameArg, as_json: JsonOpt = False) -> None:
    """Validate the draft and freeze it as the next numbered version.

    The first publication schedules the campaign (or, without a schedule, starts a live
    run at once, whose sending activities wait for a confirmation:
    `overture runs confirm RUN ACTIVITY`). A signal campaign waits for signals.
    """
    backend = connect()
    try:
        detail = backend.publish(name)
        number = detail.get("published")
        started = [r["id"] for r in backend.runs(name, limit=20)
                   if r.get("trigger") == "publish" and r.get("version") == number
                   and r.get("status") in ("pending", "running")]
        results = [follow_run(backend, run_id, as_json) for run_id in started]
    finally:
        backend.close()
    if as_json:
        _echo_json({**detail, "runs": [spec_result(r) for r in results]})
        return
    _ok(f"campaign {escape(repr(name))}: version {number} published; "
        f"{escape(_status_line(detail))}")
    for result in results:
        console.print(f"live run [bold]{result['run']}[/] started:")
        _print_result(result)


@app.command("unpublish")
@clean_errors
def unpublish_command(name: NameArg) -> None:
    """Withdraw the latest version, while it has never run: its document becomes the
    draft again."""
    backend = connect()
    try:
        before = backend.campaign(name, problems=False).get("latest_version")
        detail = backend.unpublish(name)
    finally:
        backend.close()
    back = "back to draft" if detail["status"] == "draft" else \
        f"version {detail.get('latest_version')} is the latest again"
    _ok(f"campaign {escape(repr(name))}: version {before} withdrawn; {back} "
        f"({escape(_status_line(detail))})")


def _action_command(action: str, doc: str) -> None:
    def command(name: NameArg) -> None:
        backend = connect()
        try:
            detail = backend.act(name, action)
            paused = [r["id"] for r in backend.runs(name, limit=50)
                      if r.get("mode") == "live" and r.get("status") == "paused"] \
                if action == "resume" else []
        finally:
            backend.close()
        _ok(f"campaign {escape(repr(name))} {PAST[action]}: {escape(_status_line(detail))}")
        for run_id in paused:
            console.print(f"run {run_id} is still paused: [cyan]overture runs resume "
                          f"{run_id}[/]", highlight=False)

    command.__doc__ = doc
    command.__name__ = f"{action}_command"
    app.command(action)(clean_errors(command))


_action_command("pause", "No new runs, and the live runs pause (`overture campaign resume`).")
_action_command("resume", "Back to live (or scheduled): starts run again; paused runs are "
                          "resumed one by one with `overture runs resume RUN`.")
_action_command("stop", "Stop for good: no new runs, and the live runs stop.")
_action_command("close", "A recurring campaign starts no new runs; the current one finishes.")
_action_command("archive", "Put away a draft or a finished campaign (read-only from then on).")


@app.command("duplicate")
@clean_errors
def duplicate_command(
    name: NameArg,
    new_name: Annotated[str, typer.Argument(metavar="NEW", help="Name of the copy.")],
) -> None:
    """Copy a campaign (its draft, else its latest version) as a new draft."""
    backend = connect()
    try:
        detail = backend.duplicate(name, new_name)
    finally:
        backend.close()
    _ok(f"campaign {escape(repr(new_name))} created as a draft from {escape(repr(name))}; "
        f"{escape(_problems_line(detail))}")


@app.command("delete")
@clean_errors
def delete_command(name: NameArg) -> None:
    """Delete a draft that was never published (archive the others)."""
    backend = connect()
    try:
        backend.delete(name)
    finally:
        backend.close()
    _ok(f"campaign {escape(repr(name))} deleted")


@app.command("test")
@clean_errors
def test_command(
    name: NameArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON (spec §5).")]
    = False,
    var: VarOpt = None,
    breakpoint: Annotated[list[str] | None, typer.Option(
        "--breakpoint", metavar="ACTIVITY",
        help="Stop before this activity (repeatable): `overture runs continue RUN ACTIVITY`.")]
    = None,
) -> None:
    """A test run of the draft: real data, nothing sent (exit 1 if it fails)."""
    backend = connect()
    try:
        run_id = backend.start_test_run(name, _parse_vars(var or []), breakpoint or None)
        summary = follow_run(backend, run_id, as_json)
    finally:
        backend.close()
    _show_run(summary, as_json)
    _run_exit(summary)


@app.command("signal")
@clean_errors
def signal_command(
    name: NameArg,
    var: VarOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON (spec §5).")]
    = False,
) -> None:
    """Start a run of a campaign scheduled by `signal`, with variables (refused inside its
    `min_interval`)."""
    backend = connect()
    try:
        run_id = backend.signal(name, _parse_vars(var or []))
        summary = follow_run(backend, run_id, as_json)
    finally:
        backend.close()
    _show_run(summary, as_json)
    _run_exit(summary)

