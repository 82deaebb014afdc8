"""`overture worker`: execute runs and send batches beside a server, on any machine."""

from __future__ import annotations

from typing import Annotated

import typer

from overture.cli.common import clean_errors, console, open_workspace


def register(app: typer.Typer) -> None:
    @app.command("worker")
    @clean_errors
    def worker_command(
        poll: Annotated[float, typer.Option(
            min=0.05, help="Seconds between looks for work when there is none.")] = 0.5,
        log_format: Annotated[str, typer.Option(
            "--log-format", envvar="OVERTURE_LOG_FORMAT",
            help="text or json: one JSON object a line, for log shippers.")] = "text",
        log_level: Annotated[str, typer.Option(
            "--log-level", envvar="OVERTURE_LOG_LEVEL",
            help="debug, info, warning or error.")] = "info",
    ) -> None:
        """Execute runs and send message batches for the workspace's server.

        Needs PostgreSQL control and data planes (or Spark for data) that the server and
        every worker share. Start as many as you like, on any machine; SIGTERM stops
        cleanly, and a worker that dies has its work taken over once its lease lapses.
        """
        import signal

        from overture.engine.clock import clock_from_env
        from overture.observability import logs
        from overture.service.worker import Worker, check_shareable

        if log_format not in logs.FORMATS:
            raise typer.BadParameter(f"expected one of {', '.join(logs.FORMATS)}",
                                     param_hint="--log-format")
        if log_level not in logs.LEVELS:
            raise typer.BadParameter(f"expected one of {', '.join(logs.LEVELS)}",
                                     param_hint="--log-level")
        ws = open_workspace()
        try:
            check_shareable(ws)
            logs.configure(log_format, log_level)
            worker = Worker(ws, clock_from_env(), poll=poll)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: worker.stop.set())
            console.print(f"worker {ws.control.claims.owner} on {ws.root}: "
                          "waiting for runs and send batches", highlight=False)
            worker.run_forever()
            console.print(f"worker stopped: {worker.runs} runs, {worker.batches} batches",
                          highlight=False)
        finally:
            ws.close()
