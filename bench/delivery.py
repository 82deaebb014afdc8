"""Delivery benchmark: live sending through the engine against raw client loops.

    python bench/delivery.py [--customers 200000] [--rss-customers 1000000]
                             [--concurrency 4] [--tiny] [--skip-rss]

Everything runs in one go, on the sample retail data of examples/generate.py (kept
between runs under bench/out/, as the targeting benchmark does), each phase on a fresh
copy of the workspace:

  1. engine, email: the sample newsletter (examples/campaigns/newsletter.yaml) sent
     live by `overture run --live --json` in its own process, through the `smtp`
     provider with `concurrency` connections to Postfix's `smtp-sink` (accepts and
     discards; C, so the receiver is not the bottleneck);
  2. raw smtplib: the very messages of (1) (same ids, addresses and MIME bytes, built
     beforehand with the engine's own Composer) sent by `concurrency` threads, each with
     one `smtplib.SMTP` connection and `sendmail`, to a fresh smtp-sink;
  3. engine, SMS: an SMS campaign to every customer through the generic `http`
     provider to the fake provider of tests/support/http_provider.py (its own process);
  4. raw http.client: the same requests (bytes and headers the provider builds) POSTed
     by `concurrency` threads over kept-alive `http.client` connections, to a fresh fake;
  5. peak RSS: the newsletter sent live to --rss-customers profiles (1M by default),
     the peak resident memory of the sending process (its throughput at scale too).

Messages per second of an engine phase are the messages sent over the *sending*
time: from the activity's "plan written" log line to its "sent …" line (building
the queue, rendering, sending, recording results). The process's whole run
(start-up, planning) is shown apart. The receiver's CPU time (from /proc) is shown as
a share of that phase's sending time: near 100% means the receiver was the limit.
Peak RSS is the process's own high-water mark (VmHWM, read as it exits).

Every phase must deliver exactly the recipients computed here with SQL of its own
(valid address and consent), and the receiver must count as many; the benchmark exits
1 when not. It prints a table and the ratios engine / raw loop and writes every
figure to OUT/delivery-YYYY-MM-DD.json. --tiny runs every phase at a few hundred
customers (a few thousand for RSS) in seconds. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import platform
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Self

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLES = ROOT / "examples"
TESTS = ROOT / "tests"
FAKE_HTTP = TESTS / "support" / "http_provider.py"
DEFAULT_OUT = HERE / "out"
SMTP_SINK = "/usr/sbin/smtp-sink"
LOOPBACK = "127.0.0.1"

TINY_CUSTOMERS = 300
TINY_RSS_CUSTOMERS = 3_000
#: purchases do not matter here: as few as the generator allows, to generate fast
PURCHASES_PER_CUSTOMER = 1.0
TRACKING = "https://t.shop.example"
EMAIL_ACTIVITY = "newsletter"
SMS_ACTIVITY = "text"
SMS_CAMPAIGN = """\
# The delivery benchmark's SMS campaign: every customer, one text.
name: bench-sms
label: Benchmark SMS
target: customers
timezone: Europe/Paris
variables:
  month: {type: string, default: March}
activities:
  - id: everyone
    type: build_audience
  - id: text
    type: sms
    inputs: [everyone]
    body: "Overture Shop: {{ first_name }}, our {{ vars.month }} news is out. STOP to opt out"
  - id: sent
    type: end
    inputs: [text]
"""
#: the channels' address checks (src/overture/channels/plan.py), written again here
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SMS_RE = r"^\+?[0-9][0-9 ().-]{5,19}$"

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def load_targeting() -> ModuleType:
    """bench/targeting.py, for its cached data sets."""
    spec = importlib.util.spec_from_file_location("overture_bench_targeting",
                                                  HERE / "targeting.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def process_cpu(pid: int) -> float | None:
    """Seconds of CPU (user + system) the process used so far, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS   # utime, stime


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start ({process.returncode})")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} does not listen on {port}")


# ------------------------------------------------------------------------ receivers


