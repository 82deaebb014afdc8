"""The `overture` command: one Typer app, one module per command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from overture.cli.common import clean_errors, console, set_workspace_dir
from overture.data.workspace import Workspace

app = typer.Typer(
    name="overture",
    help="Orchestrated marketing campaigns: design, test, publish, monitor and retarget.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder (default: nearest overture.toml).",
                     envvar="OVERTURE_WORKSPACE"),
    ] = None,
) -> None:
    set_workspace_dir(workspace)


@app.command()
@clean_errors
def init(directory: Annotated[Path, typer.Argument(help="Folder to make a workspace.")]) -> None:
    """Create a workspace: overture.toml, a schema.yaml skeleton and the .overture/ folder.

    Also creates the first admin user, `admin`, and prints its password once.
    """
    from overture.store.users import ensure_first_admin

    ws = Workspace.init(directory)
    try:
        password = ensure_first_admin(ws.control)
    finally:
        ws.close()
    console.print(f"Workspace ready in [bold]{ws.root}[/]")
    if password is None:
        console.print("The control plane has an admin already: see [cyan]overture users list[/]")
    else:
        typer.echo("admin user: admin")
        typer.echo(f"password:   {password}")
        typer.echo("It will not be shown again: copy it now. Add users with "
                   "`overture users add NAME --role ROLE`; change this password with "
                   "`overture users password admin`.")
    console.print("Next: [cyan]overture data load customers customers.csv --key customer_id[/]")


def _register() -> None:
    """Attach the command groups; each lives in its own module."""
    import importlib

    for module_name, group in (
        ("overture.cli.data", "data"),
        ("overture.cli.campaign", "campaign"),
        ("overture.cli.rule", "rule"),
        ("overture.cli.runs", "runs"),
        ("overture.cli.audiences", "audiences"),
        ("overture.cli.outbox", "outbox"),
        ("overture.cli.suppress", "suppress"),
        ("overture.cli.users", "users"),
        ("overture.cli.privacy", "privacy"),
        ("overture.cli.tracking", "tracking"),
        ("overture.cli.feedback", "feedback"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        app.add_typer(module.app, name=group)
    try:
        run_module = importlib.import_module("overture.cli.run")
    except ModuleNotFoundError as exc:
        if exc.name != "overture.cli.run":
            raise
    else:
        run_module.register(app)
    importlib.import_module("overture.cli.preview").register(app)
    importlib.import_module("overture.cli.serve").register(app)
    importlib.import_module("overture.cli.worker").register(app)
    importlib.import_module("overture.cli.report").register(app)


_register()
