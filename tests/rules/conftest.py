"""Fixtures for the rule-language tests: the tiny retail workspace and a `match` helper,
on every data-plane backend (`data_backend` of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from overture.data.workspace import Workspace
from support.workspace import make_workspace

from .helpers import Match, matching


@pytest.fixture(scope="session")
def ws(tmp_path_factory: pytest.TempPathFactory,
       data_urls: Callable[[], str | None]) -> Iterator[Workspace]:
    """The tiny retail workspace, shared read-only by the tests that do not change it."""
    workspace = make_workspace(tmp_path_factory.mktemp("rules") / "ws", data_url=data_urls())
    yield workspace
    workspace.close()


@pytest.fixture
def fresh_ws(tmp_path: Path, data_url: str | None) -> Iterator[Workspace]:
    """A workspace of its own, for tests that save audiences or filters."""
    workspace = make_workspace(tmp_path / "ws", data_url=data_url)
    yield workspace
    workspace.close()


@pytest.fixture
def match(ws: Workspace) -> Match:
    """`match(rule, **context)`: the customer ids the engine selects on the shared workspace."""
    return lambda rule, **ctx: matching(ws, rule, **ctx)