class Receiver:
    """A receiving server in its own process: its CPU time and what it received."""

    name = "receiver"
    process: subprocess.Popen[Any]
    port: int

    def cpu(self) -> float:
        return process_cpu(self.process.pid) or 0.0

    def stop(self) -> int:
        """Stop it; how many messages it received."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class SmtpSink(Receiver):
    """Postfix's smtp-sink: accepts every message and throws it away."""

    name = "smtp-sink"

    def __init__(self, binary: str, log: Path) -> None:
        self.log = log
        for _ in range(5):
            self.port = free_port()
            command = [binary, "-c"]
            if os.geteuid() == 0:
                command += ["-u", "nobody"]       # it refuses to run as root otherwise
            command += [f"{LOOPBACK}:{self.port}", "256"]
            with open(log, "wb") as out:
                self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            try:
                wait_listening(self.port, self.process, "smtp-sink")
                return
            except RuntimeError:
                if self.process.poll() is None:
                    self.process.kill()
                self.process.wait()
        raise RuntimeError(f"smtp-sink would not start: {log.read_text(errors='replace')}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        # -c prints "sess=N quit=N mesg=N" after each message, separated by \r
        text = self.log.read_text(errors="replace")
        counts = [part for part in text.replace("\n", "\r").split("\r") if "mesg=" in part]
        if not counts:
            return 0
        return int(counts[-1].rsplit("mesg=", 1)[1].split()[0])


class AiosmtpdSink(Receiver):
    """The fallback without Postfix: aiosmtpd (tests/support/smtp.py) in a process,
    keeping nothing. Python: it may well be the bottleneck."""

    name = "aiosmtpd"

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-aiosmtpd"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            raise RuntimeError(f"the aiosmtpd sink did not start: {line}"
                               f"{self.process.stderr.read() if self.process.stderr else ''}")
        self.port = int(line.split()[1])

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=30)
        return int(json.loads(err.strip().splitlines()[-1])["received"])


def serve_aiosmtpd() -> int:
    """--serve-aiosmtpd: aiosmtpd counting messages, until SIGTERM."""
    sys.path.insert(0, str(TESTS))
    from support.smtp import SmtpServer

    class Discarding(SmtpServer):
        received_count = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with self._lock:
                self.received_count += 1
            return "250 2.0.0 Ok"

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with Discarding() as server:
        print(f"listening {server.port}", flush=True)
        while not stopping.wait(0.2):
            pass
        count = server.received_count
    print(json.dumps({"received": count}), file=sys.stderr, flush=True)
    return 0


class FakeHttp(Receiver):
    """tests/support/http_provider.py in its own process (no record file)."""

    name = "fake HTTP provider"

    def __init__(self, *options: str) -> None:
        """`options`: more of the fake's command-line options (`--delay 0.05`)."""
        self.process = subprocess.Popen(
            [sys.executable, str(FAKE_HTTP), "--port", "0", *options], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            raise RuntimeError(f"the fake HTTP provider did not start: {line}"
                               f"{self.process.stderr.read() if self.process.stderr else ''}")
        self.url = line.split()[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> int:
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=30)
        try:
            connection.request("GET", "/stats")
            stats = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=60)
        return int(stats["delivered"])


# ------------------------------------------------------------------------ results


@dataclass
class Phase:
    name: str
    messages: int = 0
    expected: int = 0
    received: int = 0
    seconds: float = 0.0               # the sending time
    receiver: str = ""
    receiver_cpu: float = 0.0          # seconds
    # the sending process: the whole `overture run` (start-up, planning, sending), or
    # the raw loop itself; its CPU seconds (all threads)
    process_seconds: float | None = None
    process_cpu: float | None = None
    peak_rss_mb: float | None = None
    prepare_seconds: float | None = None   # raw loops: building the messages beforehand
    customers: int = 0
    connections: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def receiver_share(self) -> float:
        return self.receiver_cpu / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "messages_per_second": round(self.rate, 1),
                "receiver_cpu_share": round(self.receiver_share, 3)}


# ------------------------------------------------------------------------ workspaces


def expected_recipients(data_file: Path) -> dict[str, int]:
    """Customers with a valid address and consent, per channel (DuckDB, no Overture)."""
    import duckdb

    con = duckdb.connect(str(data_file), read_only=True)
    try:
        row = con.execute(f"""
            SELECT count_if(email_optin IS TRUE
                            AND regexp_matches(trim(email), '{EMAIL_RE}')),
                   count_if(sms_optin IS TRUE
                            AND regexp_matches(trim(phone), '{SMS_RE}'))
            FROM customers""").fetchone()
    finally:
        con.close()
    assert row is not None
    return {"email": int(row[0]), "sms": int(row[1])}


