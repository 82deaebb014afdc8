"""The message log: one row per (run, activity, profile) of every live channel activity.

Spec §5 and issue 3. A live channel activity first writes its whole *plan* in one
statement: every input profile with its message id and either `excluded` (and why) or
`pending`. Sending then appends one row per message to a small results table, in
batches, and the results are folded into the log when the activity ends. A message
with a result is never sent again, so a run resumed after a crash continues with the
messages still pending; readers see the log and the unfolded results as one table
(`message_log`).

Only live runs write here: test runs never count toward frequency caps.

Beside Spark these tables are in PostgreSQL (`plane.log`): every write goes there, and
`message_log` reads them from the engine that joins them with profiles.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from overture.data.plane import INTERNAL_PREFIX, DataPlane

MESSAGES = f"{INTERNAL_PREFIX}messages"
RESULTS = f"{INTERNAL_PREFIX}message_results"

MESSAGE_SCHEMA = ibis.schema({
    "message_id": "string",
    "run_id": "string",
    "campaign": "string",
    "activity_id": "string",
    "channel": "string",
    "category": "string",
    "dimension": "string",
    "profile_key": "string",
    "address": "string",
    "status": "string",        # excluded | pending | sent | failed
    "reason": "string",        # the exclusion reason of spec §5
    "not_before": "timestamp",  # quiet hours: not sent before this instant (UTC)
    "created_at": "timestamp",
    "variant": "string",
    "language": "string",
    "provider": "string",
    "provider_id": "string",
    "error": "string",
    "attempts": "int32",
    "sent_at": "timestamp",
})

RESULT_SCHEMA = ibis.schema({
    "message_id": "string",
    "status": "string",        # sent | failed
    "variant": "string",
    "language": "string",
    "provider": "string",
    "provider_id": "string",
    "error": "string",
    "attempts": "int32",
    "at": "timestamp",
})

#: the log's columns that a result replaces
_FROM_RESULT = ("status", "variant", "language", "provider", "provider_id", "error",
                "attempts")


def utc_naive(moment: datetime) -> datetime:
    """Timestamps are stored as naive UTC, the same on every engine."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


def now() -> datetime:
    return utc_naive(datetime.now(UTC))


def _ensure(plane: DataPlane, name: str, schema: ibis.Schema) -> None:
    """Create the table if missing (without reading its schema back: a catalog query per
    batch of results, for nothing)."""
    plane = plane.log
    if not plane.has_table(name):
        plane.con.create_table(name, schema=schema)


def ensure_results(plane: DataPlane) -> None:
    """Create the results table before several workers append to it at once."""
    _ensure(plane, RESULTS, RESULT_SCHEMA)


def has_plan(plane: DataPlane, run_id: str, activity_id: str) -> bool:
    plane = plane.log
    if not plane.has_table(MESSAGES):
        return False
    table = plane.con.table(MESSAGES)
    expr = table.filter((table.run_id == run_id) & (table.activity_id == activity_id))
    return int(expr.count().execute()) > 0


def write_plan(plane: DataPlane, plan: ir.Table) -> None:
    """Append a plan (columns of MESSAGE_SCHEMA) in one statement, atomically."""
    _ensure(plane, MESSAGES, MESSAGE_SCHEMA)
    columns = [plan[name].cast(dtype).name(name) for name, dtype in MESSAGE_SCHEMA.items()]
    if plane.log_plane is not None:
        # Spark computed the plan; PostgreSQL holds the log: one Arrow snapshot, one COPY
        # (one statement: all of the plan or none of it)
        plane.log_plane.append(MESSAGES, plan.select(*columns).to_pyarrow())
        return
    plane.con.insert(MESSAGES, plan.select(*columns))


