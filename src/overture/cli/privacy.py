"""`overture privacy`: what the workspace holds about one person (export), erasing it
(forget), and deleting old message history (expire). On the workspace only: while a
server holds it, these commands refuse and say to stop it first."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from overture.cli.common import clean_errors, console, err_console, fail, workspace_session

if TYPE_CHECKING:
    from overture.data.workspace import Workspace

app = typer.Typer(
    help="Personal data: export everything held about a person, forget (erase) them, "
         "expire message history past [privacy] retention_days.",
    no_args_is_help=True,
)

ProfileArg = Annotated[str, typer.Argument(help="The profile's key.")]
DimensionOpt = Annotated[str | None, typer.Option(
    "--dimension", metavar="TABLE",
    help="The profile table of schema.yaml (default: its target).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def _local_workspace() -> Iterator[Workspace]:
    """The workspace, refused while a server holds it (or OVERTURE_URL names one):
    these commands change the data plane directly, which the server has open."""
    from overture.cli.client import URL_ENV, server_for

    with workspace_session() as ws:
        client = server_for(ws)
        if client is not None:
            if client.workspace is not None:
                fail(f"the workspace is held by `overture serve` at {client.url}: stop the "
                     "server first (privacy commands work on the workspace directly)")
            fail(f"{URL_ENV} names the server at {client.url}: privacy commands work on "
                 f"the workspace directly; unset {URL_ENV} and stop the server that holds it")
        yield ws


@app.command("export")
@clean_errors
def export_command(
    profile: ProfileArg,
    dimension: DimensionOpt = None,
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="FILE", help="Write the JSON to FILE (readable by you only) "
                                      "instead of printing it.")] = None,
) -> None:
    """Everything held about one person, as JSON: the profile, linked rows, audiences,
    messages and their events, unsubscribes, suppressions, runs holding the key."""
    from overture.privacy import export_profile

    with _local_workspace() as ws:
        data = export_profile(ws, profile, dimension)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    _write_private(out, text)
    parts = [f"{len(data['messages'])} messages", f"{len(data['events'])} events",
             f"{sum(len(v['rows']) for v in data['linked'].values())} linked rows",
             f"{len(data['audiences'])} audiences", f"{len(data['runs'])} work tables"]
    console.print(f"exported {escape(data['dimension'])} {escape(str(data['key']))} to "
                  f"{escape(str(out))}: profile, {', '.join(parts)}", highlight=False,
                  soft_wrap=True)


def _write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner can read: it holds personal data."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


@app.command("forget")
@clean_errors
def forget_command(
    profile: ProfileArg,
    dimension: DimensionOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
        = False,
    as_json: JsonOpt = False,
) -> None:
    """Erase one person everywhere: profile and linked rows, audiences, work tables and
    unsubscribes deleted; message log anonymised; addresses suppressed as hashes."""
    from overture.privacy import find_profile, forget_profile

    with _local_workspace() as ws:
        found = find_profile(ws, profile, dimension)  # a missing profile fails before asking
        if not yes:
            question = (f"Erase {found.dimension} {found.key_text} and everything held about "
                        "it (its addresses are suppressed for good)? This cannot be undone.")
            try:
                agreed = typer.confirm(question, default=False, err=True)
            except typer.Abort:
                agreed = False
            if not agreed:
                err_console.print("nothing erased", highlight=False)
                raise typer.Exit(1)
        report = forget_profile(ws, profile, found.dimension)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
        return
    for step in report.steps:
        console.print(f"{escape(step.table)}: {step.action} {step.count:,} "
                      f"{escape(step.what)}", highlight=False, soft_wrap=True)
    console.print(f"forgot {escape(report.dimension)} {escape(report.key)}", highlight=False,
                  soft_wrap=True)


@app.command("expire")
@clean_errors
def expire_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")]
        = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete message log rows (with their results, tracked links and events) older than
    [privacy] retention_days of overture.toml; unfinished runs' messages are kept."""
    from overture.privacy import expire

    with _local_workspace() as ws:
        report = expire(ws, dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    for table, count in report.counts.items():
        console.print(f"{table}: {verb} {count:,} rows", highlight=False)
    if report.kept:
        console.print(f"kept {report.kept:,} older message log rows of unfinished runs",
                      highlight=False)
    suffix = " (dry run: nothing deleted)" if dry_run else ""
    console.print(f"message history older than {report.days} days (before "
                  f"{_when(report.before)} UTC) expired{suffix}", highlight=False,
                  soft_wrap=True)


def _when(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%d %H:%M"))