def work_workspace(out: Path, name: str, data_file: Path, provider: str) -> Path:
    """A fresh workspace under OUT/delivery-work/NAME: the sample schema, campaigns and
    filters, a copy of the cached data, and `provider` (TOML) added to overture.toml."""
    from overture.data.workspace import Workspace

    root = out / "delivery-work" / name
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    Workspace.init(root)
    shutil.copyfile(EXAMPLES / "schema.yaml", root / "schema.yaml")
    for folder in ("campaigns", "filters"):
        shutil.rmtree(root / folder)
        shutil.copytree(EXAMPLES / folder, root / folder)
    (root / "campaigns" / "bench-sms.yaml").write_text(SMS_CAMPAIGN, encoding="utf-8")
    shutil.copyfile(data_file, root / ".overture" / "data.duckdb")
    config = root / "overture.toml"
    text = config.read_text(encoding="utf-8")
    head, _, _ = text.partition("[tracking]")
    config.write_text(head + f'[tracking]\nbase_url = "{TRACKING}"\n\n' + provider,
                      encoding="utf-8")
    return root


def smtp_config(port: int, concurrency: int) -> str:
    return f"""[channels]
email = "mail"

[providers.mail]
type = "smtp"
host = "{LOOPBACK}"
port = {port}
security = "none"
concurrency = {concurrency}
"""


def http_config(url: str, concurrency: int) -> str:
    return f"""[channels]
sms = "gateway"

[providers.gateway]
type = "http"
url = "{url}/send"
channels = ["sms"]
concurrency = {concurrency}
"""


# ------------------------------------------------------------------------ engine runs


@dataclass
class EngineRun:
    run_id: str
    wall: float
    cpu: float
    max_rss_mb: float
    sending: float
    sent: int
    summary: dict[str, Any]


#: runs the `overture` command and, as it exits, writes its peak RSS (VmHWM, kB) to the
#: file named by argv[1]. Not wait4's ru_maxrss: Linux counts in it the memory of the
#: parent the child was forked from (here, this benchmark holding pre-built messages).
PEAK_RSS_WRAPPER = """
import atexit, sys
def peak(path=sys.argv[1]):
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    with open(path, "w") as out:
        out.write(kb)
atexit.register(peak)
sys.argv = ["overture"] + sys.argv[2:]
from overture.cli.main import app
sys.exit(app())
"""


def run_engine(root: Path, campaign: str, activity: str,
               receiver_cpu: Callable[[], float]) -> tuple[EngineRun, float]:
    """`overture -w ROOT run CAMPAIGN --live --json` in its own process; its figures,
    and the receiver's CPU seconds over the run."""
    peak_file = root / "peak-rss"
    command = [sys.executable, "-c", PEAK_RSS_WRAPPER, str(peak_file),
               "-w", str(root), "run", str(root / "campaigns" / campaign), "--live", "--json"]
    stdout, stderr = root / "run.out", root / "run.err"
    cpu_before = receiver_cpu()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)     # its CPU times
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    receiver = receiver_cpu() - cpu_before
    if process.returncode != 0:
        raise SystemExit(f"`overture {' '.join(command[4:])}` failed ({process.returncode}):\n"
                         f"{stdout.read_text()[-3000:]}\n{stderr.read_text()[-3000:]}")
    summary, noise = run_json(stdout.read_text())
    if noise:
        print(f"\n  note: `overture run --json` printed more than the JSON on stdout: "
              f"{noise[:80]!r}...", flush=True)
    entry = summary["activities"][activity]
    if summary.get("status") != "done" or entry.get("status") != "done":
        raise SystemExit(f"the run did not finish: {json.dumps(summary, indent=2)}")
    run_id = str(summary["run"])
    sending, sent = sending_time(root, run_id, activity)
    peak_rss = int(peak_file.read_text()) / 1024
    return EngineRun(run_id, wall, usage.ru_utime + usage.ru_stime, peak_rss, sending, sent,
                     summary), receiver


