"""`overture preview`: the message one person would get ("simulate content"), and proofs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from overture.cli.common import clean_errors, console, fail, open_workspace
from overture.cli.run import _parse_clock, _parse_vars
from overture.definition.campaign import read_document

if TYPE_CHECKING:
    from overture.channels.preview import Preview, ProofResult

#: email headers shown in the panel, in this order
SHOWN_HEADERS = ("From", "To", "Reply-To", "Subject", "Message-ID", "List-Unsubscribe",
                 "List-Unsubscribe-Post")


def register(app: typer.Typer) -> None:
    @app.command("preview")
    @clean_errors
    def preview(
        file: Annotated[Path, typer.Argument(help="Campaign document (YAML or JSON).")],
        activity: Annotated[str, typer.Argument(help="A channel activity (email, sms, push).")],
        profile: Annotated[str, typer.Option("--profile", metavar="ID",
                                             help="The profile's key.")],
        run: Annotated[str | None, typer.Option(
            "--run", metavar="RUN", help="Take the profile's row from this run of the "
                                         "campaign (default: a new test run).")] = None,
        var: Annotated[list[str] | None, typer.Option(
            "--var", help="Set a campaign variable: NAME=VALUE (repeatable).")] = None,
        clock: Annotated[str | None, typer.Option(
            help="The logical clock (ISO 8601 with offset).")] = None,
        html: Annotated[bool, typer.Option("--html", help="Show the HTML of an email "
                                                          "instead of its text.")] = False,
        proof: Annotated[str | None, typer.Option(
            "--proof", metavar="ADDRESSES",
            help="Send the message, marked as a proof, to these comma-separated test "
                 "addresses (phone numbers, device tokens for sms, push).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Render the message one profile would get from a channel activity; send proofs."""
        from overture.channels.preview import (
            parse_proof_addresses,
            preview_profile,
            send_proofs,
        )

        raw = read_document(file)
        ws = open_workspace()
        shown = preview_profile(ws, raw, activity, profile, base_dir=file.parent.resolve(),
                                run_id=run, clock=_parse_clock(clock),
                                variables=_parse_vars(var or []))
        addresses = parse_proof_addresses(shown.channel, proof) if proof is not None else []
        results = send_proofs(ws, shown, addresses) if addresses else []
        if as_json:
            data = shown.to_json()
            if proof is not None:
                data["proofs"] = [r.to_json() for r in results]
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        else:
            _print_preview(shown, html)
            if results:
                _print_proofs(results)
        failed = [r for r in results if not r.ok]
        if failed:
            fail(f"{len(failed)} of {len(results)} proofs not sent: "
                 + "; ".join(f"{r.to}: {r.error}" for r in failed))


def _print_preview(shown: Preview, html: bool) -> None:
    how = "a test run made for this preview" if shown.made_for_preview \
        else f"{shown.run_mode} run given with --run"
    console.print(Text.assemble(("Run ", "dim"), (shown.run, "bold"), (f" ({how})", "dim")))
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold cyan", no_wrap=True)
    head.add_column()
    if shown.channel == "email":
        for name in SHOWN_HEADERS:
            value = shown.headers.get(name)
            if value is not None:
                head.add_row(name, Text(value))
    else:
        head.add_row("To", Text(shown.address or "(no address)"))
    head.add_row("Variant", Text(shown.variant or "(none: the activity's content)"))
    head.add_row("Language", Text(shown.language or "(none: the activity's content)"))
    if shown.excluded:
        head.add_row(Text("Excluded", style="bold red"),
                     Text(f"{shown.excluded}: live sending would not send this message",
                          style="red"))
    if shown.deferred_until is not None:
        head.add_row(Text("Deferred", style="bold yellow"),
                     Text(f"quiet hours: sent at {shown.deferred_until:%Y-%m-%d %H:%M} UTC",
                          style="yellow"))
    parts: list[RenderableType] = [head, Rule(style="dim")]
    if shown.channel == "email":
        if html:
            parts.append(Text(shown.html if shown.html is not None else "(no HTML part)"))
        else:
            label = " (derived from the HTML)" if shown.text_derived else ""
            parts.append(Text(f"text part{label}:", style="dim"))
            parts.append(Text((shown.text or "").rstrip("\n")))
    elif shown.channel == "sms":
        parts.append(Text(shown.body or ""))
    else:
        if shown.title is not None:
            parts.append(Text(shown.title, style="bold"))
        parts.append(Text(shown.body or ""))
        if shown.data:
            parts.append(Text("data: " + json.dumps(shown.data, ensure_ascii=False),
                              style="dim"))
    title = f"{shown.activity} · {shown.channel} · {shown.key} {shown.profile}"
    console.print(Panel(Group(*parts), title=Text(title), title_align="left", expand=False))
    for warning in shown.warnings:
        console.print(Text.assemble(("warning: ", "bold yellow"), warning))


def _print_proofs(results: list[ProofResult]) -> None:
    table = Table(title="Proofs")
    for name in ("to", "message id", "provider", "answer"):
        table.add_column(name)
    for result in results:
        answer = Text(f"sent ({result.provider_id})" if result.provider_id else "sent",
                      style="green") if result.ok else Text(result.error or "failed",
                                                            style="red")
        table.add_row(Text(result.to), result.message_id, result.provider, answer)
    console.print(table)
