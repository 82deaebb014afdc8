"""Live channel activities in the engine: the message log, resumes, retries, pauses, caps.

Messages go to the outbox or to `recorder`, a provider registered here that keeps what
it is given and fails as told. Expectations come from ROWS by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from engine.kit import BY_ID, Harness
from overture.channels.identity import message_id
from overture.channels.outbox import OutboxReader, outbox_directory
from overture.channels.providers import (
    OutgoingMessage,
    ProviderSettings,
    SendResult,
    register,
)
from overture.data import messages

#: valid address and consent, by hand from ROWS (3 and 7 lack consent; 4, 10 have no
#: address; 6 and 9 have invalid ones)
EMAILABLE = {1, 2, 5, 8, 11, 12}
PARIS = {1, 5, 12}  # of EMAILABLE, those in Europe/Paris (country FR); the rest are UTC

MAIL = """
- {id: all, type: build_audience}
- {id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "Hi {{ first_name }}", html: "<p>Hello {{ first_name }}</p>"%s}
- {id: next, type: split, inputs: [mail], subsets: [{id: all}]}
"""


@register("live-recorder")
class Recorder:
    """Remembers every message; fails permanently for `fail_to`, transiently `flaky`
    times per message first."""

    channels = frozenset({"email", "sms", "push"})
    rate = None
    sent: ClassVar[dict[str, list[OutgoingMessage]]] = {}
    attempts: ClassVar[dict[str, int]] = {}

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        self.name = name
        self.fail_to = set(settings.get("fail_to", []))
        self.flaky = int(settings.get("flaky", 0))
        self.concurrency = int(settings.get("concurrency", 2))
        self.log = Recorder.sent.setdefault(str(settings.get("log", name)), [])
        self.lock = threading.Lock()

    @classmethod
    def from_config(cls, name: str, settings: ProviderSettings) -> Recorder:
        return cls(name, settings)

    def send(self, message: OutgoingMessage) -> SendResult:
        key = str(message.message_id)
        with self.lock:
            tries = Recorder.attempts[key] = Recorder.attempts.get(key, 0) + 1
        if message.to in self.fail_to:
            return SendResult.failed("550 5.1.1 no such user")
        if tries <= self.flaky:
            return SendResult.failed("421 try again later", transient=True)
        with self.lock:
            self.log.append(message)
        return SendResult.sent(provider_id=f"p-{key[:8]}")

    def close(self) -> None:
        pass


def read_outbox(state_dir: Path, channel: str) -> list[dict[str, Any]]:
    reader = OutboxReader(outbox_directory(state_dir))
    return [e.summary_json() for e in reader.messages(channel=channel)]


def configure(h: Harness, **sections: dict[str, Any]) -> None:
    """Replace sections of the workspace's overture.toml (as the engine reads it)."""
    h.ws.config = {**h.ws.config, **sections}


@pytest.fixture
def h(tmp_path: Path, data_url: str | None) -> Iterator[Harness]:
    """The workspace, its data plane on each backend; the recorder's logs start empty."""
    Recorder.sent.clear()
    harness = Harness(tmp_path, data_url=data_url)
    yield harness
    harness.close()


def log_rows(h: Harness, run: str, activity: str = "mail") -> list[dict[str, Any]]:
    rows = messages.of_activity(h.ws.data, run, activity)
    assert rows is not None
    return rows.order_by("profile_key").to_pyarrow().to_pylist()


def test_a_live_run_sends_once_to_each_recipient_and_logs_everyone(h: Harness) -> None:
    result = h.run(MAIL % "", mode="live")
    entry = result["activities"]["mail"]
    assert result["status"] == "done", result
    assert entry["excluded"] == {"no_address": 2, "invalid_address": 2, "no_consent": 2}
    h.check(result, "mail", "out", EMAILABLE)
    h.check(result, "next", "all", EMAILABLE)  # the profiles sent to pass on
    stored = read_outbox(h.ws.state_dir, "email")
    assert sorted(m["to"] for m in stored) == sorted(BY_ID[i]["email"] for i in EMAILABLE)
    ids = {m["message_id"] for m in stored}
    assert ids == {str(message_id(result["run"], "mail", i)) for i in EMAILABLE}
    rows = log_rows(h, result["run"])
    assert len(rows) == 12  # one row per input profile
    by_key = {int(r["profile_key"]): r for r in rows}
    for key, row in by_key.items():
        assert row["message_id"] == str(message_id(result["run"], "mail", key))
        if key in EMAILABLE:
            assert (row["status"], row["reason"], row["attempts"]) == ("sent", None, 1)
            assert row["sent_at"] is not None and row["provider"] == "outbox"
        else:
            assert row["status"] == "excluded" and row["reason"] is not None
    assert by_key[3]["reason"] == "no_consent" and by_key[4]["reason"] == "no_address"


