"""Durable execution on a manual clock: stored waits, confirmations, breakpoints, pause,
stop and the error policies, executed for real on the hand-countable workspace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from overture.channels.outbox import OutboxReader, outbox_directory
from overture.store.status import CampaignStatus
from service.conftest import START, Rig, document

#: valid address and consent in ROWS (see tests/channels/test_live_runs.py)
EMAILABLE = {1, 2, 5, 8, 11, 12}
MAIL = {"type": "email", "from": "Shop <news@shop.example>", "subject": "Hi {{ first_name }}",
        "html": "<p>Hello {{ first_name }}</p>"}


def mail(activity_id: str, inputs: list[str], **extra: Any) -> dict[str, Any]:
    return {"id": activity_id, "inputs": inputs, **MAIL, **extra}


def sent_keys(rig: Rig) -> list[str]:
    reader = OutboxReader(outbox_directory(rig.h.ws.state_dir))
    return sorted(e.summary_json()["message_id"] for e in reader.messages(channel="email"))


def outbox_count(rig: Rig) -> int:
    return len(sent_keys(rig))


def state(rig: Rig, run_id: str, activity: str) -> Any:
    return rig.h.ws.control.activity_runs(run_id)[activity]


def test_a_live_wait_stores_its_wake_up_time_and_continues_then(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(document("waits", activities=[
        {"id": "all", "type": "build_audience"},
        {"id": "two_days", "type": "wait", "inputs": ["all"], "duration": "2 days"},
        mail("mail", ["two_days"], confirm=False)]), "ana")
    rig.life.publish("waits", "ana")
    (run_id,) = rig.dispatched
    run = rig.h.ws.control.get_run(run_id)
    assert run.status.value == "waiting"
    wait = state(rig, run_id, "two_days")
    assert (wait.status.value, wait.waiting_for, wait.wake_at) == \
        ("waiting", "timer", START + timedelta(days=2))
    assert outbox_count(rig) == 0
    assert rig.at(START + timedelta(days=1)) == []  # not due: nothing resumes
    assert rig.h.ws.control.next_wakeup() == START + timedelta(days=2)
    assert rig.new_scheduler().tick() == []  # a restarted scheduler finds the same time
    assert rig.at(START + timedelta(days=2)) == [run_id]
    assert rig.h.ws.control.get_run(run_id).status.value == "done"
    assert state(rig, run_id, "two_days").clock == START + timedelta(days=2)
    assert outbox_count(rig) == len(EMAILABLE)
    assert rig.at(START + timedelta(days=3)) == []  # woken once
    assert outbox_count(rig) == len(EMAILABLE)
    assert rig.life.get("waits").status == CampaignStatus.COMPLETED


def test_a_one_shot_live_run_waits_for_an_approver_before_sending(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(document("confirm", activities=[
        {"id": "all", "type": "build_audience"}, mail("mail", ["all"])]), "ana")
    rig.life.publish("confirm", "ana")
    (run_id,) = rig.dispatched
    assert rig.h.ws.control.get_run(run_id).status.value == "waiting"
    assert state(rig, run_id, "mail").waiting_for == "confirmation"
    assert outbox_count(rig) == 0
    assert rig.at(START + timedelta(days=30)) == []  # time alone does not confirm
    rig.life.confirm(run_id, "mail", "carla")
    mail_state = state(rig, run_id, "mail")
    assert (mail_state.status.value, mail_state.confirmed_by) == ("done", "carla")
    assert outbox_count(rig) == len(EMAILABLE)


def test_a_scheduled_recurring_run_sends_without_confirmation(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(document("daily", schedule={"daily": {"at": "09:00"}}, activities=[
        {"id": "all", "type": "build_audience"}, mail("mail", ["all"])]), "ana")
    rig.life.publish("daily", "ana")
    rig.at(START + timedelta(hours=9))
    assert outbox_count(rig) == len(EMAILABLE)


def test_a_breakpoint_stops_the_run_until_someone_continues_it(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(document("bp", activities=[
        {"id": "all", "type": "build_audience"},
        {"id": "split", "type": "split", "inputs": ["all"], "subsets": [{"id": "fr", "rule": {
            "field": "country", "op": "eq", "value": "FR"}}]},
        {"id": "done", "type": "end", "inputs": ["split.fr"]}]), "ana")
    run_id = rig.life.start_test_run("bp", "ana", breakpoints=["split"])
    run = rig.h.ws.control.get_run(run_id)
    assert run.status.value == "waiting"
    assert state(rig, run_id, "all").status.value == "done"
    assert state(rig, run_id, "split").waiting_for == "breakpoint"
    assert "done" not in rig.h.ws.control.activity_runs(run_id)
    rig.life.continue_breakpoint(run_id, "split", "ana")
    assert rig.h.ws.control.get_run(run_id).status.value == "done"
    assert rig.h.ws.control.get_run(run_id).breakpoints == []


def test_pause_and_stop_an_idle_run(rig: Rig) -> None:
    rig.life.create(document("p"), "ana")
    first = rig.life.start_test_run("p", "ana")  # recorded, not executed: idle
    assert rig.life.pause_run(first, "bob").status.value == "paused"
    rig.execute = True
    assert rig.life.resume_run(first, "bob").status.value == "done"
    rig.execute = False
    second = rig.life.start_test_run("p", "ana")
    assert rig.life.stop_run(second, "bob").status.value == "stopped"
    log = [e.message for e in rig.h.ws.control.logs(second)]
    assert "stop asked by bob" in log


def test_a_pause_asked_while_running_is_honoured_at_the_next_activity(rig: Rig) -> None:
    rig.life.create(document("ask", activities=[
        {"id": "all", "type": "build_audience"},
        {"id": "done", "type": "end", "inputs": ["all"]}]), "ana")
    run_id = rig.life.start_test_run("ask", "ana")
    rig.h.ws.control.update_run(run_id, requested="pause")  # as the API does mid-run
    from overture.engine.runner import execute_run

    summary = execute_run(rig.h.ws, run_id)
    assert summary["status"] == "paused"
    assert summary["activities"]["all"]["status"] == "pending"
    summary = execute_run(rig.h.ws, run_id)
    assert summary["status"] == "done"


def _policy_doc(name: str, policy: dict[str, Any]) -> dict[str, Any]:
    broken = {k: v for k, v in mail("broken", ["all"], confirm=False).items() if k != "from"}
    return document(name, schedule={"daily": {"at": "09:00"}}, error_policy=policy,
                    activities=[{"id": "all", "type": "build_audience"}, broken,
                                mail("fine", ["all"], confirm=False)])


def test_error_policy_ignore_goes_on_and_fails_the_campaign_after_n_runs(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(_policy_doc("ign", {"on_error": "ignore", "max_consecutive": 2}), "ana")
    rig.life.publish("ign", "ana")
    (run_id,) = rig.at(START + timedelta(hours=9))
    run = rig.h.ws.control.get_run(run_id)
    assert run.status.value == "done" and "broken" in (run.error or "")
    assert state(rig, run_id, "broken").status.value == "failed"
    assert state(rig, run_id, "fine").status.value == "done"
    assert outbox_count(rig) == len(EMAILABLE)
    assert rig.life.get("ign").status == CampaignStatus.LIVE
    assert rig.life.get("ign").consecutive_errors == 1
    rig.at(START + timedelta(days=1, hours=9))
    assert rig.life.get("ign").status == CampaignStatus.FAILED
    assert rig.at(START + timedelta(days=2, hours=9)) == []  # a failed campaign stops


def test_error_policy_suspend_pauses_and_resuming_retries(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(_policy_doc("sus", {"on_error": "suspend"}), "ana")
    rig.life.publish("sus", "ana")
    (run_id,) = rig.at(START + timedelta(hours=9))
    assert rig.h.ws.control.get_run(run_id).status.value == "paused"
    broken = state(rig, run_id, "broken")
    assert (broken.status.value, broken.waiting_for) == ("waiting", "suspended")
    assert "email needs a sender" in (broken.error or "")
    assert state(rig, run_id, "fine").status.value == "done"  # the other branch went on
    assert rig.life.get("sus").status == CampaignStatus.LIVE


def test_error_policy_abort_fails_the_run_and_the_campaign(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(_policy_doc("abo", {"on_error": "abort"}), "ana")
    rig.life.publish("abo", "ana")
    (run_id,) = rig.at(START + timedelta(hours=9))
    assert rig.h.ws.control.get_run(run_id).status.value == "failed"
    assert rig.life.get("abo").status == CampaignStatus.FAILED


def test_restart_makes_a_new_run_of_the_same_version_and_stops_the_old(rig: Rig) -> None:
    rig.life.create(document("again", schedule={"daily": {"at": "09:00"}}), "ana")
    rig.life.publish("again", "ana")
    (first,) = rig.at(START + timedelta(hours=9))  # recorded, not executed: still active
    second = rig.life.restart_run(first, "bob")
    old, new = (rig.h.ws.control.get_run(r) for r in (first, second))
    assert old.status.value == "stopped"
    assert (new.version, new.trigger, new.started_by, new.mode) == (1, "restart", "bob", "live")
    assert new.document == old.document and new.variables == old.variables


def test_an_end_activity_signals_another_campaign_at_most_once_per_interval(rig: Rig) -> None:
    rig.execute = True
    rig.life.create(document("follow", schedule={"signal": {"min_interval": "1h"}}), "ana")
    rig.life.publish("follow", "ana")
    source = document("source", activities=[
        {"id": "all", "type": "build_audience"},
        {"id": "done", "type": "end", "inputs": ["all"],
         "signal": {"campaign": "follow", "variables": {"origin": "source"}}}])
    rig.life.create(source, "ana")
    rig.life.publish("source", "ana")  # one-shot: runs now, and its end signals
    signalled = [r for r in rig.h.ws.control.list_runs("follow")]
    assert [(r.trigger, r.started_by, r.status.value) for r in signalled] == \
        [("signal", "campaign:source", "pending")]
    rig.at(START)  # the scheduler hands pending runs to the workers
    assert rig.h.ws.control.get_run(signalled[0].id).status.value == "done"
    again = rig.life.restart_run(rig.h.ws.control.list_runs("source")[0].id, "ana")
    log = [e.message for e in rig.h.ws.control.logs(again)]
    assert any("not signalled" in m and "retry in" in m for m in log), log
    assert len(rig.h.ws.control.list_runs("follow")) == 1
