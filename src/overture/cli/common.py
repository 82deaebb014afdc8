"""What every CLI command shares: the workspace option, the console, clean errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from overture.data.workspace import Workspace, WorkspaceError

if TYPE_CHECKING:
    from overture.data.plane import DataPlane

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

_state: dict[str, Path | None] = {"workspace": None}


def set_workspace_dir(path: Path | None) -> None:
    _state["workspace"] = path


class WorkspaceHeld(WorkspaceError):
    """The data plane is held by `overture serve` (DuckDB has one writer process)."""


class CliWorkspace(Workspace):
    """A workspace whose data plane, when a running server holds it, says so in one line
    instead of the database's lock error."""

    @cached_property
    def data(self) -> DataPlane:
        from overture.data.plane import DataPlaneError

        try:
            return self.connect_data()
        except DataPlaneError:
            from overture.server.serve import server_info

            held = server_info(self.state_dir)
            if held is not None:
                raise WorkspaceHeld(f"the workspace is held by `overture serve` at "
                                    f"{held.get('url', '?')}: use the API or stop the "
                                    "server") from None
            raise


def open_workspace() -> Workspace:
    path = _state["workspace"]
    return CliWorkspace.open(path) if path else CliWorkspace.find()


@contextmanager
def workspace_session() -> Iterator[Workspace]:
    """The workspace, closed when the command is done with it."""
    ws = open_workspace()
    try:
        yield ws
    finally:
        ws.close()


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions whose message is meant for the user: printed, never a traceback."""
    from overture.data.catalog import CatalogError
    from overture.data.plane import DataPlaneError
    from overture.data.workspace import WorkspaceError
    from overture.definition.campaign import DocumentError
    from overture.definition.errors import InvalidDocument
    from overture.errors import OvertureError

    return (WorkspaceError, DataPlaneError, DocumentError, InvalidDocument, CatalogError,
            OvertureError)


def clean_errors(func: F) -> F:
    """Turn the errors a user can cause into a message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except user_errors() as exc:
            problems = getattr(exc, "problems", None)
            if problems:
                for problem in problems:
                    err_console.print(f"[red]✗[/] {escape(str(problem))}", highlight=False,
                                      soft_wrap=True)
                if getattr(exc, "code", None):  # a lifecycle or API error: its message too
                    fail(str(exc))
                raise typer.Exit(1) from None
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
