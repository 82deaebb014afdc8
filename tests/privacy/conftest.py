from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.kit import Harness


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The hand-countable workspace, its data plane on DuckDB and on PostgreSQL."""
    url = None if request.param == "duckdb" else str(request.getfixturevalue("postgres_url"))
    harness = Harness(tmp_path, data_url=url)
    yield harness
    harness.close()
