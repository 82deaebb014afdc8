"""A write that returned survives SIGKILL; a killed writer leaves nothing locked or half-written."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import insert

from overture.store.repository import RUN_LOG, ControlStore

WRITE_THEN_DIE = """
import os, signal, sys
from datetime import UTC, datetime
from overture.store.repository import ControlStore

store = ControlStore(sys.argv[1])
now = datetime.now(UTC)
store.create_run(run_id="killed", campaign="c", mode="live", document={}, variables={}, clock=now)
store.upsert_activity_run("killed", "mail", status="running", started_at=now)
store.upsert_activity_run("killed", "mail", status="done", ports={"out": 7})
store.log("killed", "last words")
print("written", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

DIE_MID_WRITE = """
import os, signal, sys
from datetime import UTC, datetime
from sqlalchemy import insert, update
from overture.store.repository import RUN_LOG, RUNS, ControlStore

store = ControlStore(sys.argv[1])
conn = store._writer.connect()
conn.begin()  # holds SQLite's write lock and, below, PostgreSQL's lock on the run's row
conn.execute(update(RUNS).where(RUNS.c.id == "run1").values(error="uncommitted"))
conn.execute(insert(RUN_LOG).values(run_id="run1", at=datetime.now(UTC), level="info",
                                    message="uncommitted"))
print("holding", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _run_child(script: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, url], capture_output=True, text=True, timeout=120
    )


def test_writes_returned_before_sigkill_are_kept(control_url: str):
    child = _run_child(WRITE_THEN_DIE, control_url)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout == "written\n"
    store = ControlStore(control_url)
    try:
        assert store.get_run("killed").mode == "live"
        activity = store.activity_runs("killed")["mail"]
        assert (activity.status, activity.ports) == ("done", {"out": 7})
        assert activity.started_at is not None
        assert [entry.message for entry in store.logs("killed")] == ["last words"]
    finally:
        store.close()


def test_writer_killed_mid_transaction_leaves_no_lock_and_no_write(control_url: str):
    store = ControlStore(control_url)
    try:
        store.create_run(run_id="run1", campaign="c", mode="test", document={}, variables={},
                         clock=datetime.now(UTC))  # fmt: skip
        child = _run_child(DIE_MID_WRITE, control_url)
        assert child.returncode == -signal.SIGKILL, child.stderr
        assert child.stdout == "holding\n"
        with store._writer.begin() as conn:  # would wait out the busy timeout if still locked
            conn.execute(insert(RUN_LOG).values(run_id="run1", at=datetime.now(UTC),
                                                level="info", message="after"))  # fmt: skip
        store.update_run("run1", status="waiting")  # would wait for the row lock if still held
        assert [entry.message for entry in store.logs("run1")] == ["after"]
        run = store.get_run("run1")
        assert (run.status, run.error) == ("waiting", None)
    finally:
        store.close()
