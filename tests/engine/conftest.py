from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.kit import Harness


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.close()