def record_results(plane: DataPlane, rows: list[dict[str, Any]]) -> None:
    """Append send results (RESULT_SCHEMA rows) in one insert."""
    if not rows:
        return
    _ensure(plane, RESULTS, RESULT_SCHEMA)
    data = {name: [row.get(name) for row in rows] for name in RESULT_SCHEMA.names}
    plane.append(RESULTS, pa.table(data, schema=RESULT_SCHEMA.to_pyarrow()))


def message_log(plane: DataPlane) -> ir.Table | None:
    """The log with unfolded results applied: what every reader should query."""
    if not plane.has_table(MESSAGES):
        return None
    log = plane.table_any(MESSAGES)
    if not plane.has_table(RESULTS):
        return log
    results = plane.table_any(RESULTS).rename({f"r_{c}": c for c in RESULT_SCHEMA.names})
    joined = log.left_join(results, log.message_id == results.r_message_id)
    values: dict[str, ir.Value] = {}
    for name in MESSAGE_SCHEMA.names:
        if name in _FROM_RESULT:
            values[name] = ibis.coalesce(joined[f"r_{name}"], joined[name])
        elif name == "sent_at":
            values[name] = ibis.coalesce(joined.r_at, joined.sent_at)
        else:
            values[name] = joined[name]
    return joined.select(**values)


def of_activity(plane: DataPlane, run_id: str, activity_id: str) -> ir.Table | None:
    log = message_log(plane)
    if log is None:
        return None
    return log.filter((log.run_id == run_id) & (log.activity_id == activity_id))


def counts(plane: DataPlane, run_id: str, activity_id: str) -> dict[str, int]:
    """Messages of one activity run by status."""
    rows = of_activity(plane.log, run_id, activity_id)
    if rows is None:
        return {}
    grouped = rows.group_by("status").aggregate(n=rows.count()).to_pyarrow().to_pylist()
    return {row["status"]: int(row["n"]) for row in grouped}


def excluded_counts(plane: DataPlane, run_id: str, activity_id: str) -> dict[str, int]:
    rows = of_activity(plane.log, run_id, activity_id)
    if rows is None:
        return {}
    rows = rows.filter(rows.status == "excluded")
    grouped = rows.group_by("reason").aggregate(n=rows.count()).to_pyarrow().to_pylist()
    return {row["reason"]: int(row["n"]) for row in grouped}


def recent_sends(plane: DataPlane, channel: str, category: str, dimension: str,
                 since: datetime, run_id: str, *, pending_of: list[str] | None = None
                 ) -> ir.Table | None:
    """`profile_key, n`: messages sent per profile since an instant, other runs only,
    and the messages still pending of the runs `pending_of` (active ones: they will go)."""
    log = message_log(plane)
    if log is None:
        return None
    moment = ibis.literal(utc_naive(since), type="timestamp")
    counted = (log.status == "sent") & (log.sent_at >= moment)
    if pending_of:
        counted |= (log.status == "pending") & log.run_id.isin(pending_of)
    rows = log.filter((log.channel == channel) & (log.category == category)
                      & (log.dimension == dimension) & (log.run_id != run_id) & counted)
    return rows.group_by("profile_key").aggregate(n=rows.count())


def fold(plane: DataPlane, run_id: str, activity_id: str) -> None:
    """Write an activity's results into the log rows and drop them from the results."""
    plane = plane.log
    if not plane.has_table(RESULTS) or not plane.has_table(MESSAGES):
        return
    sets = ", ".join(f"{c} = r.{c}" for c in _FROM_RESULT)
    plane.execute([
        (f"UPDATE {MESSAGES} AS m SET {sets}, sent_at = r.at FROM {RESULTS} AS r "
         f"WHERE m.message_id = r.message_id AND m.run_id = ? AND m.activity_id = ?",
         [run_id, activity_id]),
        (f"DELETE FROM {RESULTS} WHERE message_id IN (SELECT message_id FROM {MESSAGES} "
         f"WHERE run_id = ? AND activity_id = ?)", [run_id, activity_id]),
    ])
