"""Claims and leases on runs and send batches, on SQLite and PostgreSQL control planes.

Two `Claims` with different owners stand for two workers; owners named like another
machine (`far:…`) are never taken for dead local processes, so only their lease lapsing
frees their rows.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from overture.store.claims import Claims
from overture.store.repository import ControlStore


@pytest.fixture
def store(control_url: str) -> Iterator[ControlStore]:
    store = ControlStore(control_url)
    yield store
    store.close()


def worker(store: ControlStore, name: str, lease: float = 30.0) -> Claims:
    return Claims(store._engine, store._writer, owner=f"far:{name}:0", lease=lease)


def new_run(store: ControlStore, run_id: str, status: str = "pending") -> None:
    store.create_run(run_id=run_id, campaign="c", mode="live", document={}, variables={},
                     clock=datetime.now(UTC), status=status)


def wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_pending_run_is_claimed_by_one_worker_only(store: ControlStore) -> None:
    new_run(store, "r1")
    first, second = worker(store, "a"), worker(store, "b")
    claim = first.claim_run()
    assert claim is not None and claim.run_id == "r1" and claim.taken_from is None
    assert second.claim_run() is None
    assert second.take_run("r1") == first.owner  # busy: says who has it
    assert first.take_run("r1") is None  # its own lease: fine


def test_a_lapsed_run_lease_is_taken_over_and_says_from_whom(store: ControlStore) -> None:
    new_run(store, "r1", status="running")
    dying, rescuer = worker(store, "dying", lease=0.3), worker(store, "rescuer")
    assert dying.claim_run() is not None
    taken: list[object] = []
    wait_until(lambda: taken.append(rescuer.claim_run()) or taken[-1] is not None)
    claim = taken[-1]
    assert claim.run_id == "r1" and claim.taken_from == dying.owner  # type: ignore[attr-defined]
    assert store.get_run("r1").lease_owner == rescuer.owner


def test_a_heartbeat_extends_every_lease_held(store: ControlStore) -> None:
    new_run(store, "r1", status="running")
    alive = worker(store, "alive")
    assert alive.claim_run() is not None
    alive.create_batches("r1", "text", total=10, size=10)
    batch = alive.claim_batch()
    assert batch is not None
    until = store.get_run("r1").lease_until
    assert until is not None
    alive.heartbeat()
    extended = store.get_run("r1").lease_until
    assert extended is not None and extended > until
    with store._engine.connect() as conn:
        [batch_until] = conn.exec_driver_sql("SELECT lease_until FROM send_batches").one()
    assert batch_until is not None


def test_a_dead_local_process_loses_its_lease_at_once(store: ControlStore) -> None:
    """A lease named after this host and a pid that no longer runs lapses at the next
    claim: a resumed run does not wait for its killed predecessor's lease."""
    import socket

    new_run(store, "r1", status="running")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dead = Claims(store._engine, store._writer, owner=f"{socket.gethostname()}:{gone}:ab")
    assert dead.claim_run() is not None
    live = Claims(store._engine, store._writer)  # this process
    claim = live.claim_run()
    assert claim is not None and claim.taken_from == dead.owner


def test_batches_are_shared_out_without_doubling_up(store: ControlStore) -> None:
    new_run(store, "r1", status="running")
    claims = [worker(store, name) for name in ("a", "b", "c")]
    assert claims[0].create_batches("r1", "text", total=1000, size=64) == 16
    taken: list[tuple[str, int]] = []
    lock = threading.Lock()

    def take(claim: Claims) -> None:
        while (batch := claim.claim_batch()) is not None:
            with lock:
                taken.append((claim.owner, batch.batch))
            assert batch.seq_to - batch.seq_from == min(64, 1000 - 64 * batch.batch)
            assert claim.finish_batch(batch, sent=batch.seq_to - batch.seq_from, failed=0,
                                      retried=0)

    threads = [threading.Thread(target=take, args=(c,)) for c in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(number for _, number in taken) == list(range(16))
    state = claims[0].batch_state("r1", "text")
    assert (state.done, state.unfinished, state.sent) == (16, 0, 1000)


def test_a_batch_of_a_dead_worker_is_claimed_again_and_its_late_end_refused(
        store: ControlStore) -> None:
    new_run(store, "r1", status="running")
    slow, quick = worker(store, "slow", lease=0.3), worker(store, "quick")
    slow.create_batches("r1", "text", total=10, size=10)
    held = slow.claim_batch()
    assert held is not None and held.attempts == 1
    got: list[object] = []
    wait_until(lambda: got.append(quick.claim_batch()) or got[-1] is not None)
    again = got[-1]
    assert again.attempts == 2 and again.taken_from == slow.owner  # type: ignore[attr-defined]
    # the first worker wakes up: its result is not recorded over the new owner's
    assert not slow.finish_batch(held, sent=10, failed=0, retried=0)
    assert quick.finish_batch(again, sent=10, failed=0, retried=0)  # type: ignore[arg-type]
    assert quick.batch_state("r1", "text").sent == 10


def test_no_batch_is_claimed_of_a_paused_run_or_after_a_stop_for_errors(
        store: ControlStore) -> None:
    new_run(store, "r1", status="running")
    one = worker(store, "one")
    one.create_batches("r1", "text", total=30, size=10)
    first = one.claim_batch()
    assert first is not None
    assert one.finish_batch(first, sent=5, failed=5, retried=0, status="stopped")
    assert one.claim_batch() is None  # sending paused for errors
    one.reopen("r1", "text")  # the run resumed
    resumed = one.claim_batch()
    assert resumed is not None and resumed.failed_before == 0
    store.update_run("r1", status="paused")
    assert one.claim_batch() is None


def test_shared_rate_slots_are_spaced_for_every_worker(store: ControlStore) -> None:
    """One message every 10 s, whoever asks: each reservation comes 10 s after the
    previous one (less the time the test itself took between asking)."""
    a, b = worker(store, "a"), worker(store, "b")
    first, interval = a.reserve_slots("provider:x", rate=0.1, count=1)
    assert interval == pytest.approx(10.0)
    assert first <= 0  # an idle limit: the first slot is now
    wait_b, _ = b.reserve_slots("provider:x", rate=0.1, count=1)
    wait_a, _ = a.reserve_slots("provider:x", rate=0.1, count=1)
    assert 8 < wait_b <= 10
    assert 18 < wait_a <= 20
    assert wait_a - wait_b == pytest.approx(10, abs=2)


def test_a_worker_knows_when_its_batch_was_taken_over(store: ControlStore) -> None:
    new_run(store, "r1", status="running")
    stalled, other = worker(store, "stalled", lease=0.3), worker(store, "other")
    stalled.create_batches("r1", "text", total=10, size=10)
    held = stalled.claim_batch()
    assert held is not None and stalled.holds(held)
    got: list[object] = []
    wait_until(lambda: got.append(other.claim_batch()) or got[-1] is not None)
    assert not stalled.holds(held)  # its results are left to the new owner
    assert other.holds(got[-1])  # type: ignore[arg-type]
