"""Fixtures for the rule-language tests: the tiny retail workspace and a `match` helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from overture.data.workspace import Workspace
from support.workspace import make_workspace

from .helpers import Match, matching


@pytest.fixture(scope="session")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The tiny retail workspace, shared read-only by the tests that do not change it."""
    return make_workspace(tmp_path_factory.mktemp("rules") / "ws")


@pytest.fixture
def fresh_ws(tmp_path: Path) -> Workspace:
    """A workspace of its own, for tests that save audiences or filters."""
    return make_workspace(tmp_path / "ws")



@pytest.fixture
def match(ws: Workspace) -> Match:
    """`match(rule, **context)`: the customer ids the engine selects on the shared workspace."""
    return lambda rule, **ctx: matching(ws, rule, **ctx)
