"""A confirmation or a continue that arrives while the run still executes (its other
branches go on) is recorded, answered, and taken up when the pass ends: the monitor
shows the task as soon as the activity waits, so the go-ahead must never be a 409."""

from __future__ import annotations

from typing import Any

import pytest

from overture.service import workers
from overture.service.lifecycle import Lifecycle
from overture.service.workers import WorkerPool
from service.conftest import Rig, document
from service.test_durable_runs import EMAILABLE, mail, outbox_count, state


def pool_lifecycle(rig: Rig) -> tuple[WorkerPool, Lifecycle]:
    pool = WorkerPool(rig.h.ws, rig.clock, workers=1)
    life = Lifecycle(rig.h.ws, rig.clock, dispatch=pool.submit, interrupt=pool.interrupt,
                     is_executing=pool.is_active, dispatch_after=pool.submit_after)
    pool.on_finished = life.run_finished
    return pool, life


def test_a_confirmation_during_the_pass_is_taken_up_when_the_pass_ends(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    pool, life = pool_lifecycle(rig)
    answers: list[Any] = []
    real = workers.execute_run

    def execute_then_confirm(ws: Any, run_id: str, **kwargs: Any) -> Any:
        """The real pass; at its end, still executing, an approver confirms."""
        result = real(ws, run_id, **kwargs)
        if not answers:
            assert pool.is_active(run_id)
            assert state(rig, run_id, "mail").waiting_for == "confirmation"
            answers.append(life.confirm(run_id, "mail", "carla"))
        return result

    monkeypatch.setattr(workers, "execute_run", execute_then_confirm)
    try:
        life.create(document("busy", activities=[
            {"id": "all", "type": "build_audience"}, mail("mail", ["all"]),
            {"id": "also", "type": "end", "inputs": ["all"]}]), "ana")
        life.publish("busy", "ana")
        assert pool.wait_idle(timeout=60)  # the pass the confirmation asked for included
    finally:
        pool.shutdown()
    (run,) = rig.h.ws.control.list_runs("busy")
    assert len(answers) == 1  # answered, not refused
    assert rig.h.ws.control.get_run(run.id).status.value == "done"
    assert state(rig, run.id, "mail").confirmed_by == "carla"
    assert outbox_count(rig) == len(EMAILABLE)


def test_a_confirmation_of_an_idle_run_resumes_it_at_once(rig: Rig) -> None:
    pool, life = pool_lifecycle(rig)
    try:
        life.create(document("idle", activities=[
            {"id": "all", "type": "build_audience"}, mail("mail", ["all"])]), "ana")
        life.publish("idle", "ana")
        assert pool.wait_idle(timeout=60)
        (run,) = rig.h.ws.control.list_runs("idle")
        assert rig.h.ws.control.get_run(run.id).status.value == "waiting"
        life.confirm(run.id, "mail", "carla")
        assert pool.wait_idle(timeout=60)
    finally:
        pool.shutdown()
    assert rig.h.ws.control.get_run(run.id).status.value == "done"
    assert outbox_count(rig) == len(EMAILABLE)
