"""SIGTERM while a live run sends: the server finishes and records the messages in
flight, exits cleanly, and after a restart the run goes on; everyone gets exactly one
message and the provider refuses no repeat (nothing was sent twice)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from overture.channels.identity import message_id
from support.http_provider import FakeProvider
from support.retail import customers, retail_workspace
from support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("server-kill")]

CUSTOMERS = 2_000
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{5,19}$")  # docs/decisions.md's phone check
DOCUMENT = {"name": "flash", "target": "customers", "activities": [
    {"id": "everyone", "type": "build_audience"},
    {"id": "text", "type": "sms", "inputs": ["everyone"], "confirm": False,
     "body": "Hi {{ first_name }}, flash sale today"}]}


def workspace(tmp_path: Path, fake: FakeProvider) -> tuple[Path, set[str]]:
    root = retail_workspace(tmp_path / "ws", CUSTOMERS, config=f"""
[channels]
sms = "twilio"

[providers.twilio]
type = "twilio"
base_url = "{fake.url}"
account_sid = "AC0123"
from = "+15550000000"
auth_token_env = "TWILIO_TOKEN"
concurrency = 2
""")
    expected = {str(r["customer_id"]) for r in customers(root)
                if PHONE_RE.match((r["phone"] or "").strip()) and r["sms_optin"] is True}
    assert len(expected) > 500
    return root, expected


def publish_and_start_sending(server: ServerProcess, fake: FakeProvider) -> str:
    """Publish the SMS campaign (its run starts at once); its id, once 100 are out."""
    assert server.call("POST", "/api/campaigns", {"document": DOCUMENT}).status == 201
    assert server.call("POST", "/api/campaigns/flash/publish").status == 200
    (run_id,) = [r["id"] for r in server.call("GET", "/api/runs").body["runs"]]
    server.wait_for(lambda: len(fake.delivered) >= 100, what="sending to start")
    return str(run_id)


def test_sigterm_mid_send_loses_and_repeats_nothing(tmp_path: Path) -> None:
    fake = FakeProvider(delay=0.01)
    with fake:
        root, expected = workspace(tmp_path, fake)
        server = ServerProcess(root, env={"TWILIO_TOKEN": "tw-secret"}).start()
        try:
            run_id = publish_and_start_sending(server, fake)
            assert server.stop() == 0  # SIGTERM, mid-send
            before = len(fake.delivered)
            assert 100 <= before < len(expected), "the shutdown did not stop the sending"
            server.start()  # recovers the interrupted run
            done = server.wait_for(
                lambda: (s := server.run_status(run_id))["status"] == "done" and s,
                timeout=120, what="the recovered run to finish")
            assert done["activities"]["text"]["ports"] == {"out": len(expected)}
            log = [e["message"] for e in
                   server.call("GET", f"/api/runs/{run_id}/log").body["log"]]
            assert any("interrupted" in m for m in log)
            assert any("recovered at server start" in m for m in log)
            assert server.stop() == 0
        finally:
            if server.process is not None and server.process.poll() is None:
                server.kill()
        keys = fake.delivered_keys()
        assert len(keys) == len(set(keys))
        assert fake.stats()["duplicates_refused"] == 0
        assert set(keys) == {str(message_id(run_id, "text", key)) for key in expected}


def test_pause_mid_send_then_resume_sends_the_rest_once(tmp_path: Path) -> None:
    fake = FakeProvider(delay=0.01)
    with fake:
        root, expected = workspace(tmp_path, fake)
        server = ServerProcess(root, env={"TWILIO_TOKEN": "tw-secret"}).start()
        try:
            run_id = publish_and_start_sending(server, fake)
            assert server.call("POST", f"/api/runs/{run_id}/pause").status == 200
            paused = server.wait_for(
                lambda: (s := server.run_status(run_id))["status"] == "paused" and s,
                what="the run to pause")
            assert paused["activities"]["text"]["status"] == "waiting"
            assert paused["activities"]["text"]["waiting_for"] == "interrupted"
            held = len(fake.delivered)
            assert held < len(expected)
            assert server.run_status(run_id)["status"] == "paused"
            assert len(fake.delivered) == held  # nothing goes out while paused
            assert server.call("POST", f"/api/runs/{run_id}/resume").status == 200
            done = server.wait_for(
                lambda: (s := server.run_status(run_id))["status"] == "done" and s,
                timeout=120, what="the resumed run to finish")
            assert done["activities"]["text"]["ports"] == {"out": len(expected)}
            assert server.stop() == 0
        finally:
            if server.process is not None and server.process.poll() is None:
                server.kill()
        keys = fake.delivered_keys()
        assert len(keys) == len(set(keys)) == len(expected)
        assert fake.stats()["duplicates_refused"] == 0
