from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from overture.data.plane import DataPlane


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def plane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataPlane]:
    """A data plane, once on a DuckDB file and once on a fresh PostgreSQL schema."""
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'data.duckdb'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    opened = DataPlane.connect(url)
    yield opened
    opened.close()


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[DataPlane]:
    """A DuckDB data plane only, for tests of file handling that no engine changes."""
    opened = DataPlane.connect(f"duckdb://{tmp_path / 'data.duckdb'}")
    yield opened
    opened.close()
