from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.kit import Harness


@pytest.fixture(scope="session",
                params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def data_backend(request: pytest.FixtureRequest) -> str:
    """DuckDB and PostgreSQL only (export, erasure and retention): the Spark
    suites are listed in docs/data.md."""
    return str(request.param)


@pytest.fixture
def h(tmp_path: Path, data_url: str | None) -> Iterator[Harness]:
    """The hand-countable workspace, its data plane on DuckDB and on PostgreSQL."""
    harness = Harness(tmp_path, data_url=data_url)
    yield harness
    harness.close()
