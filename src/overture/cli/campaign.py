"""`overture campaign`: validate documents, preview their schedule, print their JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.markup import escape

from overture.cli.common import clean_errors, console, err_console, fail, open_workspace
from overture.data.workspace import WorkspaceError
from overture.definition.campaign import DocumentError, campaign_json_schema, read_document
from overture.definition.errors import InvalidDocument, Problem
from overture.definition.validation import validate
from overture.schedules import Schedule, ScheduleError, parse_schedule

app = typer.Typer(help="Check campaign documents and print their schema.", no_args_is_help=True)


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
        try:
            ws = open_workspace()
        except WorkspaceError:
            err_console.print("[yellow]no workspace: checking structure and graph only[/]")
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
    file: Annotated[str, typer.Argument(help="Campaign document (YAML or JSON).")],
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
    """The campaign document `overture campaign schedule` reads, and where it came from."""
    path = Path(arg)
    return read_document(path), str(path)


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
