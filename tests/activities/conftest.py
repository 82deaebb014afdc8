from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.kit import Harness


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One workspace for a module's read-only runs (every run writes its own tables)."""
    harness = Harness(tmp_path_factory.mktemp("shared"))
    yield harness
    harness.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Harness]:
    """A workspace of its own, for tests that write audiences or history."""
    harness = Harness(tmp_path)
    yield harness
    harness.close()
