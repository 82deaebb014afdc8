"""kill -9 the sending process at random points, then `overture run --resume`.

Ten trials through each kind of provider, each killed after a random number of
deliveries (seeded, so a failure can be replayed): no intended recipient is lost;
through the HTTP provider (which honours idempotency keys) nobody receives a message
twice; through SMTP the only repeats are the messages sent but not yet recorded when
the process died, at most `batch_size` + 4 x `concurrency` (the README says so).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.kit import OVERTURE
from overture.channels.identity import message_id
from overture.store.repository import ControlStore
from support.http_provider import FakeProvider
from support.retail import customers, emailable, retail_workspace
from support.smtp import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults_send")]

TRIALS = 10
CUSTOMERS = 1_200
BATCH, CONCURRENCY = 20, 2
IN_FLIGHT = BATCH + 4 * CONCURRENCY
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{5,19}$")

SMS_CAMPAIGN = """\
name: texts
target: customers
activities:
  - {id: everyone, type: build_audience}
  - {id: text, type: sms, inputs: [everyone], body: "Hi {{ first_name }}, the sale is on"}
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = retail_workspace(tmp_path_factory.mktemp("kill") / "base", CUSTOMERS)
    (root / "campaigns" / "texts.yaml").write_text(SMS_CAMPAIGN, encoding="utf-8")
    return root


def trial_workspace(base: Path, target: Path, config: str) -> Path:
    shutil.copytree(base, target)
    with open(target / "overture.toml", "a", encoding="utf-8") as handle:
        handle.write("\n" + config + f"\n[delivery]\nbatch_size = {BATCH}\n"
                     "retry_base = 0.01\nretry_max = 0.05\n")
    return target


def kill_then_resume(root: Path, campaign: str, delivered: Callable[[], int],
                     threshold: int) -> tuple[str, list[str]]:
    """Start a live run, SIGKILL it once `delivered()` reaches `threshold`, resume it."""
    process = subprocess.Popen(
        [str(OVERTURE), "-w", str(root), "run", str(root / "campaigns" / f"{campaign}.yaml"),
         "--live", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "OVERTURE_FAULT"})
    deadline = time.monotonic() + 300  # a safety net on a loaded machine, not a race
    while delivered() < threshold:
        assert process.poll() is None, "the run ended before it could be killed: " \
                                       + process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    control = ControlStore(f"sqlite:///{root / '.overture' / 'control.db'}")
    try:
        [run] = control.list_runs(campaign)
    finally:
        control.close()
    resumed = subprocess.run([str(OVERTURE), "-w", str(root), "run", "--resume", run.id,
                              "--json"], capture_output=True, text=True, timeout=300,
                             check=False)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    return run.id, [resumed.stdout]


@pytest.mark.parametrize("trial", range(TRIALS))
def test_kill_9_mid_send_through_http_loses_nothing_and_repeats_nothing(
        base: Path, tmp_path: Path, trial: int) -> None:
    rows = customers(base)
    wanted = {r["customer_id"]: r["phone"].strip() for r in rows
              if r["phone"] and PHONE_RE.match(r["phone"].strip()) and r["sms_optin"] is True}
    threshold = random.Random(trial).randint(1, len(wanted) - 1)
    with FakeProvider() as fake:
        root = trial_workspace(base, tmp_path / "ws", f"""
[channels]
sms = "gateway"
[providers.gateway]
type = "http"
url = "{fake.url}/send"
concurrency = {CONCURRENCY}
""")
        run, _ = kill_then_resume(root, "texts", lambda: len(fake.delivered), threshold)
        delivered = list(fake.delivered)
        refused = fake.duplicates_refused
    keys = [r.key for r in delivered]
    assert len(keys) == len(set(keys)), "a profile received the same message twice"
    assert set(keys) == {str(message_id(run, "text", k)) for k in wanted}  # nobody lost
    # what the resumed run sent again (sent before the kill, not yet recorded) was
    # refused by the provider's idempotency check, and bounded like SMTP's repeats
    assert refused <= IN_FLIGHT


@pytest.mark.parametrize("trial", range(TRIALS))
def test_kill_9_mid_send_through_smtp_loses_nothing(base: Path, tmp_path: Path,
                                                    trial: int) -> None:
    wanted = emailable(customers(base))
    threshold = random.Random(100 + trial).randint(1, len(wanted) - 1)
    with SmtpServer() as server:
        root = trial_workspace(base, tmp_path / "ws", f"""
[channels]
email = "mail"
[providers.mail]
type = "smtp"
host = "127.0.0.1"
port = {server.port}
security = "none"
concurrency = {CONCURRENCY}
""")
        run, _ = kill_then_resume(root, "newsletter", lambda: server.count, threshold)
        received: list[Any] = list(server.received)
    ids = Counter()
    for item in received:
        head = item.raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
        found = re.search(r"^Message-ID: <([^@>]+)@", head, re.MULTILINE | re.IGNORECASE)
        assert found
        ids[found.group(1)] += 1
    assert set(ids) == {str(message_id(run, "newsletter", k)) for k in wanted}  # nobody lost
    repeats = sum(n - 1 for n in ids.values())
    assert repeats <= IN_FLIGHT, f"{repeats} repeats, more than the {IN_FLIGHT} in flight"
