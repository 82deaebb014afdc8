"""`overture tracking`: the tracking endpoints on their own."""

from __future__ import annotations

from typing import Annotated

import typer

from overture.cli.common import clean_errors, console, open_workspace

app = typer.Typer(help="The tracking endpoints (opens, clicks, unsubscribes) on their own.",
                  no_args_is_help=True)


@app.command("serve")
@clean_errors
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
) -> None:
    """Serve /o/, /c/ and /u/ apart from `overture serve` (PostgreSQL data plane)."""
    from overture.tracking.standalone import serve_tracking

    ws = open_workspace()
    root = ws.root
    ws.close()
    serve_tracking(root, host, port,
                   announce=lambda text: console.print(text, highlight=False, soft_wrap=True))
