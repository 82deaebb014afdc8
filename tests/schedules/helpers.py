"""Shared helpers: read a schedule and list its starts as ISO strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from overture.schedules import Schedule, parse_schedule

PARIS = "Europe/Paris"


def at(text: str) -> datetime:
    """An aware instant from ISO text (the tests always give the offset)."""
    value = datetime.fromisoformat(text)
    assert value.utcoffset() is not None, text
    return value


def starts(raw: dict[str, Any], after: str, count: int = 10, tz: str = PARIS) -> list[str]:
    return [s.isoformat() for s in parse_schedule(raw).starts(tz, at(after), count)]


def schedule(raw: dict[str, Any]) -> Schedule:
    return parse_schedule(raw)
