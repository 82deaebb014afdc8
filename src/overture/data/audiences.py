"""Saved audiences: a named table of a dimension's keys (and kept attributes).

The list of audiences is a small metadata table in the data plane, rewritten whole on
each save: audiences are few, and this works the same on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir

from overture.data.plane import INTERNAL_PREFIX, DataPlane, audience_table_name

META = f"{INTERNAL_PREFIX}audiences"
_META_SCHEMA = ibis.schema({
    "name": "string", "dimension": "string", "table_name": "string", "rows": "int64",
    "saved_at": "timestamp", "run_id": "string", "activity": "string",
})


@dataclass(frozen=True)
class AudienceInfo:
    name: str
    dimension: str
    table_name: str
    rows: int
    saved_at: datetime
    run_id: str | None
    activity: str | None


def list_audiences(plane: DataPlane) -> list[AudienceInfo]:
    if not plane.has_table(META):
        return []
    rows = plane.con.table(META).order_by("name").to_pyarrow().to_pylist()
    return [AudienceInfo(**row) for row in rows]


def lookup(plane: DataPlane, name: str) -> AudienceInfo | None:
    for info in list_audiences(plane):
        if info.name == name:
            return info
    return None


def columns(plane: DataPlane, info: AudienceInfo) -> dict[str, str]:
    schema = plane.table_any(info.table_name).schema()
    return {col: str(dtype) for col, dtype in schema.items()}


def save(plane: DataPlane, name: str, dimension: str, expr: ir.Table, *,
         run_id: str | None = None, activity: str | None = None) -> AudienceInfo:
    """Replace audience `name` with the rows of `expr`."""
    table_name = audience_table_name(name)
    rows = plane.materialize(expr, table_name)
    info = AudienceInfo(name, dimension, table_name, rows,
                        datetime.now(UTC).replace(tzinfo=None), run_id, activity)
    others = [a for a in list_audiences(plane) if a.name != name]
    records = [a.__dict__ for a in [*others, info]]
    plane.materialize(ibis.memtable(records, schema=_META_SCHEMA), META)
    return info
