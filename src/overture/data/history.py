"""Incremental-query history: which profiles earlier live runs returned, and when.

Only live runs write here (spec §5: test runs never count toward history). One
table for all campaigns, appended with the engine's bulk insert.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from overture.data.plane import INTERNAL_PREFIX, DataPlane

HISTORY = f"{INTERNAL_PREFIX}incremental"


def previous_keys(plane: DataPlane, campaign: str, activity: str, since: datetime | None,
                  run_id: str) -> ir.Table | None:
    """Keys (as text) returned by earlier live runs of this activity within the window.

    The current run is left out, so a run resumed after a crash never excludes its own
    profiles.
    """
    if not plane.has_table(HISTORY):
        return None
    table = plane.table_any(HISTORY)
    expr = table.filter((table.campaign == campaign) & (table.activity == activity)
                        & (table.run_id != run_id))
    if since is not None:
        expr = expr.filter(expr.at >= ibis.literal(since.replace(tzinfo=None)))
    return expr.select("key")


def watermark(plane: DataPlane, campaign: str, activity: str, run_id: str) -> datetime | None:
    """The clock of the last earlier live run of this activity, for mode date_field."""
    if not plane.has_table(HISTORY):
        return None
    table = plane.table_any(HISTORY)
    expr = table.filter((table.campaign == campaign) & (table.activity == activity)
                        & (table.run_id != run_id))
    value = expr.at.max().execute()
    return None if value is None or str(value) == "NaT" else value.to_pydatetime() \
        if hasattr(value, "to_pydatetime") else value


def remember(plane: DataPlane, campaign: str, activity: str, run_id: str, clock: datetime,
             rows: ir.Table, key: str, mode: str) -> None:
    """Append this run's keys (exclude_previous) or only its clock (date_field)."""
    at = ibis.literal(clock.replace(tzinfo=None), type="timestamp")
    if mode == "exclude_previous":
        new = rows.select(key=rows[key].cast("string"), campaign=ibis.literal(campaign),
                          activity=ibis.literal(activity), run_id=ibis.literal(run_id), at=at)
    else:
        new = ibis.memtable({"key": [None], "campaign": [campaign], "activity": [activity],
                             "run_id": [run_id], "at": [clock.replace(tzinfo=None)]},
                            schema=ibis.schema({"key": "string", "campaign": "string",
                                                "activity": "string", "run_id": "string",
                                                "at": "timestamp"}))
    if plane.has_table(HISTORY):
        plane.con.insert(HISTORY, new.select("key", "campaign", "activity", "run_id", "at"))
    else:
        plane.con.create_table(HISTORY, new.select("key", "campaign", "activity", "run_id", "at"))
