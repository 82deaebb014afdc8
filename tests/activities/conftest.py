from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.kit import Harness


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory,
           data_urls: Callable[[], str | None]) -> Iterator[Harness]:
    """One workspace for a module's read-only runs (every run writes its own tables), on
    each data-plane backend."""
    harness = Harness(tmp_path_factory.mktemp("shared"), data_url=data_urls())
    yield harness
    harness.close()


@pytest.fixture
def fresh(tmp_path: Path, data_url: str | None) -> Iterator[Harness]:
    """A workspace of its own, for tests that write audiences or history."""
    harness = Harness(tmp_path, data_url=data_url)
    yield harness
    harness.close()