def run_json(text: str) -> tuple[dict[str, Any], str]:
    """The run's JSON summary on stdout, and whatever was printed before it (DuckDB's
    progress bar, when a query of the run takes more than two seconds)."""
    start = 0 if text.startswith("{") else text.find("\n{\n") + 1
    summary = json.loads(text[start:])
    return summary, text[:start].strip()


def sending_time(root: Path, run_id: str, activity: str) -> tuple[float, int]:
    """Seconds from the activity's "plan written" log line to its "sent …" line, and
    how many messages its message log holds as sent."""
    from overture.data import messages
    from overture.data.workspace import Workspace

    ws = Workspace.open(root)
    try:
        entries = [e for e in ws.control.logs(run_id) if e.activity_id == activity]
        start = next(e.at for e in entries if e.message.startswith("plan written"))
        end = next(e.at for e in entries if e.message.startswith("sent "))
        log = messages.of_activity(ws.data, run_id, activity)
        assert log is not None
        sent = int(log.filter(log.status == "sent").count().execute())
    finally:
        ws.close()
    return (end - start).total_seconds(), sent


def engine_phase(name: str, root: Path, campaign: str, activity: str, receiver: Receiver,
                 expected: int, customers: int, concurrency: int) -> tuple[Phase, EngineRun]:
    print(f"  {name} ...", end=" ", flush=True)
    run, receiver_cpu = run_engine(root, campaign, activity, receiver.cpu)
    received = receiver.stop()
    phase = Phase(name, messages=run.sent, expected=expected, received=received,
                  seconds=run.sending, receiver=receiver.name, receiver_cpu=receiver_cpu,
                  process_seconds=run.wall, process_cpu=run.cpu, peak_rss_mb=run.max_rss_mb,
                  customers=customers, connections=concurrency)
    print(f"{phase.messages:,} sent in {phase.seconds:.2f} s ({phase.rate:,.0f}/s; "
          f"process {run.wall:.2f} s, peak RSS {run.max_rss_mb:,.0f} MB)", flush=True)
    return phase, run


# ------------------------------------------------------------------------ raw loops


def composed(root: Path, campaign_file: Path, activity: str,
             run_id: str) -> Iterator[tuple[Any, Any]]:
    """(OutgoingMessage, profile) of every message the engine sent in `run_id`, built
    again with the engine's Composer: same ids, addresses, content and bytes (the
    Date header aside)."""
    from overture.channels.compose import Composer
    from overture.channels.render import CompiledContent
    from overture.channels.tokens import Signer
    from overture.data import messages
    from overture.data.workspace import Workspace
    from overture.definition.campaign import Campaign, read_document

    campaign = Campaign.model_validate(read_document(campaign_file))
    a = campaign.activity(activity)
    content = CompiledContent.compile(a, campaign_file.parent)
    variables = {name: spec.default for name, spec in campaign.variables.items()}
    ws = Workspace.open(root)
    try:
        signer = Signer.for_workspace(root / ".overture") if a.type == "email" else None
        composer = Composer(content=content, variables=variables, campaign=campaign.name,
                            run_id=run_id, from_=getattr(a, "from_", None),
                            reply_to=getattr(a, "reply_to", None), base_url=TRACKING,
                            signer=signer, language_column="language")
        log = messages.of_activity(ws.data, run_id, activity)
        assert log is not None
        sent = log.filter(log.status == "sent").select(
            _mid=log.message_id, _address=log.address, _pkey=log.profile_key)
        customers = ws.data.table("customers")
        rows = sent.join(customers, sent._pkey == customers.customer_id.cast("string"))
        rows = rows.order_by("customer_id").drop("_pkey").to_pyarrow().to_pylist()
    finally:
        ws.close()
    for row in rows:
        mid, address = row.pop("_mid"), row.pop("_address")
        message, _ = composer.compose(row, row["customer_id"], address, mid)
        yield message, row


def run_threads(concurrency: int, items: Sequence[Any],
                work: Callable[[Sequence[Any]], int]) -> tuple[float, int]:
    """`concurrency` threads, each doing `work` on its share; (seconds, items done)."""
    shares = [items[i::concurrency] for i in range(concurrency)]
    done = [0] * concurrency
    errors: list[BaseException] = []
    barrier = threading.Barrier(concurrency + 1)

    def thread(index: int) -> None:
        try:
            barrier.wait()
            done[index] = work(shares[index])
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return seconds, sum(done)


