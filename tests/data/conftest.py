from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from overture.data.plane import DataPlane


@pytest.fixture(scope="session",
                params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def data_backend(request: pytest.FixtureRequest) -> str:
    """DuckDB and PostgreSQL only (loading, suppressions, text values and appends): the Spark
    suites are listed in docs/data.md."""
    return str(request.param)


@pytest.fixture
def plane(tmp_path: Path, data_url: str | None) -> Iterator[DataPlane]:
    """A data plane, once on a DuckDB file and once on a fresh PostgreSQL schema."""
    opened = DataPlane.connect(data_url or f"duckdb://{tmp_path / 'data.duckdb'}")
    yield opened
    opened.close()


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[DataPlane]:
    """A DuckDB data plane only, for tests of file handling that no engine changes."""
    opened = DataPlane.connect(f"duckdb://{tmp_path / 'data.duckdb'}")
    yield opened
    opened.close()
