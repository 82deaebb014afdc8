"""`overture feedback`: bounces and complaints read from a mailbox into the events table
and the suppression list."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from overture.cli.common import clean_errors, console, err_console, fail, open_workspace

if TYPE_CHECKING:  # the engine's libraries load only when a command runs
    from overture.data.workspace import Workspace
    from overture.feedback.ingest import FeedbackSummary
    from overture.feedback.smtp import ReceiverStats

app = typer.Typer(
    help="Bounces (delivery status notifications) and complaints (ARF feedback reports): "
         "import them from .eml files or a Maildir, or receive them by SMTP; hard bounces "
         "and complaints suppress the address.",
    no_args_is_help=True,
)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


#: what `overture serve` does instead of `overture feedback smtp`
SERVER_RECEIVES = ("`overture serve` runs the SMTP receiver itself when overture.toml sets "
                   "[feedback] smtp_port")


def _refuse_through_server(ws: Workspace | None, command: str = "import") -> None:
    """Feedback commands write the workspace's data plane themselves: with a server in
    the way (holding the workspace, or named by OVERTURE_URL), say so before reading."""
    from overture.cli.client import URL_ENV, server_for

    named = bool(os.environ.get(URL_ENV, "").strip())
    client = server_for(ws)
    if client is None and not named:
        return
    if command == "import":
        api, instead = " (the API has no feedback import yet)", ""
    else:
        api, instead = "", f", or let the server receive the reports: {SERVER_RECEIVES}"
    if named:
        fail(f"{URL_ENV} names a server, and `overture feedback {command}` works only on a "
             f"workspace directly{api}: run it where the workspace is, with {URL_ENV} "
             f"unset{instead}")
    assert client is not None
    fail(f"the workspace is held by `overture serve` at {client.url}: `overture feedback "
         f"{command}` writes the data plane directly, so stop the server first{api}{instead}")


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


@app.command("smtp")
@clean_errors
def smtp_command(
    host: Annotated[str | None, typer.Option(
        help="Address to listen on [default: [feedback] smtp_host, else 127.0.0.1].",
        show_default=False)] = None,
    port: Annotated[int | None, typer.Option(
        min=1, max=65535, help="Port to listen on [default: [feedback] smtp_port, else "
                               "2525].", show_default=False)] = None,
) -> None:
    """Receive bounces and complaints by SMTP and record them as they arrive, until
    Ctrl-C or SIGTERM; then print the counts.

    Every recipient is accepted. A report is answered 250 once stored, 451 when storing
    fails (the sender tries again); a message that is no readable report is answered
    250, logged and dropped. `overture serve` runs this receiver itself when
    overture.toml sets [feedback] smtp_port.
    """
    import logging
    import signal
    import threading

    from overture.data.workspace import WorkspaceError
    from overture.feedback.smtp import (
        DEFAULT_HOST,
        DEFAULT_PORT,
        FeedbackReceiver,
        smtp_settings,
    )

    try:
        ws = open_workspace()
    except WorkspaceError:
        _refuse_through_server(None, "smtp")
        raise
    try:
        _refuse_through_server(ws, "smtp")
        settings = smtp_settings(ws.config)
        host = host or (settings.host if settings else DEFAULT_HOST)
        port = port or (settings.port if settings else DEFAULT_PORT)
        plane = ws.data  # opened here: a data plane that cannot be opened fails at once
        receiver = FeedbackReceiver(lambda: plane, host, port).start()
        log = logging.getLogger("overture.feedback.smtp")
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        err_console.print(f"receiving bounces and complaints by SMTP on {host}:"
                          f"{receiver.port} (Ctrl-C or SIGTERM stops)", highlight=False,
                          soft_wrap=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            receiver.stop()
            signal.signal(signal.SIGTERM, previous)
            log.removeHandler(handler)
    finally:
        ws.close()
    _print_received(receiver.stats)


def _print_received(stats: ReceiverStats) -> None:
    summary = stats.stored
    console.print(f"received {_plural(stats.messages, 'message')}: {summary.reports:,} "
                  f"stored, {stats.unreadable:,} unreadable, {stats.deferred:,} deferred "
                  "(451, the sender tries again)", highlight=False, soft_wrap=True)
    _print_counts(summary, stats.unknown)


def _print(summary: FeedbackSummary) -> None:
    def line(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    line(f"read {_plural(summary.messages, 'message')}: {summary.reports:,} "
         f"report{'' if summary.reports == 1 else 's'}, {summary.messages - summary.reports:,} "
         "unreadable")
    _print_counts(summary, len(summary.unknown), summary.unknown)
    if summary.unreadable:
        line(f"unreadable: {len(summary.unreadable):,}")
        for name, reason in summary.unreadable:
            line(f"  {escape(name)}: {escape(reason)}")


def _print_counts(summary: FeedbackSummary, unknown: int, listed: Sequence[str] = ()
                  ) -> None:
    """What storing reports did: events, unknown messages (the first 10 of `listed`),
    suppressions, unsubscribes."""

    def line(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    line(f"bounces: {summary.hard:,} hard, {summary.soft:,} soft")
    line(f"complaints: {summary.complaints:,}")
    if summary.delivered:
        line(f"deliveries: {summary.delivered:,}")
    if summary.ignored:
        line(f"ignored: {summary.ignored:,} (relayed or expanded recipients, feedback that "
             "is not a complaint)")
    line(f"duplicates: {summary.duplicates:,} (stored by an earlier import)")
    line(f"unknown messages: {unknown:,} (not in the message log)")
    for original in listed[:10]:
        line(f"  {escape(original)}")
    if len(listed) > 10:
        line(f"  … and {len(listed) - 10:,} more (--json lists them all)")
    counts = ", ".join(f"{count:,} {reason}" for reason, count in summary.suppressed.items())
    added = sum(summary.suppressed.values())
    line(f"suppressed: {_plural(added, 'email address', 'email addresses')} ({counts}); "
         f"unsubscribed: {_plural(summary.unsubscribed, 'profile')}")
