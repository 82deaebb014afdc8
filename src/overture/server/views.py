"""Records as JSON for the API (one place, so the canvas sees one shape)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from overture.store.campaigns import CampaignRecord, HistoryRecord, VersionRecord
from overture.store.repository import ActivityRunRecord, LogRecord, RunBrief, RunRecord
from overture.store.users import TokenRecord, UserRecord


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _plain(record: Any) -> dict[str, Any]:
    out = {}
    for key, value in asdict(record).items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def campaign(record: CampaignRecord) -> dict[str, Any]:
    out = _plain(record)
    out["status"] = record.status.value
    return out


def draft_etag(record: CampaignRecord) -> str:
    """The `ETag` of a campaign's draft revision: a hash of the draft as stored (its
    canonical JSON), so it changes exactly when the draft's content does."""
    canonical = json.dumps(record.draft, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False, default=str)
    return f'"draft-{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"'


def run_brief(record: RunBrief | None) -> dict[str, Any] | None:
    """A run as the campaign list shows it (its last execution)."""
    if record is None:
        return None
    return {"id": record.id, "status": record.status.value, "mode": record.mode,
            "trigger": record.trigger, "started_at": _iso(record.started_at),
            "finished_at": _iso(record.finished_at)}


def version(record: VersionRecord, with_document: bool = True) -> dict[str, Any]:
    out = _plain(record)
    if not with_document:
        out.pop("document")
    return out


def history(record: HistoryRecord) -> dict[str, Any]:
    return _plain(record)


def run(record: RunRecord) -> dict[str, Any]:
    out = _plain(record)
    out["status"] = record.status.value
    out.pop("document")
    return out


def activity_run(record: ActivityRunRecord) -> dict[str, Any]:
    out = _plain(record)
    out["status"] = record.status.value
    return out


def log(record: LogRecord) -> dict[str, Any]:
    return _plain(record)


def user(record: UserRecord) -> dict[str, Any]:
    return {"id": record.id, "username": record.username, "role": record.role.value,
            "created_at": _iso(record.created_at), "disabled_at": _iso(record.disabled_at)}


def token(record: TokenRecord) -> dict[str, Any]:
    return _plain(record)
