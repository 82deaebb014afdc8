"""Several `overture worker` processes on one PostgreSQL control plane (issue 7).

Three workers send a 20,000-profile SMS campaign through a real HTTP provider (the fake
of tests/support, which honours idempotency keys like a real one); the worker executing
the run is killed with SIGKILL mid-send. Workers are named (OVERTURE_WORKER_NAME) as on
separate machines, so the dead worker's leases must lapse before anyone takes over: the
path a crashed machine takes. Expectations come from the generated data with the test's
own code, never from what the engine reports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.kit import OVERTURE
from overture.channels.identity import message_id
from overture.data import messages
from overture.data.loading import load_into_workspace
from overture.data.workspace import Workspace
from overture.store.repository import ControlStore
from support.http_provider import FakeProvider
from support.retail import EXAMPLES, generator

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("worker_processes")]

CUSTOMERS = 20_000
LEASE = 3
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{5,19}$")
TEXTS = """\
name: texts
target: customers
activities:
  - {id: everyone, type: build_audience}
  - {id: text, type: sms, inputs: [everyone], body: "Hi {{ first_name }}, the sale is on"}
"""
#: a slower send for the rate test: few profiles, an activity throttle
PACED = """\
name: paced
target: customers
activities:
  - id: few
    type: build_audience
    rule: {field: customer_id, op: lte, value: 2000}
  - {id: text, type: sms, inputs: [few], throttle: 100, body: "Hi {{ first_name }}"}
"""


@pytest.fixture(scope="module")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("worker_data")
    generator().generate(out, CUSTOMERS)
    return out


@pytest.fixture(scope="module")
def wanted(data_files: Path) -> dict[int, str]:
    """customer_id -> phone of every customer an SMS may go to (opted in, valid phone)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(data_files / "customers.parquet").to_pylist()
    return {r["customer_id"]: r["phone"].strip() for r in rows
            if r["phone"] and PHONE_RE.match(r["phone"].strip()) and r["sms_optin"] is True}


def shared_workspace(root: Path, data_files: Path, data_url: str, control_url: str,
                     provider_url: str, extra: str = "") -> Path:
    """The sample schema and data on PostgreSQL planes that every process can open."""
    Workspace.init(root)
    config = root / "overture.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace('url = "duckdb:///.overture/data.duckdb"', f'url = "{data_url}"')
    text = text.replace('url = "sqlite:///.overture/control.db"', f'url = "{control_url}"')
    config.write_text(text + f"""
[channels]
sms = "gateway"

[providers.gateway]
type = "http"
url = "{provider_url}/send"
concurrency = 4

[delivery]
batch_size = 250
retry_base = 0.01
retry_max = 0.05

[workers]
lease_seconds = {LEASE}
{extra}""", encoding="utf-8")
    shutil.copyfile(EXAMPLES / "schema.yaml", root / "schema.yaml")
    (root / "campaigns" / "texts.yaml").write_text(TEXTS, encoding="utf-8")
    (root / "campaigns" / "paced.yaml").write_text(PACED, encoding="utf-8")
    for name in ("first", "second"):
        (root / "campaigns" / f"{name}.yaml").write_text(
            PACED.replace("name: paced", f"name: {name}"), encoding="utf-8")
    ws = Workspace.open(root)
    try:
        keys = generator().KEYS
        for table in ("stores", "products", "customers", "purchases"):
            load_into_workspace(ws, table, data_files / f"{table}.parquet", key=keys[table])
    finally:
        ws.close()
    return root


