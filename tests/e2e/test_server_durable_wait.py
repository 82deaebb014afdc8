"""A live campaign with a two-day wait survives `kill -9` of its server: the restarted
server wakes it at the wake-up time stored before the wait, and it sends once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.kit import Harness
from overture.channels.outbox import OutboxReader, outbox_directory
from support.server import ServerProcess

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
WAKE = T0 + timedelta(days=2)
EMAILABLE = 6  # customers of ROWS with a valid address and consent
DOCUMENT = {
    "name": "follow-up", "timezone": "Europe/Paris",
    "activities": [
        {"id": "all", "type": "build_audience"},
        {"id": "two_days", "type": "wait", "inputs": ["all"], "duration": "2 days"},
        {"id": "mail", "type": "email", "inputs": ["two_days"], "confirm": False,
         "from": "Shop <news@shop.example>", "subject": "Hi {{ first_name }}",
         "html": "<p>Hello {{ first_name }}</p>"},
    ],
}

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("server-kill")]


def outbox(root: Path) -> list[str]:
    reader = OutboxReader(outbox_directory(root / ".overture"))
    return [e.summary_json()["message_id"] for e in reader.messages(channel="email")]


def test_a_two_day_wait_survives_kill_9_and_sends_once(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    root = harness.ws.root
    harness.close()  # the server holds the workspace from now on
    server = ServerProcess(root, clock_at=T0).start()
    try:
        assert server.call("POST", "/api/campaigns", {"document": DOCUMENT}).status == 201
        published = server.call("POST", "/api/campaigns/follow-up/publish")
        assert published.status == 200, published.body
        runs = server.call("GET", "/api/runs?campaign=follow-up").body["runs"]
        (run_id,) = [r["id"] for r in runs]
        waiting = server.wait_for(
            lambda: (s := server.run_status(run_id))["status"] == "waiting" and s,
            what="the run to wait")
        wait = waiting["activities"]["two_days"]
        assert (wait["status"], wait["waiting_for"]) == ("waiting", "timer")
        assert datetime.fromisoformat(wait["wake_at"]) == WAKE
        assert waiting["activities"]["mail"]["status"] == "pending"

        server.kill()  # during the wait
        server.clock.set(T0 + timedelta(days=1))
        server.start()
        after_restart = server.run_status(run_id)
        assert after_restart["status"] == "waiting"
        assert datetime.fromisoformat(after_restart["activities"]["two_days"]["wake_at"]) \
            == WAKE  # the stored time, not a new two days from the restart
        assert outbox(root) == []

        server.clock.set(WAKE - timedelta(seconds=1))
        tasks = server.call("GET", "/api/tasks").body["tasks"]
        assert [(t["run"], t["activity"], t["kind"]) for t in tasks] == \
            [(run_id, "two_days", "timer")]
        server.clock.set(WAKE + timedelta(minutes=1))
        done = server.wait_for(
            lambda: (s := server.run_status(run_id))["status"] == "done" and s,
            what="the run to finish after the wake-up time")
        assert done["activities"]["mail"]["ports"] == {"out": EMAILABLE}
        states = {a["activity_id"]: a for a in
                  server.call("GET", f"/api/runs/{run_id}/activities").body["activities"]}
        assert datetime.fromisoformat(states["two_days"]["clock"]) == WAKE
        sent = outbox(root)
        assert len(sent) == EMAILABLE == len(set(sent))
        campaign = server.call("GET", "/api/campaigns/follow-up").body
        assert campaign["status"] == "completed"
        assert server.stop() == 0  # SIGTERM: a clean shutdown
        assert not (root / ".overture" / "server.json").exists()
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()
