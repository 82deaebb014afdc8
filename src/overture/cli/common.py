"""What every CLI command shares: the workspace option, the console, clean errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from overture.data.workspace import Workspace

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

_state: dict[str, Path | None] = {"workspace": None}


def set_workspace_dir(path: Path | None) -> None:
    _state["workspace"] = path


def open_workspace() -> Workspace:
    path = _state["workspace"]
    return Workspace.open(path) if path else Workspace.find()


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
                raise typer.Exit(1) from None
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
