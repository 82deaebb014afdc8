"""The campaign repository and the scheduler's queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from overture.store.campaigns import CampaignExists, CampaignNotFound, CampaignRepository
from overture.store.repository import ControlStore, ControlStoreError, SlotTaken
from overture.store.status import CampaignStatus

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
DOC = {"name": "c", "activities": [{"id": "all", "type": "build_audience"}]}


def run(store: ControlStore, run_id: str, **extra: object) -> None:
    store.create_run(run_id=run_id, campaign="c", mode="live", document=DOC, variables={},
                     clock=NOW, **extra)  # type: ignore[arg-type]


def test_versions_count_from_one_and_history_keeps_actors(store: ControlStore) -> None:
    repo = CampaignRepository(store)
    repo.create("c", DOC, "ana")
    with pytest.raises(CampaignExists):
        repo.create("c", DOC, "bob")
    assert repo.publish("c", DOC, "ana", CampaignStatus.SCHEDULED).number == 1
    assert repo.publish("c", {**DOC, "label": "2"}, "bob", CampaignStatus.LIVE).number == 2
    assert repo.get("c").latest_version == 2
    assert repo.version("c", 2).document["label"] == "2"
    repo.unpublish("c", 2, "bob", CampaignStatus.LIVE)
    assert repo.get("c").latest_version == 1 and repo.get("c").draft["label"] == "2"
    assert [(h.actor, h.action) for h in repo.history("c")] == [
        ("ana", "create"), ("ana", "publish"), ("bob", "publish"), ("bob", "unpublish")]
    with pytest.raises(CampaignNotFound):
        repo.version("c", 2)


def test_an_update_expecting_a_status_refuses_a_concurrent_change(store: ControlStore) -> None:
    repo = CampaignRepository(store)
    repo.create("c", DOC, "ana")
    repo.update("c", "ana", "pause", status=CampaignStatus.PAUSED)
    with pytest.raises(ControlStoreError, match="changed meanwhile"):
        repo.update("c", "bob", "resume", expect=CampaignStatus.DRAFT,
                    status=CampaignStatus.LIVE)
    assert repo.get("c").status == CampaignStatus.PAUSED


def test_one_run_per_slot(store: ControlStore) -> None:
    run(store, "r1", slot=NOW)
    with pytest.raises(SlotTaken):
        run(store, "r2", slot=NOW)
    run(store, "r3", slot=NOW + timedelta(days=1))
    run(store, "r4")
    run(store, "r5")  # runs without a slot never collide
    assert len(store.list_runs("c")) == 4


def test_a_signal_is_claimed_once_per_interval(store: ControlStore) -> None:
    repo = CampaignRepository(store)
    repo.create("c", DOC, "ana")
    hour = timedelta(hours=1)
    assert repo.claim_signal("c", NOW, NOW - hour)
    assert not repo.claim_signal("c", NOW + timedelta(minutes=59), NOW - timedelta(minutes=1))
    assert repo.claim_signal("c", NOW + hour, NOW)


def test_due_wakeups_and_the_next_one(store: ControlStore) -> None:
    run(store, "early", status="waiting")
    run(store, "late", status="waiting")
    run(store, "confirm", status="waiting")
    store.upsert_activity_run("early", "w", status="waiting", waiting_for="timer",
                              wake_at=NOW)
    store.upsert_activity_run("late", "w", status="waiting", waiting_for="deferred",
                              wake_at=NOW + timedelta(days=1))
    store.upsert_activity_run("confirm", "m", status="waiting", waiting_for="confirmation")
    assert store.next_wakeup() == NOW
    assert store.due_wakeups(NOW - timedelta(seconds=1)) == []
    assert store.due_wakeups(NOW) == ["early"]
    assert sorted(store.due_wakeups(NOW + timedelta(days=2))) == ["early", "late"]
    store.upsert_activity_run("early", "w", status="done")
    assert store.activity_runs("early")["w"].waiting_for is None
    assert store.activity_runs("early")["w"].wake_at == NOW  # kept, as history
    assert store.due_wakeups(NOW + timedelta(days=2)) == ["late"]


def test_a_confirmation_is_recorded_once(store: ControlStore) -> None:
    run(store, "r")
    store.upsert_activity_run("r", "mail", status="waiting", waiting_for="confirmation")
    assert store.confirm_activity("r", "mail", "carla")
    assert not store.confirm_activity("r", "mail", "dan")
    assert store.activity_runs("r")["mail"].confirmed_by == "carla"
