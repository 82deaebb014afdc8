"""`CampaignRepository`: campaigns, their frozen versions and their history.

Data access only: which transitions are allowed is decided by the lifecycle service
(`overture.service.lifecycle`), which calls these methods. Every write records who
made it in `campaign_history`, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from overture.store.models import Campaign, CampaignHistory, CampaignVersion, Run
from overture.store.repository import ControlStore, ControlStoreError
from overture.store.status import CampaignStatus
from overture.store.types import UTCDateTime

CAMPAIGNS = cast(Table, Campaign.__table__)
VERSIONS = cast(Table, CampaignVersion.__table__)
HISTORY = cast(Table, CampaignHistory.__table__)
RUNS = cast(Table, Run.__table__)


class CampaignNotFound(ControlStoreError):
    pass


class CampaignExists(ControlStoreError):
    pass


@dataclass(frozen=True)
class CampaignRecord:
    name: str
    status: CampaignStatus
    draft: dict[str, Any] | None
    latest_version: int | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    last_slot: datetime | None
    next_start: datetime | None
    last_signal_at: datetime | None
    consecutive_errors: int


@dataclass(frozen=True)
class VersionRecord:
    campaign: str
    number: int
    document: dict[str, Any]
    published_at: datetime
    published_by: str


@dataclass(frozen=True)
class HistoryRecord:
    id: int
    campaign: str
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any] | None


def _now() -> datetime:
    return datetime.now(UTC)


def _campaign(row: Row[Any]) -> CampaignRecord:
    return CampaignRecord(**{**row._mapping, "status": CampaignStatus(row.status)})


class CampaignRepository:
    def __init__(self, store: ControlStore):
        self._engine = store._engine
        self._writer = store._writer

    # ---- reading ----
    def get(self, name: str) -> CampaignRecord:
        with self._engine.connect() as conn:
            row = conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.name == name)).first()
        if row is None:
            raise CampaignNotFound(f"no campaign {name!r}")
        return _campaign(row)

    def all(self, status: CampaignStatus | None = None) -> list[CampaignRecord]:
        query = select(CAMPAIGNS).order_by(CAMPAIGNS.c.name)
        if status is not None:
            query = query.where(CAMPAIGNS.c.status == status.value)
        with self._engine.connect() as conn:
            return [_campaign(row) for row in conn.execute(query)]

    def with_status(self, *statuses: CampaignStatus) -> list[CampaignRecord]:
        query = (select(CAMPAIGNS).where(CAMPAIGNS.c.status.in_([s.value for s in statuses]))
                 .order_by(CAMPAIGNS.c.name))
        with self._engine.connect() as conn:
            return [_campaign(row) for row in conn.execute(query)]

    def versions(self, name: str) -> list[VersionRecord]:
        query = select(VERSIONS).where(VERSIONS.c.campaign == name).order_by(VERSIONS.c.number)
        with self._engine.connect() as conn:
            return [VersionRecord(**row._mapping) for row in conn.execute(query)]

    def version(self, name: str, number: int) -> VersionRecord:
        query = select(VERSIONS).where(VERSIONS.c.campaign == name,
                                       VERSIONS.c.number == number)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise CampaignNotFound(f"campaign {name!r} has no version {number}")
        return VersionRecord(**row._mapping)

    def history(self, name: str) -> list[HistoryRecord]:
        query = (select(HISTORY).where(HISTORY.c.campaign == name)
                 .order_by(HISTORY.c.at, HISTORY.c.id))
        with self._engine.connect() as conn:
            return [HistoryRecord(**row._mapping) for row in conn.execute(query)]

    def version_has_run(self, name: str, number: int) -> bool:
        query = select(func.count()).select_from(RUNS).where(
            RUNS.c.campaign == name, RUNS.c.version == number, RUNS.c.mode == "live")
        with self._engine.connect() as conn:
            return bool(conn.scalar(query))

    # ---- writing ----
    def create(self, name: str, draft: dict[str, Any], actor: str,
               status: CampaignStatus = CampaignStatus.DRAFT) -> CampaignRecord:
        now = _now()
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(CAMPAIGNS).values(
                    name=name, status=status.value, draft=draft, latest_version=None,
                    created_at=now, created_by=actor, updated_at=now, updated_by=actor,
                    consecutive_errors=0))
                self._history(conn, name, actor, "create", None)
        except IntegrityError:
            raise CampaignExists(f"a campaign named {name!r} exists already") from None
        return self.get(name)

    def update(self, name: str, actor: str, action: str, detail: dict[str, Any] | None = None,
               *, expect: CampaignStatus | None = None, **values: Any) -> CampaignRecord:
        """Change fields and record the action; with `expect`, only from that status
        (a concurrent change makes this fail instead of being overwritten)."""
        stmt = update(CAMPAIGNS).where(CAMPAIGNS.c.name == name)
        if expect is not None:
            stmt = stmt.where(CAMPAIGNS.c.status == expect.value)
        if "status" in values and isinstance(values["status"], CampaignStatus):
            values["status"] = values["status"].value
        with self._writer.begin() as conn:
            result = conn.execute(stmt.values(updated_at=_now(), updated_by=actor, **values))
            if result.rowcount == 0:
                if conn.scalar(select(CAMPAIGNS.c.name).where(CAMPAIGNS.c.name == name)) is None:
                    raise CampaignNotFound(f"no campaign {name!r}")
                raise ControlStoreError(f"campaign {name!r} changed meanwhile: try again")
            self._history(conn, name, actor, action, detail)
        return self.get(name)

    def set_scheduler_state(self, name: str, **values: Any) -> None:
        """The scheduler's bookkeeping (last_slot, next_start): not a user's change."""
        with self._writer.begin() as conn:
            conn.execute(update(CAMPAIGNS).where(CAMPAIGNS.c.name == name).values(**values))

    def publish(self, name: str, document: dict[str, Any], actor: str,
                status: CampaignStatus, **values: Any) -> VersionRecord:
        """Freeze `document` as the next version and set the status, in one transaction."""
        now = _now()
        with self._writer.begin() as conn:
            latest = conn.scalar(select(CAMPAIGNS.c.latest_version)
                                 .where(CAMPAIGNS.c.name == name))
            number = (latest or 0) + 1
            conn.execute(insert(VERSIONS).values(campaign=name, number=number,
                                                 document=document, published_at=now,
                                                 published_by=actor))
            conn.execute(update(CAMPAIGNS).where(CAMPAIGNS.c.name == name).values(
                latest_version=number, status=status.value, updated_at=now,
                updated_by=actor, **values))
            self._history(conn, name, actor, "publish", {"version": number})
        return self.version(name, number)

    def unpublish(self, name: str, number: int, actor: str, status: CampaignStatus) -> None:
        """Drop a version that never ran: its document becomes the draft again."""
        with self._writer.begin() as conn:
            document = conn.scalar(select(VERSIONS.c.document).where(
                VERSIONS.c.campaign == name, VERSIONS.c.number == number))
            conn.execute(delete(VERSIONS).where(VERSIONS.c.campaign == name,
                                                VERSIONS.c.number == number))
            previous = number - 1 if number > 1 else None
            conn.execute(update(CAMPAIGNS).where(CAMPAIGNS.c.name == name).values(
                latest_version=previous, status=status.value, draft=document,
                updated_at=_now(), updated_by=actor, next_start=None))
            self._history(conn, name, actor, "unpublish", {"version": number})

    def delete(self, name: str, actor: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(delete(CAMPAIGNS).where(CAMPAIGNS.c.name == name))
            self._history(conn, name, actor, "delete", None)

    def claim_signal(self, name: str, now: datetime, threshold: datetime) -> bool:
        """Take the signal slot if the last signal is at or before `threshold` (atomic:
        two calls at once cannot both win)."""
        with self._writer.begin() as conn:
            result = conn.execute(
                update(CAMPAIGNS)
                .where(CAMPAIGNS.c.name == name,
                       or_(CAMPAIGNS.c.last_signal_at.is_(None),
                           CAMPAIGNS.c.last_signal_at <= literal(threshold, UTCDateTime())))
                .values(last_signal_at=now))
            return bool(result.rowcount)

    def _history(self, conn: Connection, name: str, actor: str, action: str,
                 detail: dict[str, Any] | None) -> None:
        conn.execute(insert(HISTORY).values(campaign=name, at=_now(), actor=actor,
                                            action=action, detail=detail))
