"""Spec §6 through the lifecycle service: drafts, versions, transitions, who did what."""

from __future__ import annotations

import pytest

from overture.service.lifecycle import LifecycleError
from overture.store.status import CampaignStatus
from service.conftest import Rig, document

S = CampaignStatus
BAD = [{"id": "all", "type": "build_audience", "rule": {"field": "nope", "op": "eq",
                                                       "value": 1}}]


def code_of(call: object) -> str:
    with pytest.raises(LifecycleError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_a_draft_is_published_as_numbered_frozen_versions(rig: Rig) -> None:
    rig.life.create(document("c", schedule={"daily": {"at": "09:00"}}), "ana")
    assert rig.life.get("c").status == S.DRAFT
    assert rig.life.publish("c", "ana").number == 1
    changed = document("c", schedule={"daily": {"at": "10:00"}})
    rig.life.update_draft("c", changed, "ana")
    assert rig.life.campaigns.version("c", 1).document["schedule"] == {"daily": {"at": "09:00"}}
    assert rig.life.publish("c", "bob").number == 2
    assert [v.published_by for v in rig.life.campaigns.versions("c")] == ["ana", "bob"]
    assert rig.life.get("c").status == S.SCHEDULED


def test_publishing_an_invalid_draft_lists_its_problems_and_changes_nothing(rig: Rig) -> None:
    rig.life.create(document("bad", activities=BAD), "ana")
    with pytest.raises(LifecycleError) as caught:
        rig.life.publish("bad", "ana")
    assert caught.value.code == "invalid"
    assert any("nope" in p.message for p in caught.value.problems)
    assert rig.life.get("bad").status == S.DRAFT
    assert rig.life.campaigns.versions("bad") == []


def test_back_to_draft_only_while_the_version_never_ran(rig: Rig) -> None:
    rig.life.create(document("c", schedule={"daily": {"at": "09:00"}}), "ana")
    rig.life.publish("c", "ana")
    assert rig.life.unpublish("c", "ana").status == S.DRAFT
    assert rig.life.campaigns.versions("c") == []
    rig.life.publish("c", "ana")
    rig.at(rig.clock.now().replace(hour=9))  # 09:00 UTC is after 09:00 Paris: a run
    assert rig.life.active_runs("c")
    assert code_of(lambda: rig.life.unpublish("c", "ana")) == "conflict"


def test_only_drafts_are_deleted_and_only_finished_campaigns_archived(rig: Rig) -> None:
    rig.life.create(document("d"), "ana")
    rig.life.create(document("p", schedule={"daily": {"at": "09:00"}}), "ana")
    rig.life.publish("p", "ana")
    assert code_of(lambda: rig.life.delete("p", "ana")) == "conflict"
    assert code_of(lambda: rig.life.act("p", "archive", "ana")) == "conflict"
    rig.life.delete("d", "ana")
    assert code_of(lambda: rig.life.get("d")) == "not_found"
    rig.life.act("p", "stop", "bob")
    assert rig.life.act("p", "archive", "bob").status == S.ARCHIVED
    assert code_of(lambda: rig.life.update_draft("p", document("p"), "ana")) == "conflict"


@pytest.mark.parametrize(("start", "action", "allowed"), [
    (S.SCHEDULED, "pause", True), (S.SCHEDULED, "resume", False),
    (S.SCHEDULED, "close", True), (S.SCHEDULED, "stop", True), (S.DRAFT, "pause", False),
    (S.DRAFT, "stop", False), (S.DRAFT, "archive", True),
])
def test_transitions_follow_the_table(rig: Rig, start: S, action: str, allowed: bool) -> None:
    rig.life.create(document("t", schedule={"daily": {"at": "09:00"}}), "ana")
    if start != S.DRAFT:
        rig.life.publish("t", "ana")
    assert rig.life.get("t").status == start
    if allowed:
        assert rig.life.act("t", action, "ana").status != start
    else:
        assert code_of(lambda: rig.life.act("t", action, "ana")) == "conflict"
        assert rig.life.get("t").status == start


def test_test_runs_use_the_draft_and_live_runs_a_published_version(rig: Rig) -> None:
    rig.life.create(document("r"), "ana")
    assert code_of(lambda: rig.life.start_live_run("r", "ana", trigger="manual")) == \
        "conflict"
    run_id = rig.life.start_test_run("r", "ana")
    run = rig.h.ws.control.get_run(run_id)
    assert (run.mode, run.version, run.started_by) == ("test", None, "ana")


def test_publishing_a_one_shot_campaign_starts_its_run(rig: Rig) -> None:
    rig.life.create(document("once"), "ana")
    rig.life.publish("once", "ana")
    (run_id,) = rig.dispatched
    run = rig.h.ws.control.get_run(run_id)
    assert (run.mode, run.version, run.trigger, run.started_by) == ("live", 1, "publish", "ana")
    assert rig.life.get("once").status == S.LIVE


def test_duplicate_copies_the_draft_under_a_new_name(rig: Rig) -> None:
    rig.life.create(document("orig", label="Original"), "ana")
    copy = rig.life.duplicate("orig", "copy", "bob")
    assert (copy.name, copy.status, copy.draft["label"]) == ("copy", S.DRAFT, "Original")
    assert copy.draft["name"] == "copy"
    assert code_of(lambda: rig.life.duplicate("orig", "copy", "bob")) == "conflict"
    assert code_of(lambda: rig.life.update_draft("orig", document("other"), "ana")) == \
        "invalid"