def test_the_same_campaign_in_test_mode_writes_no_log_and_sends_nothing(h: Harness) -> None:
    result = h.run(MAIL % "")
    assert result["activities"]["mail"]["ports"] == {"out": len(EMAILABLE)}
    assert messages.message_log(h.ws.data) is None
    assert read_outbox(h.ws.state_dir, "email") == []
    samples = [m for m in h.logs(result, "mail") if m.startswith("sample for")]
    assert samples == ["sample for customer_id 1: Hi Ana", "sample for customer_id 2: Hi Ben",
                       "sample for customer_id 5: Hi Eve"]


def test_transient_failures_are_retried_and_the_retries_are_logged(h: Harness) -> None:
    configure(h, channels={"email": "rec"},
              providers={"rec": {"type": "live-recorder", "flaky": 2, "log": "retry"}},
              delivery={"retry_base": 0, "from": "Shop <news@shop.example>"})
    result = h.run(MAIL % "", mode="live")
    assert result["status"] == "done", result
    assert sorted(m.to for m in Recorder.sent["retry"]) == sorted(
        BY_ID[i]["email"] for i in EMAILABLE)
    rows = [r for r in log_rows(h, result["run"]) if r["status"] != "excluded"]
    assert {(r["status"], r["attempts"]) for r in rows} == {("sent", 3)}
    retries = [m for m in h.logs(result, "mail") if m.startswith("retry ")]
    assert len(retries) == 2 * len(EMAILABLE)
    assert all("421 try again later" in m for m in retries)


def test_too_many_failures_pause_the_activity_and_a_resume_sends_the_rest_once(
        h: Harness) -> None:
    bad = {BY_ID[1]["email"], BY_ID[2]["email"]}
    configure(h, channels={"email": "rec"},
              providers={"rec": {"type": "live-recorder", "fail_to": sorted(bad), "log": "pause",
                                 "concurrency": 1}},
              delivery={"max_errors": 2, "batch_size": 1})
    result = h.run(MAIL % "", mode="live")
    assert result["status"] == "paused", result
    assert result["activities"]["mail"]["status"] == "waiting"
    assert "paused after 2 failed messages (max_errors = 2)" in result["error"]
    assert result["activities"]["next"]["status"] == "pending"
    # keys 1 and 2 come first: the pause leaves the others pending, nothing is lost
    statuses = {int(r["profile_key"]): r["status"] for r in log_rows(h, result["run"])}
    assert statuses[1] == statuses[2] == "failed"
    pending = {k for k, s in statuses.items() if s == "pending"}
    sent_before = {k for k, s in statuses.items() if s == "sent"}
    assert pending | sent_before == EMAILABLE - {1, 2} and pending

    configure(h, providers={"rec": {"type": "live-recorder", "log": "pause"}})
    from overture.engine.runner import resume_run
    resumed = resume_run(h.ws, result["run"])
    assert resumed["status"] == "done", resumed
    sent = [m.to for m in Recorder.sent["pause"]]
    assert sorted(sent) == sorted(BY_ID[i]["email"] for i in EMAILABLE - {1, 2})  # once each
    h.check(resumed, "mail", "out", EMAILABLE - {1, 2})
    failed = [r for r in log_rows(h, result["run"]) if r["status"] == "failed"]
    assert {int(r["profile_key"]) for r in failed} == {1, 2}
    assert all(r["error"] == "550 5.1.1 no such user" for r in failed)


def test_a_frequency_cap_counts_live_sends_across_campaigns_but_not_test_runs(
        h: Harness) -> None:
    configure(h, delivery={"frequency_caps": [{"channel": "email", "max": 2, "days": 7}]})
    h.run(MAIL % "", name="first", mode="test")  # test runs never count
    h.run(MAIL % "", name="first", mode="live")
    second = h.run(MAIL % "", name="second", mode="live")
    assert "frequency_cap" not in second["activities"]["mail"]["excluded"]
    third = h.run(MAIL % "", name="third", mode="test")
    excluded = third["activities"]["mail"]["excluded"]
    assert excluded["frequency_cap"] == len(EMAILABLE)
    h.check(third, "mail", "out", set())
    transactional = h.run(MAIL % ", category: transactional", name="receipt", mode="test")
    assert "frequency_cap" not in transactional["activities"]["mail"]["excluded"]
    h.check(transactional, "mail", "out", EMAILABLE)