def raw_smtp_phase(root: Path, run: EngineRun, receiver: Receiver, concurrency: int,
                   customers: int) -> Phase:
    print("  raw smtplib loop ...", end=" ", flush=True)
    started = time.perf_counter()
    prepared: list[tuple[str, str, bytes]] = []
    for message, _ in composed(root, root / "campaigns" / "newsletter.yaml", EMAIL_ACTIVITY,
                               run.run_id):
        raw = message.payload
        sender = raw.get("From") or ""
        sender = sender[sender.index("<") + 1:sender.index(">")] if "<" in sender else sender
        prepared.append((sender, message.to, raw.data))
    prepare = time.perf_counter() - started

    def send(share: Sequence[tuple[str, str, bytes]]) -> int:
        smtp = smtplib.SMTP(LOOPBACK, receiver.port, timeout=60)
        try:
            for sender, to, data in share:
                smtp.sendmail(sender, [to], data)
        finally:
            smtp.quit()
        return len(share)

    cpu_before, own_before = receiver.cpu(), time.process_time()
    seconds, sent = run_threads(concurrency, prepared, send)
    cpu, own = receiver.cpu() - cpu_before, time.process_time() - own_before
    received = receiver.stop()
    phase = Phase("raw smtplib loop", messages=sent, expected=run.sent, received=received,
                  seconds=seconds, receiver=receiver.name, receiver_cpu=cpu,
                  process_seconds=seconds, process_cpu=own, prepare_seconds=prepare,
                  customers=customers, connections=concurrency)
    print(f"{sent:,} sent in {seconds:.2f} s ({phase.rate:,.0f}/s; built beforehand in "
          f"{prepare:.2f} s, {prepare / max(1, len(prepared)) * 1e6:,.0f} us a message)",
          flush=True)
    return phase


def raw_http_phase(root: Path, run: EngineRun, receiver: FakeHttp, concurrency: int,
                   customers: int) -> Phase:
    from overture.channels.http import USER_AGENT, WebhookProvider

    print("  raw http.client loop ...", end=" ", flush=True)
    provider = WebhookProvider("gateway", f"{receiver.url}/send")
    started = time.perf_counter()
    prepared: list[tuple[bytes, dict[str, str]]] = []
    for message, _ in composed(root, root / "campaigns" / "bench-sms.yaml", SMS_ACTIVITY,
                               run.run_id):
        payload = message.payload
        _, content, headers = provider.build_request(message, payload["body"], None, {})
        headers.setdefault("User-Agent", USER_AGENT)
        headers.setdefault("Accept", "application/json")
        prepared.append((content, headers))
    prepare = time.perf_counter() - started

    def send(share: Sequence[tuple[bytes, dict[str, str]]]) -> int:
        connection = http.client.HTTPConnection(LOOPBACK, receiver.port, timeout=60)
        ok = 0
        try:
            for content, headers in share:
                connection.request("POST", "/send", body=content, headers=headers)
                answer = connection.getresponse()
                answer.read()
                ok += 200 <= answer.status < 300
        finally:
            connection.close()
        return ok

    cpu_before, own_before = receiver.cpu(), time.process_time()
    seconds, sent = run_threads(concurrency, prepared, send)
    cpu, own = receiver.cpu() - cpu_before, time.process_time() - own_before
    received = receiver.stop()
    phase = Phase("raw http.client loop", messages=sent, expected=run.sent, received=received,
                  seconds=seconds, receiver=receiver.name, receiver_cpu=cpu,
                  process_seconds=seconds, process_cpu=own, prepare_seconds=prepare,
                  customers=customers, connections=concurrency)
    print(f"{sent:,} sent in {seconds:.2f} s ({phase.rate:,.0f}/s; built beforehand in "
          f"{prepare:.2f} s, {prepare / max(1, len(prepared)) * 1e6:,.0f} us a message)",
          flush=True)
    return phase


# ------------------------------------------------------------------------ the run


def smtp_receiver(args: argparse.Namespace, log: Path) -> Receiver:
    if args.smtp_sink and Path(args.smtp_sink).is_file():
        return SmtpSink(args.smtp_sink, log)
    return AiosmtpdSink()


