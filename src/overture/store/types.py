"""Column types shared by the models and the migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every database.

    SQLite has no time zones: it gets naive UTC text (which still sorts by time) and
    the zone is put back on reading. PostgreSQL gets `timestamptz`, read back in UTC
    whatever the session's TimeZone. Naive datetimes are refused: guessing their zone
    is how a wait wakes up an hour late.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_column() -> JSON:
    """JSON where Python's None is SQL NULL (a skipped activity's `ports` is NULL, not 'null').

    Plain JSON rather than PostgreSQL's JSONB on purpose: JSONB reorders keys, and the
    order of ports and exclusion reasons is the order the canvas shows them in.
    """
    return JSON(none_as_null=True)
