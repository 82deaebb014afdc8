"""`overture campaign`: validate documents and print their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from overture.cli.common import clean_errors, console, err_console, open_workspace
from overture.data.workspace import WorkspaceError
from overture.definition.campaign import DocumentError, campaign_json_schema, read_document
from overture.definition.errors import Problem
from overture.definition.validation import validate

app = typer.Typer(help="Check campaign documents and print their schema.", no_args_is_help=True)


@app.command("validate")
@clean_errors
def validate_command(
    file: Annotated[Path, typer.Argument(help="Campaign document (YAML or JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="Problems as JSON.")] = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Check structure and graph only, without the workspace's data.")]
    = False,
) -> None:
    """Print every problem of a document with its activity and setting path (exit 1 if any)."""
    from overture.engine.environment import environment_for

    try:
        raw = read_document(file)
    except DocumentError as exc:
        if not as_json:
            raise
        problem = Problem("", str(exc))  # the shape of every other answer, for tools
        typer.echo(json.dumps({"valid": False, "problems": [problem.to_dict()]}, indent=2))
        raise typer.Exit(1) from None
    env = None
    if not offline:
        try:
            ws = open_workspace()
        except WorkspaceError:
            err_console.print("[yellow]no workspace: checking structure and graph only[/]")
        else:
            env = environment_for(ws, file.parent.resolve())
    result = validate(raw, env)
    if as_json:
        typer.echo(json.dumps({"valid": result.ok,
                               "problems": [p.to_dict() for p in result.problems]}, indent=2))
    elif result.ok:
        assert result.campaign is not None
        console.print(f"[green]✓[/] {escape(str(file))}: campaign "
                      f"{escape(repr(result.campaign.name))} is valid "
                      f"({len(result.campaign.activities)} activities)", highlight=False,
                      soft_wrap=True)
    else:
        for problem in result.problems:
            err_console.print(f"[red]✗[/] {escape(str(problem))}", highlight=False,
                              soft_wrap=True)
        err_console.print(f"{len(result.problems)} problem(s) in {file}")
    if not result.ok:
        raise typer.Exit(1)


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of campaign documents (for editors and the canvas)."""
    typer.echo(json.dumps(campaign_json_schema(), indent=2))
