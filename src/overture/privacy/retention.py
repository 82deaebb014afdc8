"""Retention of message history: `[privacy] retention_days = N` in overture.toml, and
`expire`, which deletes what is older than that.

A message log row older than N days (by `created_at`) goes, with its unfolded send
result, its tracked links and its events; an event older than N days (by `at`) goes
too. Messages of unfinished runs are kept whatever their age, as `runs prune` keeps
their work tables: a resumed run must find its plan, or it would send again.
Unsubscribes and suppressions never expire: they are what keeps people from being
sent to. Each table is one DELETE, all of them in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from overture.data.events import EVENTS, LINKS
from overture.data.messages import MESSAGES, RESULTS, utc_naive
from overture.privacy.profile import PrivacyError, count_rows, quote, run_statements
from overture.store.status import RunStatus

if TYPE_CHECKING:
    from overture.data.workspace import Workspace

SECTION = "privacy"
SETTING = "retention_days"


def retention_days(config: dict[str, Any]) -> int | None:
    """`[privacy] retention_days` of a workspace's settings; None when not set."""
    section = config.get(SECTION) or {}
    if not isinstance(section, dict):
        raise PrivacyError(f"[{SECTION}] in overture.toml must be a table of settings")
    value = section.get(SETTING)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PrivacyError(f"[{SECTION}] {SETTING} = {value!r} in overture.toml: write a "
                           "whole number of days, at least 1")
    return value


@dataclass
class ExpireReport:
    days: int
    #: rows created before this instant (UTC) expired
    before: datetime
    dry_run: bool
    #: {table: rows deleted}, or that would be on a dry run
    counts: dict[str, int] = field(default_factory=dict)
    #: old message log rows kept because their run is not finished
    kept: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"retention_days": self.days, "before": self.before.isoformat(),
                "dry_run": self.dry_run, "deleted": dict(self.counts),
                "kept_unfinished": self.kept}


def expire(ws: Workspace, *, days: int | None = None, dry_run: bool = False,
           now: datetime | None = None) -> ExpireReport:
    """Delete the message history older than `days` (default: the workspace's
    `[privacy] retention_days`); with `dry_run`, only count it."""
    if days is None:
        days = retention_days(ws.config)
    if days is None:
        raise PrivacyError(f"no retention is set: add `{SETTING} = N` (days) under "
                           f"[{SECTION}] in overture.toml")
    moment = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=days)
    report = ExpireReport(days, moment, dry_run)
    plane = ws.data
    if not plane.has_table(MESSAGES):
        return report
    cutoff = utc_naive(moment)
    unfinished = sorted(r.id for r in ws.control.runs_with_status(*RunStatus.ACTIVE))
    old = '"created_at" < ?'
    expired = old
    params: list[Any] = [cutoff]
    if unfinished:
        marks = ", ".join("?" for _ in unfinished)
        expired = f'{old} AND "run_id" NOT IN ({marks})'
        params = [cutoff, *unfinished]
        report.kept = count_rows(
            plane, f'SELECT COUNT(*) FROM {quote(MESSAGES)} WHERE {old} AND "run_id" IN '
                   f"({marks})", [cutoff, *unfinished])
    ids = f'SELECT "message_id" FROM {quote(MESSAGES)} WHERE {expired}'
    # children first: their WHERE reads the log rows deleted last
    where: list[tuple[str, str, list[Any]]] = [
        (EVENTS, f'"message_id" IN ({ids}) OR "at" < ?', [*params, cutoff]),
        (LINKS, f'"message_id" IN ({ids})', params),
        (RESULTS, f'"message_id" IN ({ids})', params),
        (MESSAGES, expired, params),
    ]
    present = [(t, w, p) for t, w, p in where if plane.has_table(t)]
    if dry_run:
        counts = [count_rows(plane, f"SELECT COUNT(*) FROM {quote(t)} WHERE {w}", p)
                  for t, w, p in present]
    else:
        counts = run_statements(plane, [(f"DELETE FROM {quote(t)} WHERE {w}", p)
                                        for t, w, p in present])
    report.counts = {t: n for (t, _, _), n in zip(present, counts, strict=True)}
    return report
