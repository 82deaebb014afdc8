"""`overture suppress`: the suppression list, the addresses no campaign ever sends to."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from overture.cli.common import (
    clean_errors,
    console,
    err_console,
    workspace_session,
)

if TYPE_CHECKING:  # the engine's libraries load only when a command runs
    from overture.data.suppressions import SuppressionResult

app = typer.Typer(
    help="The suppression list: addresses (email, phone number, push token) that no "
         "campaign sends to, transactional ones included. Add, import, list, remove.",
    no_args_is_help=True,
)

ChannelOption = Annotated[str, typer.Option(
    "--channel", "-c", help="email, sms or push.")]
ReasonOption = Annotated[str, typer.Option(
    "--reason", help="Why: manual, hard_bounce or complaint.")]


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 'es' if word.endswith('s') else 's'}"


def _summary(result: SuppressionResult, channel: str) -> str:
    """`suppressed 2 email addresses (1 already suppressed, 0 invalid)`."""
    return (f"suppressed {_plural(result.added, f'{channel} address')} "
            f"({result.already:,} already suppressed, {result.invalid:,} invalid)")


@app.command("add")
@clean_errors
def add_command(
    addresses: Annotated[list[str], typer.Argument(help="Addresses to suppress.")],
    channel: ChannelOption = "email",
    reason: ReasonOption = "manual",
) -> None:
    """Suppress addresses: no campaign will send to them on this channel."""
    from overture.data import suppressions

    suppressions.check_channel(channel)
    suppressions.check_reason(reason)
    with workspace_session() as ws:
        result = suppressions.add_suppressions(ws.data, channel, addresses, reason=reason,
                                               source="cli")
    console.print(_summary(result, channel), highlight=False)


@app.command("import")
@clean_errors
def import_command(
    file: Annotated[Path, typer.Argument(help="A .csv (or .csv.gz) or .parquet file.")],
    channel: ChannelOption = "email",
    column: Annotated[str | None, typer.Option(
        "--column", help="The column holding the addresses (default: address, else "
                         "email/phone/token by channel, else the only column).")] = None,
    reason: ReasonOption = "manual",
) -> None:
    """Suppress every address of a CSV or Parquet file (a million lines take seconds)."""
    from overture.data import suppressions

    suppressions.check_channel(channel)
    suppressions.check_reason(reason)
    with workspace_session() as ws:
        started = time.monotonic()
        with err_console.status(f"importing {escape(file.name)} into the suppression list…"):
            result = suppressions.import_suppressions(ws.data, file, channel, column=column,
                                                      reason=reason)
        seconds = time.monotonic() - started
    read = f"column {result.column!r}" if result.column else "the only column, no header"
    console.print(_summary(result, channel), highlight=False)
    console.print(f"read {escape(read)} of {escape(str(file))} in {seconds:.1f} s",
                  highlight=False, soft_wrap=True)


@app.command("list")
@clean_errors
def list_command(
    channel: Annotated[str | None, typer.Option(
        "--channel", "-c", help="Only this channel: email, sms or push.")] = None,
    limit: Annotated[int, typer.Option(
        "--limit", min=0, help="At most this many, the most recent first (0: all).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
        = False,
) -> None:
    """Suppressed addresses, the most recently added first."""
    from overture.data import suppressions

    if channel is not None:
        suppressions.check_channel(channel)
    with workspace_session() as ws:
        rows = suppressions.list_suppressions(ws.data, channel, limit=limit or None)
        counts = suppressions.count_suppressions(ws.data)
    if as_json:
        typer.echo(json.dumps([_jsonable(row) for row in rows], indent=2, ensure_ascii=False))
        return
    total = counts.get(channel, 0) if channel else sum(counts.values())
    if not rows:
        where = f" on {channel}" if channel else ""
        console.print(f"no suppressed addresses{where}", highlight=False)
        return
    table = Table()
    for name in ("channel", "address", "reason", "source", "added at (UTC)"):
        table.add_column(name, no_wrap=name != "address", overflow="fold")
    for row in rows:
        table.add_row(row["channel"], escape(row["address"]), row["reason"],
                      escape(row["source"] or ""), row["added_at"].strftime("%Y-%m-%d %H:%M"))
    console.print(table)
    by_channel = ", ".join(f"{name} {count:,}" for name, count in counts.items()
                           if channel is None or name == channel)
    console.print(f"{len(rows):,} of {total:,} shown ({by_channel})", highlight=False)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "added_at": row["added_at"].isoformat()}


@app.command("remove")
@clean_errors
def remove_command(
    addresses: Annotated[list[str], typer.Argument(help="Addresses to suppress no more.")],
    channel: ChannelOption = "email",
) -> None:
    """Lift the suppression of addresses (it does not undo an unsubscribe)."""
    from overture.data import suppressions

    suppressions.check_channel(channel)
    with workspace_session() as ws:
        removed = suppressions.remove_suppressions(ws.data, channel, addresses)
    wanted = len({suppressions.normalize_address(a, channel) for a in addresses} - {""})
    missing = wanted - removed
    console.print(f"removed {_plural(removed, f'{channel} address')} from the suppression "
                  f"list ({missing:,} not on it)", highlight=False)
