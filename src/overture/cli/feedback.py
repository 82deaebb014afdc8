"""`overture feedback`: bounces and complaints read from a mailbox into the events table
and the suppression list."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from overture.cli.common import clean_errors, console, err_console, fail, open_workspace

if TYPE_CHECKING:  # the engine's libraries load only when a command runs
    from overture.data.workspace import Workspace
    from overture.feedback.ingest import FeedbackSummary

app = typer.Typer(
    help="Bounces (delivery status notifications) and complaints (ARF feedback reports): "
         "import them from .eml files or a Maildir; hard bounces and complaints suppress "
         "the address.",
    no_args_is_help=True,
)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _refuse_through_server(ws: Workspace | None) -> None:
    """Feedback import writes the workspace's data plane itself: with a server in the
    way (holding the workspace, or named by OVERTURE_URL), say so before reading."""
    from overture.cli.client import URL_ENV, server_for

    named = bool(os.environ.get(URL_ENV, "").strip())
    client = server_for(ws)
    if client is None and not named:
        return
    if named:
        fail(f"{URL_ENV} names a server, and `overture feedback import` works only on a "
             "workspace directly (the API has no feedback import yet): run it where the "
             f"workspace is, with {URL_ENV} unset")
    assert client is not None
    fail(f"the workspace is held by `overture serve` at {client.url}: `overture feedback "
         "import` writes the data plane directly, so stop the server first (the API has "
         "no feedback import yet)")


@app.command("import")
@clean_errors
def import_command(
    paths: Annotated[list[Path], typer.Argument(
        help=".eml files, folders of .eml files, or Maildirs (folders with cur/ and new/).",
        show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")]
        = False,
) -> None:
    """Read bounce and complaint reports and record them: events for reports and
    tracking, suppressions for hard bounces and complaints, unsubscribes for complaints.

    Importing the same messages again stores nothing twice; the files and mailboxes are
    only read, never changed.
    """
    from overture.data.workspace import WorkspaceError
    from overture.feedback.ingest import check_paths, import_paths

    check_paths(paths)
    try:
        ws = open_workspace()
    except WorkspaceError:
        _refuse_through_server(None)  # OVERTURE_URL alone: say why it cannot help
        raise
    try:
        _refuse_through_server(ws)
        if as_json:
            summary = import_paths(ws.data, paths)
        else:
            with err_console.status("reading bounce and complaint reports…"):
                summary = import_paths(ws.data, paths)
    finally:
        ws.close()
    if as_json:
        typer.echo(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))
        return
    _print(summary)


def _print(summary: FeedbackSummary) -> None:
    def line(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    line(f"read {_plural(summary.messages, 'message')}: {summary.reports:,} "
         f"report{'' if summary.reports == 1 else 's'}, {summary.messages - summary.reports:,} "
         "unreadable")
    line(f"bounces: {summary.hard:,} hard, {summary.soft:,} soft")
    line(f"complaints: {summary.complaints:,}")
    if summary.delivered:
        line(f"deliveries: {summary.delivered:,}")
    if summary.ignored:
        line(f"ignored: {summary.ignored:,} (relayed or expanded recipients, feedback that "
             "is not a complaint)")
    line(f"duplicates: {summary.duplicates:,} (stored by an earlier import)")
    line(f"unknown messages: {len(summary.unknown):,} (not in the message log)")
    for original in summary.unknown[:10]:
        line(f"  {escape(original)}")
    if len(summary.unknown) > 10:
        line(f"  … and {len(summary.unknown) - 10:,} more (--json lists them all)")
    counts = ", ".join(f"{count:,} {reason}" for reason, count in summary.suppressed.items())
    added = sum(summary.suppressed.values())
    line(f"suppressed: {_plural(added, 'email address', 'email addresses')} ({counts}); "
         f"unsubscribed: {_plural(summary.unsubscribed, 'profile')}")
    if summary.unreadable:
        line(f"unreadable: {len(summary.unreadable):,}")
        for name, reason in summary.unreadable:
            line(f"  {escape(name)}: {escape(reason)}")
