"""`export_profile`: everything the workspace holds about one person, ready for JSON.

The profile row; the rows its links reach (one level deep); the saved audiences and
the run work tables holding its key (for work tables only where: run, activity, port);
its message log rows with their events and tracked links; its unsubscribes; and the
suppressions of its addresses, plain or hashed.
"""

from __future__ import annotations

import base64
import math
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from overture.data import events, suppressions
from overture.data.plane import DataPlane
from overture.privacy.profile import (
    Profile,
    addresses_of,
    audiences_holding,
    find_profile,
    linked,
    messages_of,
    work_tables_holding,
)

if TYPE_CHECKING:
    from overture.data.workspace import Workspace

#: the export's format; a reader checks it before anything else
FORMAT = "overture.privacy.export/1"


def export_profile(ws: Workspace, key: str, dimension: str | None = None, *,
                   now: datetime | None = None) -> dict[str, Any]:
    """Everything held about the profile `key` of `dimension` (default: the catalog's
    target), as a dict of JSON values; a PrivacyError when there is no such profile."""
    profile = find_profile(ws, key, dimension)
    plane = ws.data
    log = messages_of(plane, profile)
    message_rows = _rows(log, "created_at", "message_id")
    data: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": (now or datetime.now(UTC)).astimezone(UTC),
        "dimension": profile.dimension,
        "key_column": profile.key_column,
        "key": profile.key,
        "profile": profile.rows[0],
    }
    if len(profile.rows) > 1:
        data["profile_duplicates"] = profile.rows[1:]
    data["linked"] = {
        item.name: {"table": item.link.table, "cardinality": item.link.cardinality,
                    "on": dict(item.link.on), "rows": _rows(item.rows)}
        for item in linked(ws, profile)}
    data["audiences"] = [{"audience": info.name, "rows": rows}
                         for info, rows in audiences_holding(plane, profile)]
    data["messages"] = message_rows
    data["events"] = _of_messages(plane, events.EVENTS, log, "at", "event_id")
    data["tracked_links"] = _of_messages(plane, events.LINKS, log, "message_id", "link")
    data["unsubscribes"] = _unsubscribes(plane, profile)
    data["suppressions"] = _suppressions(plane, addresses_of(ws, profile))
    data["runs"] = [{"run": w.run, "activity": w.activity, "port": w.port, "table": w.table}
                    for w in work_tables_holding(ws, profile)]
    result: dict[str, Any] = to_json(data)
    return result


def _rows(table: ir.Table | None, *order: str) -> list[dict[str, Any]]:
    if table is None:
        return []
    table = table.order_by(list(order) or table.columns[0])
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    return rows


def _of_messages(plane: DataPlane, name: str, log: ir.Table | None,
                 *order: str) -> list[dict[str, Any]]:
    """The rows of `name` (events, links) of the person's messages."""
    if log is None or not plane.has_table(name):
        return []
    table = plane.con.table(name)
    ids = log.select(_mid=log.message_id)
    return _rows(table.semi_join(ids, table.message_id == ids._mid), *order)


def _unsubscribes(plane: DataPlane, profile: Profile) -> list[dict[str, Any]]:
    if not plane.has_table(suppressions.UNSUBSCRIBES):
        return []
    table = plane.con.table(suppressions.UNSUBSCRIBES)
    return _rows(table.filter((table.dimension == profile.dimension)
                              & (table.profile_key == profile.key_text)), "channel")


def _suppressions(plane: DataPlane, addresses: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Suppression rows of the person's addresses, stored plain or hashed."""
    if not addresses or not plane.has_table(suppressions.SUPPRESSIONS):
        return []
    table = plane.con.table(suppressions.SUPPRESSIONS)
    conditions = []
    for channel, values in addresses.items():
        forms = [*values, *(suppressions.hash_address(v, channel) for v in values)]
        conditions.append((table.channel == channel) & table.address.isin(forms))
    return _rows(table.filter(ibis.or_(*conditions)), "channel", "address")


def to_json(value: Any) -> Any:
    """`value` with every engine value made JSON: instants and dates in ISO 8601 (naive
    timestamps are UTC), decimals as text, bytes in base64, NaN as null."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
