"""Run ids: short, random, lowercase hex, because they go into data-plane table names."""

from __future__ import annotations

import uuid

RUN_ID_LENGTH = 12


def new_run_id() -> str:
    """12 lowercase hex characters of a uuid4 (48 random bits: collisions are negligible)."""
    return uuid.uuid4().hex[:RUN_ID_LENGTH]
