"""Retention: drop the work tables of finished runs past an age. Unfinished runs are kept,
whatever their age, so a run can always resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from overture.data.plane import run_prefix
from overture.data.workspace import Workspace
from overture.errors import OvertureError
from overture.rules.values import ValueProblem, parse_duration


def prune_horizon(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueProblem:
        raise OvertureError(f"--older-than {text!r}: write an age such as 5d, 12h or 2w") \
            from None


def prune(ws: Workspace, age: timedelta, *, dry_run: bool = False,
          now: datetime | None = None) -> list[tuple[str, int]]:
    """[(run id, tables dropped)] for every finished run that finished before now - age."""
    instant = (now or datetime.now(UTC)) - age
    tables = ws.data.list_tables(include_internal=True)
    pruned = []
    for run in ws.control.finished_runs_before(instant):
        prefix = run_prefix(run.id)
        mine = [t for t in tables if t.startswith(prefix)]
        if not dry_run:
            for name in mine:
                ws.data.drop(name)
            ws.control.mark_pruned(run.id)
        pruned.append((run.id, len(mine)))
    return pruned
