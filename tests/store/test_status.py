from overture.store.status import ActivityStatus, RunStatus


def test_run_groups_split_every_status_once():
    assert {"done", "failed", "stopped"} == RunStatus.FINISHED
    assert {"pending", "running", "waiting", "paused"} == RunStatus.ACTIVE
    assert set(RunStatus) == RunStatus.FINISHED | RunStatus.ACTIVE
    assert "FINISHED" not in RunStatus.__members__


def test_activity_groups_split_every_status_once():
    assert {"done", "failed", "skipped"} == ActivityStatus.FINISHED
    assert {"pending", "running", "waiting"} == ActivityStatus.ACTIVE
    assert set(ActivityStatus) == ActivityStatus.FINISHED | ActivityStatus.ACTIVE


def test_predicates():
    assert [s.value for s in RunStatus if s.is_finished()] == ["done", "failed", "stopped"]
    assert [s.value for s in RunStatus if s.is_active()] == [
        "pending", "running", "waiting", "paused",
    ]  # fmt: skip
    assert ActivityStatus("skipped").is_finished()
    assert not ActivityStatus("waiting").is_finished()
    assert ActivityStatus("waiting").is_active()


def test_statuses_are_plain_strings():
    assert RunStatus.DONE == "done"
    assert f"{ActivityStatus.SKIPPED}" == "skipped"