@contextmanager
def workers(root: Path, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` worker processes named w1, w2, … as if each ran on its own machine."""
    procs = []
    for number in range(1, count + 1):
        log = (root / ".overture" / f"worker-{number}.log").open("wb")
        env = {**os.environ, "OVERTURE_WORKER_NAME": f"w{number}"}
        procs.append(subprocess.Popen([str(OVERTURE), "-w", str(root), "worker", "--poll",
                                       "0.1"], stdout=log, stderr=subprocess.STDOUT, env=env))
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def detach(root: Path, campaign: str, mode: str = "--live") -> str:
    done = subprocess.run([str(OVERTURE), "-w", str(root), "run",
                           str(root / "campaigns" / f"{campaign}.yaml"), mode, "--detach",
                           "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return str(json.loads(done.stdout)["run"])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
    """Poll a condition (a safety deadline on a loaded machine, not a race)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def worker_logs(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:]
                     for p in sorted((root / ".overture").glob("worker-*.log")))


@pytest.fixture
def planes(postgres_urls: Callable[[], str]) -> tuple[str, str]:
    return postgres_urls(), postgres_urls()


def test_three_workers_send_20000_once_each_while_one_is_killed(
        tmp_path: Path, data_files: Path, wanted: dict[int, str],
        planes: tuple[str, str]) -> None:
    with FakeProvider() as fake:
        root = shared_workspace(tmp_path / "ws", data_files, *planes, fake.url)
        control = ControlStore(planes[1])
        try:
            with workers(root, 3) as procs:
                run_id = detach(root, "texts")
                wait_for(lambda: len(fake.delivered) >= len(wanted) // 4,
                         "a quarter of the messages")
                owner = control.get_run(run_id).lease_owner
                with control._engine.connect() as conn:  # who has sent so far
                    senders = {row[0] for row in conn.exec_driver_sql(
                        "SELECT DISTINCT owner FROM send_batches WHERE owner IS NOT NULL")}
                assert owner is not None, "the run has no worker while it sends"
                victim = next(p for p in procs if p.pid == int(owner.split(":")[1]))
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=30)
                at_kill = len(fake.delivered)
                wait_for(lambda: control.get_run(run_id).status.value in
                         ("done", "failed", "paused", "stopped"), "the run to end")
                run = control.get_run(run_id)
                log = [entry.message for entry in control.logs(run_id)]
                survivors = [p for p in procs if p is not victim]
                assert all(p.poll() is None for p in survivors), worker_logs(root)
        finally:
            control.close()
        delivered = list(fake.delivered)
        refused = fake.duplicates_refused
    assert run.status.value == "done", (run.error, log[-10:], worker_logs(root))
    assert at_kill < len(wanted), "the worker was killed after the send had ended"
    assert len(senders) >= 2, f"the batches were not shared: {senders}"
    # the dead worker's run was taken over once its lease lapsed, by another worker
    takeover = [line for line in log if "taken over by worker" in line]
    assert len(takeover) == 1 and owner in takeover[0], log[-20:]
    # every profile exactly one message: the provider's deliveries, by idempotency key
    keys = [item.key for item in delivered]
    assert len(keys) == len(set(keys)), "a profile received the same message twice"
    assert set(keys) == {str(message_id(run_id, "text", k)) for k in wanted}
    assert sorted(item.message["to"] for item in delivered) == sorted(wanted.values())
    # what the dead worker had sent but not recorded was sent again under the same id,
    # and refused by the provider: at most the batch it held and its 4 x 4 in flight
    assert refused <= 2 * (250 + 16)
    # the message log agrees: one `sent` row per profile, nothing pending
    ws = Workspace.open(root)
    try:
        log_rows = messages.of_activity(ws.data, run_id, "text")
        assert log_rows is not None
        counts = {r["status"]: r["n"] for r in log_rows.group_by("status")
                  .aggregate(n=log_rows.count()).to_pyarrow().to_pylist()}
        sent = log_rows.filter(log_rows.status == "sent")
        sent_keys = sent.profile_key.to_pyarrow().to_pylist()
    finally:
        ws.close()
    assert counts.get("sent") == len(wanted) and "pending" not in counts, counts
    assert sorted(sent_keys) == sorted(str(k) for k in wanted)


def test_an_activity_throttle_holds_across_workers(
        tmp_path: Path, data_files: Path, wanted: dict[int, str],
        planes: tuple[str, str]) -> None:
    """100 messages a second in all, whatever the number of workers sending: two workers
    with their own limiters would send about twice as fast."""
    expected = {k: v for k, v in wanted.items() if k <= 2000}
    with FakeProvider() as fake:
        root = shared_workspace(tmp_path / "ws", data_files, *planes, fake.url)
        control = ControlStore(planes[1])
        try:
            with workers(root, 2):
                run_id = detach(root, "paced")
                owners: set[str] = set()

                def ended() -> bool:  # and who holds batches meanwhile
                    with control._engine.connect() as conn:
                        owners.update(row[0] for row in conn.exec_driver_sql(
                            "SELECT owner FROM send_batches WHERE status = 'claimed'"))
                    return control.get_run(run_id).status.value in (
                        "done", "failed", "paused", "stopped")

                wait_for(ended, "the run to end")
                run = control.get_run(run_id)
        finally:
            control.close()
        arrivals = sorted(item.received_at for item in fake.delivered)
    assert run.status.value == "done", (run.error, worker_logs(root))
    assert {owner.split(":")[0] for owner in owners} == {"w1", "w2"}, owners
    assert len(arrivals) == len(expected)
    # slots are reserved from the database's clock: a burst of one second's worth (100),
    # then 100 a second, whoever sends. A message never goes before its slot, so by any
    # instant t at most 100 + 100 x (t - first) have arrived (plus a block of 10 per
    # worker reserved ahead); two limiters of their own would allow twice as many.
    assert len(expected) > 400
    first = arrivals[0]
    for count, moment in enumerate(arrivals, start=1):
        allowed = 100 + 100 * (moment - first) + 20
        assert count <= allowed, f"{count} messages {moment - first:.2f} s after the first"
    assert arrivals[-1] - first >= (len(expected) - 120) / 100


def test_a_worker_refuses_planes_other_processes_cannot_share(
        tmp_path: Path, postgres_url: str) -> None:
    from engine.kit import cli

    Workspace.init(tmp_path / "ws")
    embedded = cli(tmp_path / "ws", "worker")
    assert embedded.returncode == 1 and "Traceback" not in embedded.stderr
    assert "needs a PostgreSQL control plane" in embedded.stderr
    config = tmp_path / "ws" / "overture.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'url = "sqlite:///.overture/control.db"', f'url = "{postgres_url}"'), encoding="utf-8")
    duck = cli(tmp_path / "ws", "worker")
    assert duck.returncode == 1 and "DuckDB allows one process per file" in duck.stderr
