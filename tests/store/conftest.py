from __future__ import annotations

from collections.abc import Iterator

import pytest

from overture.store.repository import ControlStore


@pytest.fixture
def store(control_url: str) -> Iterator[ControlStore]:
    """A migrated control store, on SQLite and on PostgreSQL."""
    opened = ControlStore(control_url)
    yield opened
    opened.close()