def fmt_ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def print_table(phases: list[Phase]) -> None:
    print("\nResults (sending time; the process's whole run apart)")
    header = (f"  {'phase':<28}{'customers':>11}{'messages':>11}{'seconds':>9}{'msg/s':>9}"
              f"{'receiver CPU':>14}{'process s':>11}{'process CPU':>13}{'peak RSS':>10}")
    print(header)
    for p in phases:
        process = f"{p.process_seconds:.2f}" if p.process_seconds is not None else "-"
        process_cpu = (f"{p.process_cpu / p.process_seconds:.0%}"
                       if p.process_cpu is not None and p.process_seconds else "-")
        rss = f"{p.peak_rss_mb:,.0f} MB" if p.peak_rss_mb is not None else "-"
        print(f"  {p.name:<28}{p.customers:>11,}{p.messages:>11,}{p.seconds:>9.2f}"
              f"{p.rate:>9,.0f}{p.receiver_share:>9.0%} {p.receiver[:4]:<4}{process:>11}"
              f"{process_cpu:>13}{rss:>10}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000,
                        help="customers of the throughput phases (default 200,000)")
    parser.add_argument("--rss-customers", type=int, default=1_000_000,
                        help="customers of the peak RSS phase (default 1,000,000)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="connections, of the providers and of the raw loops (default 4)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tiny", action="store_true",
                        help=f"every phase at {TINY_CUSTOMERS:,} customers "
                             f"({TINY_RSS_CUSTOMERS:,} for RSS), in seconds")
    parser.add_argument("--skip-rss", action="store_true", help="leave out the RSS phase")
    parser.add_argument("--smtp-sink", default=shutil.which("smtp-sink") or SMTP_SINK,
                        help="the smtp-sink program; when missing, aiosmtpd is used")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the data and results are kept (default bench/out)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the phases' workspaces (OUT/delivery-work/)")
    parser.add_argument("--serve-aiosmtpd", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_aiosmtpd:
        return serve_aiosmtpd()
    if args.tiny:
        args.customers, args.rss_customers = TINY_CUSTOMERS, TINY_RSS_CUSTOMERS
    concurrency = args.concurrency
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    load_before = loadavg()

    import duckdb

    print(f"Delivery benchmark · {os.cpu_count()} cores · Python {platform.python_version()} "
          f"· DuckDB {duckdb.__version__} · concurrency {concurrency} · "
          f"load average {load_before}", flush=True)
    sink_missing = not (args.smtp_sink and Path(args.smtp_sink).is_file())
    if sink_missing:
        print("\n*** smtp-sink not found (Debian: apt-get install postfix): the SMTP phases "
              "use aiosmtpd,\n*** a Python server that may well be the bottleneck: the "
              "email figures are NOT the engine's ***\n", flush=True)

    targeting = load_targeting()
    sizes = [args.customers] + ([] if args.skip_rss else [args.rss_customers])
    datasets = {}
    for size in dict.fromkeys(sizes):
        ds = targeting.prepare_dataset(out, size, PURCHASES_PER_CUSTOMER, args.seed)
        state = "cached" if ds.cached else f"generated in {ds.generated_seconds:.1f} s"
        print(f"data {ds.label}: {ds.rows['customers']:,} customers ({state})", flush=True)
        datasets[size] = ds
    main_ds = datasets[args.customers]
    expected = expected_recipients(main_ds.data_file)
    print(f"expected recipients at {args.customers:,} customers: {expected['email']:,} "
          f"email, {expected['sms']:,} SMS", flush=True)

    logs = out / "delivery-work"
    logs.mkdir(parents=True, exist_ok=True)
    phases: list[Phase] = []

    # 1-2: email through SMTP
    with smtp_receiver(args, logs / "sink-engine.log") as sink:
        root = work_workspace(out, "email", main_ds.data_file,
                              smtp_config(sink.port, concurrency))
        email, email_run = engine_phase("engine email (smtp)", root, "newsletter.yaml",
                                        EMAIL_ACTIVITY, sink, expected["email"],
                                        args.customers, concurrency)
    phases.append(email)
    with smtp_receiver(args, logs / "sink-raw.log") as sink:
        raw_smtp = raw_smtp_phase(root, email_run, sink, concurrency, args.customers)
    phases.append(raw_smtp)

    # 3-4: SMS through HTTP
    with FakeHttp() as fake:
        root = work_workspace(out, "sms", main_ds.data_file, http_config(fake.url, concurrency))
        sms, sms_run = engine_phase("engine SMS (http)", root, "bench-sms.yaml", SMS_ACTIVITY,
                                    fake, expected["sms"], args.customers, concurrency)
    phases.append(sms)
    with FakeHttp() as fake:
        raw_http = raw_http_phase(root, sms_run, fake, concurrency, args.customers)
    phases.append(raw_http)

    # 5: peak RSS at scale
    rss: Phase | None = None
    if not args.skip_rss:
        big = datasets[args.rss_customers]
        big_expected = expected_recipients(big.data_file)
        with smtp_receiver(args, logs / "sink-rss.log") as sink:
            root = work_workspace(out, "rss", big.data_file,
                                  smtp_config(sink.port, concurrency))
            rss, _ = engine_phase(f"engine email at {args.rss_customers:,}", root,
                                  "newsletter.yaml", EMAIL_ACTIVITY, sink,
                                  big_expected["email"], args.rss_customers, concurrency)
        phases.append(rss)

    load_after = loadavg()
    print_table(phases)
    print()
    smtp_ratio = email.rate / raw_smtp.rate if raw_smtp.rate else 0.0
    http_ratio = sms.rate / raw_http.rate if raw_http.rate else 0.0
    print(f"ratio engine / raw smtplib at {args.customers:,} customers: "
          f"{fmt_ratio(email.rate, raw_smtp.rate)} (goal >= 0.8x: "
          f"{'met' if smtp_ratio >= 0.8 else 'NOT met'})"
          + (" [receiver: aiosmtpd]" if sink_missing else ""))
    # the same messages built and then sent by the raw loop, one after the other
    built_then_sent = raw_smtp.messages / ((raw_smtp.prepare_seconds or 0) + raw_smtp.seconds)
    print(f"  (engine / building the messages then the raw smtplib loop: "
          f"{fmt_ratio(email.rate, built_then_sent)})")
    print(f"ratio engine / raw http.client at {args.customers:,} customers: "
          f"{fmt_ratio(sms.rate, raw_http.rate)}"
          + (" [the fake provider used most of a core: it may be the limit]"
             if raw_http.receiver_share > 0.7 else ""))
    if rss is not None and rss.peak_rss_mb is not None:
        print(f"peak RSS at {args.rss_customers:,} customers: {rss.peak_rss_mb:,.0f} MB "
              f"(goal < 500 MB: {'met' if rss.peak_rss_mb < 500 else 'NOT met'})")
    print(f"load average: {load_before} before, {load_after} after")

    problems = []
    for p in phases:
        if p.messages != p.expected:
            problems.append(f"{p.name}: {p.messages:,} sent, {p.expected:,} expected")
        if p.received != p.messages:
            problems.append(f"{p.name}: {p.messages:,} sent, {p.received:,} received by "
                            f"the {p.receiver}")
        if p.messages <= 0:
            problems.append(f"{p.name}: nothing sent")
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "duckdb": duckdb.__version__, "platform": platform.platform()},
        "arguments": {"customers": args.customers, "rss_customers": args.rss_customers,
                      "concurrency": concurrency, "seed": args.seed, "tiny": args.tiny,
                      "skip_rss": args.skip_rss},
        "smtp_receiver": "aiosmtpd" if sink_missing else "smtp-sink",
        "load_average": {"before": load_before, "after": load_after},
        "expected": expected,
        "phases": {p.name: p.as_dict() for p in phases},
        "ratios": {"engine_over_raw_smtplib": round(smtp_ratio, 3),
                   "engine_over_build_then_raw_smtplib": round(email.rate / built_then_sent, 3),
                   "engine_over_raw_http": round(http_ratio, 3)},
        "peak_rss_mb": None if rss is None else rss.peak_rss_mb,
        "problems": problems,
    }
    path = out / f"delivery-{datetime.now().date().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"figures written to {path}")
    if not args.keep:
        shutil.rmtree(out / "delivery-work", ignore_errors=True)

    if problems:
        print("\nCOUNTS DIFFER: a phase did not deliver what it should", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("every phase delivered each expected message once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
