"""`overture serve`: the REST API, the scheduler and the workers in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from overture.cli.common import clean_errors, console, open_workspace


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @clean_errors
    def serve_command(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        workers: Annotated[int, typer.Option(min=1, max=64,
                                             help="Runs executed at once.")] = 2,
        tick: Annotated[float, typer.Option(
            min=0.01, help="Seconds between scheduler passes.")] = 1.0,
        log_format: Annotated[str | None, typer.Option(
            "--log-format", envvar="OVERTURE_LOG_FORMAT", show_default=False,
            help="text (default) or json: one JSON object a line, for log shippers. "
                 "Default: \\[server] log_format, else text.")] = None,
        log_level: Annotated[str | None, typer.Option(
            "--log-level", envvar="OVERTURE_LOG_LEVEL", show_default=False,
            help="debug, info (default), warning or error.")] = None,
        access_log: Annotated[bool | None, typer.Option(
            "--access-log/--no-access-log", show_default=False,
            help="Log every HTTP request (default: with --log-format json only).")] = None,
    ) -> None:
        """Serve the workspace: the API, the scheduler and the workers.

        Unfinished runs continue at start; SIGTERM stops cleanly, recording every
        message in flight.
        """
        from overture.server.serve import ServeOptions, serve

        ws = open_workspace()
        root = ws.root
        ws.close()
        serve(root, ServeOptions(host=host, port=port, workers=workers, tick=tick,
                                 log_format=log_format, log_level=log_level,
                                 access_log=access_log),
              announce=lambda text: console.print(text, highlight=False, soft_wrap=True))
