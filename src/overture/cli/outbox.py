"""`overture outbox`: what the local outbox provider holds (nothing leaves the machine)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from overture.channels.outbox import META_PREFIX, OutboxReader, email_part, outbox_directory
from overture.cli.common import clean_errors, console, open_workspace

app = typer.Typer(help="The local outbox: messages the `outbox` provider stored instead of "
                       "sending them.", no_args_is_help=True)


def _reader() -> OutboxReader:
    return OutboxReader(outbox_directory(open_workspace().state_dir))


def _short(text: str, width: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("list")
@clean_errors
def list_command(
    channel: Annotated[str | None, typer.Option("--channel", help="email, sms or push.")] = None,
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run (or id prefix).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for tools.")] = False,
) -> None:
    """Stored messages, newest first."""
    found = _reader().messages(channel=channel, campaign=campaign, run=run, limit=limit)
    if as_json:
        typer.echo(json.dumps([entry.summary_json() for entry in found], indent=2,
                              ensure_ascii=False))
        return
    if not found:
        console.print("The outbox is empty.")
        return
    # fit the terminal: time, channel and id whole; to, subject and campaign share the rest
    spare = max(console.width - (16 + 7 + 8 + 5 * 2) - 1, 30)
    to_width, subject_width = max(spare * 4 // 10, 10), max(spare * 4 // 10, 10)
    campaign_width = max(spare - to_width - subject_width, 6)
    table = Table(box=None, pad_edge=False,
                  caption="overture outbox show ID: one message (the id's start is enough)")
    for name in ("time (UTC)", "channel", "to", "subject / text", "campaign", "id"):
        table.add_column(name, no_wrap=True)
    for entry in found:
        table.add_row(entry.stored_at[:16].replace("T", " "), entry.channel,
                      escape(_short(entry.to, to_width)),
                      escape(_short(entry.summary, subject_width)),
                      escape(_short(entry.campaign or "", campaign_width)), entry.message_id[:8])
    console.print(table)


@app.command("show")
@clean_errors
def show_command(
    message_id: Annotated[str, typer.Argument(help="Message id (or a unique prefix).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON for tools.")] = False,
) -> None:
    """One message: headers and text of an email, the payload of an SMS or push."""
    entry = _reader().get(message_id)
    if as_json:
        typer.echo(json.dumps(entry.detail_json(), indent=2, ensure_ascii=False))
        return
    if entry.channel != "email":
        console.print(f"[bold]{entry.channel}[/] to {escape(entry.to)}  "
                      f"({entry.stored_at}, message {entry.message_id})", highlight=False)
        for label, value in (("campaign", entry.campaign), ("run", entry.run_id),
                             ("activity", entry.activity_id), ("category", entry.category)):
            if value:
                console.print(f"{label}: {escape(value)}", highlight=False)
        typer.echo(json.dumps(entry.payload, indent=2, ensure_ascii=False))
        return
    message = entry.email()
    for name, value in message.items():
        if not name.lower().startswith(META_PREFIX.lower()):
            typer.echo(f"{name}: {value}")
    typer.echo(f"(outbox: stored {entry.stored_at}, campaign {entry.campaign or '-'}, "
               f"run {entry.run_id or '-'}, activity {entry.activity_id or '-'})")
    typer.echo("")
    text = email_part(message, "plain")
    if text is None:
        html = email_part(message, "html")
        text = f"(no text part; HTML part below)\n{html}" if html else "(no text part)"
    typer.echo(text.rstrip("\n"))