def test_suppressed_addresses_and_unsubscribed_profiles_are_excluded(h: Harness) -> None:
    from overture.data.suppressions import add_suppressions, record_unsubscribe

    # 1's address in another case and with blanks: the list compares normalised addresses
    add_suppressions(h.ws.data, "email", [" ANA@Example.com", "nobody@example.com"],
                     reason="hard_bounce")
    record_unsubscribe(h.ws.data, "customers", 2, "email")
    record_unsubscribe(h.ws.data, "customers", 5, "sms")  # another channel: no effect
    record_unsubscribe(h.ws.data, "customers", 4, "email")  # no address: counted there
    result = h.run(MAIL % "", mode="live")
    excluded = result["activities"]["mail"]["excluded"]
    assert excluded == {"no_address": 2, "invalid_address": 2, "no_consent": 2,
                        "unsubscribed": 1, "suppressed": 1}
    h.check(result, "mail", "out", EMAILABLE - {1, 2})
    reasons = {int(r["profile_key"]): r["reason"] for r in log_rows(h, result["run"])}
    assert (reasons[1], reasons[2], reasons[4]) == ("suppressed", "unsubscribed", "no_address")
    # 3 shares 1's address but has no consent: the first reason in the spec's order wins
    assert reasons[3] == "no_consent"
    assert [m["to"] for m in read_outbox(h.ws.state_dir, "email")] and all(
        m["to"] not in (BY_ID[1]["email"], BY_ID[2]["email"])
        for m in read_outbox(h.ws.state_dir, "email"))


QUIET = {"start": "21:00", "end": "08:00"}
#: 21:30 in Paris (UTC+1 in March): quiet there, not in UTC
EVENING = datetime.fromisoformat("2027-03-01T20:30:00+00:00")


def test_quiet_hours_exclude_in_each_profiles_time_zone(h: Harness) -> None:
    configure(h, delivery={"quiet_hours": {**QUIET, "action": "exclude"}})
    result = h.run(MAIL % "", clock=EVENING)
    assert result["activities"]["mail"]["excluded"]["quiet_hours"] == len(PARIS)
    h.check(result, "mail", "out", EMAILABLE - PARIS)
    # 07:30 UTC is 08:30 in Paris: now the profiles in UTC are the ones still asleep
    morning = h.run(MAIL % "", clock=datetime.fromisoformat("2027-03-01T07:30:00+00:00"))
    assert morning["activities"]["mail"]["excluded"]["quiet_hours"] == len(EMAILABLE - PARIS)
    h.check(morning, "mail", "out", PARIS)


def test_quiet_hours_defer_until_morning_in_the_profiles_zone(h: Harness) -> None:
    configure(h, delivery={"quiet_hours": {**QUIET, "action": "defer"}})
    result = h.run(MAIL % "", mode="live", clock=EVENING)
    # waiting, not paused: the wake-up time is stored and the scheduler resumes the run
    assert result["status"] == "waiting"
    assert result["activities"]["mail"]["status"] == "waiting"
    assert "3 messages deferred by quiet hours until 2027-03-02 07:00:00" in result["error"]
    state = h.ws.control.activity_runs(result["run"])["mail"]
    assert (state.waiting_for, state.wake_at) == ("deferred", datetime(2027, 3, 2, 7, 0,
                                                                       tzinfo=UTC))
    rows = {int(r["profile_key"]): r for r in log_rows(h, result["run"])}
    assert {k for k, r in rows.items() if r["status"] == "sent"} == EMAILABLE - PARIS
    for key in PARIS:  # 08:00 in Paris is 07:00 UTC
        assert rows[key]["status"] == "pending"
        assert rows[key]["not_before"] == datetime(2027, 3, 2, 7, 0)


def test_transactional_messages_ignore_quiet_hours(h: Harness) -> None:
    configure(h, delivery={"quiet_hours": {**QUIET, "action": "exclude"}})
    result = h.run(MAIL % ", category: transactional", clock=EVENING)
    h.check(result, "mail", "out", EMAILABLE)


def test_the_throttle_window_excludes_what_the_rate_cannot_send_in_time(h: Harness) -> None:
    # 1 message per minute for 4 minutes: the 4 lowest keys are sent, 2 are excluded
    result = h.run(MAIL % ", throttle: 0.0166667, window: 4 minutes")
    entry = result["activities"]["mail"]
    assert entry["excluded"]["throttle_window"] == 2
    h.check(result, "mail", "out", {1, 2, 5, 8})


def test_a_missing_sender_fails_the_activity_with_a_clear_message(h: Harness) -> None:
    result = h.run(MAIL.replace('from: "Shop <news@shop.example>",', "") % "", mode="live")
    # the default error policy (suspend) pauses a live run: fixing the cause and
    # resuming retries the activity
    assert result["status"] == "paused"
    assert result["activities"]["mail"]["status"] == "waiting"
    assert "email needs a sender" in result["activities"]["mail"]["error"]
    assert read_outbox(h.ws.state_dir, "email") == []
