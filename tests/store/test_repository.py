"""Every `ControlStore` method, on SQLite and on PostgreSQL (see `control_url`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError

from overture.errors import OvertureError
from overture.store.repository import ControlStore, ControlStoreError, RunNotFound, RunRecord
from overture.store.status import ActivityStatus, RunStatus

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DOCUMENT = {"id": "spring", "activities": {"z_last": {"type": "query"}, "a_first": {}}}


def make_run(store: ControlStore, run_id: str, campaign: str = "spring", **kw: Any) -> RunRecord:
    args: dict[str, Any] = {"mode": "test", "document": DOCUMENT, "variables": {}, "clock": T0}
    return store.create_run(run_id=run_id, campaign=campaign, **{**args, **kw})


# ---- runs ----
def test_create_run_stores_every_field(store: ControlStore):
    before = datetime.now(UTC)
    run = make_run(store, "0123456789ab", mode="live", variables={"n": [1, 2]}, version=3)
    after = datetime.now(UTC)
    assert (run.id, run.campaign, run.mode, run.version) == ("0123456789ab", "spring", "live", 3)
    assert run.status is RunStatus.RUNNING
    assert run.document == DOCUMENT
    assert list(run.document["activities"]) == ["z_last", "a_first"]  # key order kept
    assert run.variables == {"n": [1, 2]}
    assert run.clock == T0
    assert run.started_at is not None and before <= run.started_at <= after
    assert run.created_at == run.started_at
    assert (run.finished_at, run.error, run.pruned_at) == (None, None, None)
    assert store.get_run("0123456789ab") == run


def test_create_run_refuses_a_bad_mode_and_a_taken_id(store: ControlStore):
    with pytest.raises(ValueError, match="mode 'dry'"):
        make_run(store, "0123456789ab", mode="dry")
    make_run(store, "0123456789ab")
    with pytest.raises(ControlStoreError, match="exists already"):
        make_run(store, "0123456789ab", campaign="other")
    assert store.get_run("0123456789ab").campaign == "spring"


def test_get_run_unknown(store: ControlStore):
    make_run(store, "0123456789ab")
    with pytest.raises(RunNotFound, match="no run 'fedcba987654'") as caught:
        store.get_run("fedcba987654")
    assert isinstance(caught.value, OvertureError)


def test_get_run_by_unique_prefix(store: ControlStore):
    make_run(store, "abcd1234ef01", campaign="one")
    make_run(store, "abce99990000", campaign="two")
    assert store.get_run("abcd").campaign == "one"
    assert store.get_run("abce9").campaign == "two"


def test_get_run_by_ambiguous_prefix_names_the_candidates(store: ControlStore):
    make_run(store, "abcd11110000", campaign="one")
    make_run(store, "abcd22220000", campaign="two")
    with pytest.raises(RunNotFound, match="ambiguous") as caught:
        store.get_run("abcd")
    assert "abcd11110000" in str(caught.value) and "abcd22220000" in str(caught.value)
    assert store.get_run("abcd2").campaign == "two"


def test_get_run_prefix_rules(store: ControlStore):
    make_run(store, "abcd1234ef01")
    make_run(store, "abc")  # an exact id shorter than a prefix is still found
    assert store.get_run("abc").id == "abc"
    with pytest.raises(RunNotFound, match="at least 4 characters"):
        store.get_run("ab")
    with pytest.raises(RunNotFound):
        store.get_run("ABCD")  # case-sensitive on both databases
    with pytest.raises(RunNotFound):
        store.get_run("ab_d")  # LIKE wildcards are matched literally
    with pytest.raises(RunNotFound):
        store.get_run("abc%")


def test_list_runs_newest_first_by_campaign_and_limit(store: ControlStore):
    # ids descend as runs are created: ordering by id would give the reverse
    for run_id, campaign in [("r5", "a"), ("r4", "b"), ("r3", "a"), ("r2", "b"), ("r1", "a")]:
        make_run(store, run_id, campaign=campaign)
    assert [run.id for run in store.list_runs()] == ["r1", "r2", "r3", "r4", "r5"]
    assert [run.id for run in store.list_runs("a")] == ["r1", "r3", "r5"]
    assert [run.id for run in store.list_runs(limit=2)] == ["r1", "r2"]
    assert [run.id for run in store.list_runs("b", limit=1)] == ["r2"]
    assert store.list_runs("nope") == []


def test_update_run_changes_only_given_fields(store: ControlStore):
    created = make_run(store, "run1")
    store.update_run("run1", status="waiting", clock=T0 + timedelta(days=2))
    run = store.get_run("run1")
    assert run.status is RunStatus.WAITING
    assert run.clock == T0 + timedelta(days=2)
    assert run.started_at == created.started_at
    store.update_run("run1", error="channel paused")
    run = store.get_run("run1")
    assert (run.status, run.error) == ("waiting", "channel paused")
    assert run.clock == T0 + timedelta(days=2)
    store.update_run("run1", started_at=T0)
    assert store.get_run("run1").started_at == T0


def test_update_run_to_finished_stamps_finished_at_once(store: ControlStore):
    make_run(store, "run1")
    before = datetime.now(UTC)
    store.update_run("run1", status="failed", error="boom")
    first = store.get_run("run1")
    assert first.finished_at is not None and before <= first.finished_at <= datetime.now(UTC)
    store.update_run("run1", status="stopped")
    assert store.get_run("run1").finished_at == first.finished_at
    store.update_run("run1", status="done", finished_at=T0)
    assert store.get_run("run1").finished_at == T0


def test_update_run_resumed_forgets_end_and_error(store: ControlStore):
    make_run(store, "run1")
    store.update_run("run1", status="failed", finished_at=T0, error="boom")
    store.update_run("run1", status="running")
    run = store.get_run("run1")
    assert (run.status, run.finished_at, run.error) == ("running", None, None)


def test_update_run_unknown_or_bad(store: ControlStore):
    make_run(store, "run1")
    with pytest.raises(RunNotFound):
        store.update_run("run2", status="done")
    with pytest.raises(RunNotFound):
        store.update_run("run2")
    with pytest.raises(ValueError, match="'finished'"):
        store.update_run("run1", status="finished")
    assert store.get_run("run1").status == "running"


# ---- activity runs ----
def test_upsert_inserts_then_keeps_fields_left_none(store: ControlStore):
    make_run(store, "run1")
    store.upsert_activity_run("run1", "buyers", status="running", started_at=T0, clock=T0)
    first = store.activity_runs("run1")["buyers"]
    assert (first.run_id, first.activity_id, first.status) == ("run1", "buyers", "running")
    assert (first.started_at, first.clock) == (T0, T0)
    assert (first.finished_at, first.ports, first.excluded, first.tables) == (None,) * 4

    ports = {"vip": 120, "sample": 111, "complement": 1003}
    done_at = T0 + timedelta(minutes=1)
    tables = {"vip": "ovw_run1_tiers_vip"}
    store.upsert_activity_run("run1", "buyers", status="done", finished_at=done_at, ports=ports,
                              tables=tables)  # fmt: skip
    store.upsert_activity_run("run1", "buyers", status="done", excluded={"no_consent": 2})
    record = store.activity_runs("run1")["buyers"]
    assert record.status is ActivityStatus.DONE
    assert (record.started_at, record.finished_at, record.clock) == (T0, done_at, T0)
    assert list(record.ports or {}) == ["vip", "sample", "complement"]  # key order kept
    assert record.ports == ports
    assert record.tables == tables
    assert record.excluded == {"no_consent": 2}
    assert record.error is None


def test_upsert_restart_clears_finished_at_and_error(store: ControlStore):
    make_run(store, "run1")
    store.upsert_activity_run("run1", "mail", status="failed", started_at=T0,
                              finished_at=T0, ports={"out": 3}, error="smtp down")  # fmt: skip
    store.upsert_activity_run("run1", "mail", status="running")
    record = store.activity_runs("run1")["mail"]
    assert (record.status, record.finished_at, record.error) == ("running", None, None)
    assert (record.started_at, record.ports) == (T0, {"out": 3})
    store.upsert_activity_run("run1", "mail", status="pending", error="retry 2")
    assert store.activity_runs("run1")["mail"].error == "retry 2"
    store.upsert_activity_run("run1", "mail", status="waiting")
    store.upsert_activity_run("run1", "mail", status="failed", finished_at=T0, error="again")
    store.upsert_activity_run("run1", "mail", status="skipped")
    record = store.activity_runs("run1")["mail"]
    assert (record.finished_at, record.error) == (T0, "again")  # only restarts clear them


def test_skipped_ports_are_sql_null(store: ControlStore):
    make_run(store, "run1")
    store.upsert_activity_run("run1", "branch", status="skipped")
    assert store.activity_runs("run1")["branch"].ports is None
    with store._engine.connect() as conn:
        nulls = conn.scalar(text("SELECT count(*) FROM activity_runs WHERE ports IS NULL"))
    assert nulls == 1


def test_activity_runs_by_activity_of_one_run(store: ControlStore):
    make_run(store, "run1")
    make_run(store, "run2")
    store.upsert_activity_run("run1", "b", status="done")
    store.upsert_activity_run("run1", "a", status="pending")
    store.upsert_activity_run("run2", "c", status="done")
    runs = store.activity_runs("run1")
    assert sorted(runs) == ["a", "b"]
    assert runs["a"].status == "pending" and runs["b"].status == "done"
    assert store.activity_runs("run3") == {}


def test_upsert_unknown_run_or_status(store: ControlStore):
    make_run(store, "run1")
    with pytest.raises(RunNotFound, match="run2"):
        store.upsert_activity_run("run2", "a", status="done")
    with pytest.raises(ValueError, match="'stopped'"):
        store.upsert_activity_run("run1", "a", status="stopped")
    assert store.activity_runs("run1") == {}


# ---- logs ----
def test_logs_oldest_first_then_in_written_order(store: ControlStore):
    make_run(store, "run1")
    make_run(store, "run2")
    store.log("run1", "second", at=T0 + timedelta(seconds=1), activity_id="buyers")
    store.log("run1", "first", at=T0, level="warning")
    store.log("run1", "third", at=T0 + timedelta(seconds=1), level="error")
    store.log("run2", "elsewhere", at=T0)
    store.log("run1", "now")
    logs = store.logs("run1")
    assert [entry.message for entry in logs] == ["first", "second", "third", "now"]
    assert [entry.level for entry in logs] == ["warning", "info", "error", "info"]
    assert logs[1].activity_id == "buyers" and logs[0].activity_id is None
    assert logs[0].at == T0 and logs[0].run_id == "run1"
    assert logs[3].at > T0 + timedelta(days=30)  # defaults to now
    assert logs[1].id < logs[2].id


def test_log_unknown_run_or_level(store: ControlStore):
    make_run(store, "run1")
    with pytest.raises(RunNotFound):
        store.log("run2", "lost")
    with pytest.raises(ValueError, match="'loud'"):
        store.log("run1", "x", level="loud")
    assert store.logs("run1") == []


# ---- retention ----
def test_finished_runs_before_ignores_unfinished_late_and_pruned_runs(store: ControlStore):
    hour = timedelta(hours=1)
    for run_id, status, finished in [
        ("old_done", "done", T0),
        ("old_failed", "failed", T0 + hour),
        ("late_stopped", "stopped", T0 + 3 * hour),
        ("pruned", "done", T0),
        ("waiting_with_end", "waiting", T0),  # an end time but not finished
    ]:
        make_run(store, run_id)
        store.update_run(run_id, status=status, finished_at=finished)
    store.update_run("waiting_with_end", finished_at=T0)
    make_run(store, "running")
    store.mark_pruned("pruned")
    found = store.finished_runs_before(T0 + 2 * hour)
    assert [run.id for run in found] == ["old_done", "old_failed"]
    assert store.finished_runs_before(T0) == []  # strictly before


def test_mark_pruned(store: ControlStore):
    make_run(store, "run1")
    before = datetime.now(UTC)
    store.mark_pruned("run1")
    pruned_at = store.get_run("run1").pruned_at
    assert pruned_at is not None and before <= pruned_at <= datetime.now(UTC)
    with pytest.raises(RunNotFound):
        store.mark_pruned("run2")


# ---- datetimes ----
def test_datetimes_come_back_aware_utc(store: ControlStore):
    kolkata = timezone(timedelta(hours=5, minutes=30))
    clock = datetime(2026, 6, 30, 23, 59, 59, 123456, tzinfo=kolkata)
    make_run(store, "run1", clock=clock)
    store.upsert_activity_run("run1", "a", status="running", started_at=clock, clock=clock)
    store.log("run1", "x", at=clock)
    run = store.get_run("run1")
    values = [run.clock, run.created_at, store.activity_runs("run1")["a"].clock,
              store.logs("run1")[0].at]  # fmt: skip
    assert all(value is not None and value.tzinfo is UTC for value in values), values
    assert run.clock == clock
    assert run.clock.hour == 18 and run.clock.microsecond == 123456


def test_naive_datetimes_are_refused(store: ControlStore):
    with pytest.raises((ValueError, StatementError), match="naive"):
        make_run(store, "run1", clock=datetime(2026, 1, 1))
    make_run(store, "run2")
    with pytest.raises((ValueError, StatementError), match="naive"):
        store.finished_runs_before(datetime(2026, 1, 1))


def test_postgres_session_time_zone_does_not_leak(postgres_url: str):
    url = make_url(postgres_url)
    options = f"{url.query['options']} -cTimeZone=Asia/Kolkata"
    store = ControlStore(url.update_query_dict({"options": options}).render_as_string(False))
    try:
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "Asia/Kolkata"
        make_run(store, "run1")
        run = store.get_run("run1")
        assert run.clock == T0 and run.clock.tzinfo is UTC and run.clock.hour == 9
    finally:
        store.close()
