"""`overture report`: a campaign's figures and breakdowns (spec §9), on the workspace or
through the server that holds it (the same report either way)."""

from __future__ import annotations

import os
import urllib.parse
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from overture.cli.common import clean_errors, console, err_console, fail, open_workspace

if TYPE_CHECKING:
    from overture.data.workspace import Workspace


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class CsvTable(StrEnum):
    figures = "figures"
    links = "links"
    domains = "domains"
    variants = "variants"
    hourly = "hourly"
    daily = "daily"


def fetch_report(campaign: str, run: str | None = None, activity: str | None = None,
                 include_machine: bool = False) -> dict[str, Any]:
    """The report from the server that holds the workspace (or OVERTURE_URL's), else
    computed on the workspace."""
    from overture.cli.client import URL_ENV, server_for
    from overture.data.workspace import WorkspaceError

    ws: Workspace | None = None
    try:
        ws = open_workspace()
    except WorkspaceError:
        if not os.environ.get(URL_ENV, "").strip():
            raise
    try:
        client = server_for(ws)
        if client is not None:
            path = f"/api/campaigns/{urllib.parse.quote(campaign, safe='')}/report"
            answer = client.get(path, run=run, activity=activity,
                                include_machine="true" if include_machine else None)
            return dict(answer)
        from overture.reports import report_resource

        assert ws is not None
        return report_resource(ws, campaign, run, activity, include_machine=include_machine)
    finally:
        if ws is not None:
            ws.close()


def register(app: typer.Typer) -> None:
    @app.command("report")
    @clean_errors
    def report_command(
        campaign: Annotated[str, typer.Argument(help="The campaign's name.")],
        run: Annotated[str | None, typer.Option(
            "--run", metavar="RUN", help="Only this live run (id or unique prefix).")] = None,
        activity: Annotated[str | None, typer.Option(
            "--activity", metavar="ID", help="Only this channel activity.")] = None,
        output: Annotated[Format, typer.Option(
            "--format", help="table for people; json or csv for tools.")] = Format.table,
        table: Annotated[CsvTable, typer.Option(
            "--table", help="With --format csv: the figures, or one breakdown.")]
        = CsvTable.figures,
        plot: Annotated[Path | None, typer.Option(
            "--plot", metavar="FILE",
            help="Also draw the delivery funnel and the timeline to FILE (.png or .svg).")]
        = None,
        include_machine: Annotated[bool, typer.Option(
            "--include-machine",
            help="Count machine opens and clicks (scanners, proxies) with people's.")]
        = False,
    ) -> None:
        """A campaign's report: targeted, excluded, sent, delivered, bounces, opens,
        clicks, CTR and CTOR per activity and run; links, domains, A/B variants with a
        significance test, and hourly and daily activity."""
        from overture.reports.plot import FORMATS

        if plot is not None and plot.suffix.lower() not in FORMATS:
            fail(f"--plot writes .png or .svg files, not {plot.name!r}")
        report = fetch_report(campaign, run, activity, include_machine)
        if output == Format.json:
            from overture.reports.render import to_json

            typer.echo(to_json(report))
        elif output == Format.csv:
            from overture.reports.render import to_csv

            typer.echo(to_csv(report, table.value), nl=False)
        else:
            from overture.reports.render import print_report

            print_report(report, console)
        if plot is not None:
            from overture.reports.plot import plot_report

            plot_report(report, plot)
            err_console.print(f"drew the funnel and the timeline to {plot}", highlight=False,
                              soft_wrap=True)
