"""Scale benchmark: the reference canvas on each data plane, and sending with N workers.

    python bench/scale.py [--backends duckdb,postgres,spark] [--customers 1000000,10000000]
                          [--workers 1,2,3] [--delivery-customers 50000] [--delay 0.05]
                          [--tiny] [--skip-targeting] [--skip-delivery] [--keep-loaded]

1. Targeting: the reference canvas of the targeting benchmark (bench/reference.yaml,
   its count limit scaled to the data, run by `run_campaign_file` in test mode, as
   bench/targeting.py runs it) on the same generated data (bench/targeting.py's
   cached DuckDB workspaces) in each data plane:

   - duckdb: the cached workspace itself;
   - postgres: the four tables exported to Parquet once (kept beside the DuckDB file)
     and loaded the way a user loads them (`load_into_workspace`, i.e. `overture data
     load`: COPY), into a schema of their own, then ANALYZEd; the loading is timed apart;
   - spark: the same Parquet files loaded the same way into a Spark `local[2]` data
     plane (a database of its own in a warehouse under OUT/scale-spark/, the message
     log in a PostgreSQL schema of its own).

   Each (backend, size) runs in a process of its own (one Spark application per
   process; no cache carried from one backend to the next). Every port's count must be
   the same on every backend at a size, else the benchmark exits 1. It prints the
   seconds, the ratio against DuckDB at the same size and the ratio of the biggest
   size against the smallest on the same backend, all measured in this run.

2. Delivery: the SMS campaign of bench/delivery.py sent live to --delivery-customers
   profiles through the generic HTTP provider to the fake provider of the tests
   (tests/support/http_provider.py, its own process, answering each request after
   --delay seconds), by 1, 2 and 3 `overture worker` processes sharing a PostgreSQL
   control and data plane (a fresh schema per measurement, dropped afterwards). The run
   is recorded with `overture run --live --detach`; the workers pick it up, one of them
   plans it and cuts the send queue into batches ([delivery] batch_size) that all of
   them claim. Messages per second are over the sending time (the activity's "plan
   written" log line to its "sent …" line, as in bench/delivery.py); the ratio is
   against one worker in the same run. Every measurement must deliver each expected
   recipient exactly once (message log, the fake's count, no duplicate refused),
   else the benchmark exits 1.

Everything is written to OUT/scale-DATE.json with the load average before and after
each measurement. --tiny runs everything in about a minute (2,000 customers, 300 for
delivery, no latency). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLES = ROOT / "examples"
DEFAULT_OUT = HERE / "out"
PG_ENV = "OVERTURE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("duckdb", "postgres", "spark")
TABLES = ("stores", "products", "customers", "purchases")

TINY_CUSTOMERS = 2_000
TINY_DELIVERY = 300
#: the `overture` command of this interpreter's environment
OVERTURE = [sys.executable, "-c", "import sys; from overture.cli.main import app; "
            "sys.argv[0] = 'overture'; sys.exit(app())"]
#: a measurement that takes longer than this is abandoned (and reported)
RUN_TIMEOUT = 3600.0


def load_bench(name: str) -> ModuleType:
    """bench/NAME.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"overture_bench_{name}", HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


targeting = load_bench("targeting")
delivery = load_bench("delivery")
loadavg = delivery.loadavg


def with_schema(base: str, schema: str, settings: str = "") -> str:
    """`base` with its search_path set to `schema` (tests/conftest.py's `_new_schema`),
    and `settings` (`work_mem=256MB,…`) as more of the connection's options."""
    sep = "&" if "?" in base else "?"
    options = f"-csearch_path%3D{schema}"
    for setting in filter(None, settings.split(",")):
        name, _, value = setting.strip().partition("=")
        options += f"%20-c{name}%3D{quote(value, safe='')}"
    return f"{base}{sep}options={options}"


def create_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '30s'")
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def fresh_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------ data as files


def parquet_files(ds: Any) -> tuple[Path, float, bool]:
    """The data set's four tables as Parquet files beside its DuckDB file (exported once
    per generated data set): their folder, the seconds the export took, cached or not."""
    import duckdb

    folder = ds.root / "parquet"
    marker = folder / "source.json"
    source = (ds.root / "bench-data.json").read_text(encoding="utf-8")
    with contextlib.suppress(OSError, ValueError):
        done = json.loads(marker.read_text(encoding="utf-8"))
        if done["source"] == source and all((folder / f"{t}.parquet").exists()
                                            for t in TABLES):
            return folder, float(done["seconds"]), True
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    con = duckdb.connect(str(ds.data_file), read_only=True)
    try:
        for table in TABLES:
            target = str(folder / f"{table}.parquet").replace("'", "''")
            con.execute(f"COPY (SELECT * FROM {table}) TO '{target}' (FORMAT parquet)")
    finally:
        con.close()
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"source": source, "seconds": seconds}), encoding="utf-8")
    return folder, seconds, False


def new_workspace(root: Path, config: str) -> None:
    """A workspace at `root` (replaced): the sample schema.yaml, `config` as the planes."""
    from overture.data.workspace import Workspace

    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    Workspace.init(root)
    shutil.copyfile(EXAMPLES / "schema.yaml", root / "schema.yaml")
    path = root / "overture.toml"
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("[control]")
    # the [data] table of the default file is replaced; [control] and the rest kept
    head = head.split("[data]", 1)[0]
    path.write_text(head + config + "\n[control]" + rest, encoding="utf-8")


def marker_key(ds: Any) -> str:
    return (ds.root / "bench-data.json").read_text(encoding="utf-8")


def loaded_marker(ws: Any) -> str | None:
    with contextlib.suppress(Exception):
        if ws.data.has_table("bench_marker"):
            rows = ws.data.table("bench_marker").to_pyarrow().to_pylist()
            return str(rows[0]["key"]) if rows else None
    return None


def load_tables(ws: Any, files: Path, ds: Any) -> None:
    """The four tables into the workspace's data plane, as `overture data load` does,
    then a marker table naming the data set."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from overture.data.loading import load_into_workspace

    for table in TABLES:
        started = time.perf_counter()
        result = load_into_workspace(ws, table, files / f"{table}.parquet")
        print(f"    loaded {table}: {result.rows:,} rows in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
    marker = files.parent / "scale-marker.parquet"
    pq.write_table(pa.table({"key": [marker_key(ds)]}), marker)
    load_into_workspace(ws, "bench_marker", marker)


# ------------------------------------------------------------------------ targeting


@dataclasses.dataclass
class Target:
    """One measurement of the reference canvas: a backend at a size."""

    backend: str
    customers: int
    purchases: int = 0
    seconds: float | None = None
    runs: list[float] = dataclasses.field(default_factory=list)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    activities: dict[str, float] = dataclasses.field(default_factory=dict)
    load_seconds: float | None = None       # loading into the backend (not timed above)
    load_cached: bool = False
    export_seconds: float | None = None     # DuckDB to Parquet, once per data set
    error: str | None = None
    load_before: str = ""
    load_after: str = ""


def spark_url(database: str, warehouse: Path, log_url: str, master: str) -> str:
    return (f"pyspark://{master}?database={database}&warehouse={quote(str(warehouse))}"
            f"&log_url={quote(log_url, safe='')}")


def measure_target(args: argparse.Namespace, backend: str, size: int) -> Target:
    """In the child process: load the data into `backend` when needed, run the canvas
    --repeat times, keep the best; drop what was loaded unless --keep-loaded."""
    ds = targeting.prepare_dataset(args.out, size, args.purchases_per_customer, args.seed)
    target = Target(backend, size, purchases=int(ds.rows["purchases"]))
    cleanup: list[Any] = []
    try:
        root = ds.root
        if backend != "duckdb":
            root, cleanup = prepare_backend(args, backend, ds, target)
        run_ds = dataclasses.replace(ds, root=root)
        best: float | None = None
        for _ in range(max(1, args.repeat)):
            seconds, counts = targeting.run_engine(run_ds)
            target.runs.append(seconds)
            if best is None or seconds < best:
                best = seconds
                target.counts = counts
                target.activities = dict(targeting.ENGINE_ACTIVITIES.get(size, {}))
        target.seconds = best
    except (Exception, SystemExit) as exc:
        target.error = f"{type(exc).__name__}: {exc}"[:2000]
    finally:
        for action in reversed(cleanup):
            try:
                action()
            except Exception as exc:
                print(f"    cleanup failed: {exc}", flush=True)
    return target


def prepare_backend(args: argparse.Namespace, backend: str, ds: Any, target: Target
                    ) -> tuple[Path, list[Any]]:
    """A workspace whose data plane holds the data set: (its root, cleanup actions)."""
    from overture.data.workspace import Workspace

    files, target.export_seconds, _ = parquet_files(ds)
    label = f"scale_c{ds.customers}_p{ds.purchases_per_customer:g}_s{ds.seed}".replace(".", "_")
    name = label if args.keep_loaded else fresh_name(label)
    cleanup: list[Any] = []
    root = args.out / "scale-work" / f"{backend}-{ds.label}"
    if backend == "postgres":
        create_schema(args.postgres, name)
        if not args.keep_loaded:
            cleanup.append(lambda: drop_schema(args.postgres, name))
        config = f'[data]\nurl = "{with_schema(args.postgres, name, args.pg_settings)}"\n'
    else:
        log_schema = fresh_name("scale_log")
        create_schema(args.postgres, log_schema)
        cleanup.append(lambda: drop_schema(args.postgres, log_schema))
        warehouse = args.out / "scale-spark" / "warehouse"
        url = spark_url(name, warehouse, with_schema(args.postgres, log_schema),
                        args.spark_master)
        config = (f'[data]\nurl = "{url}"\n\n[data.spark]\n'
                  f'"spark.driver.memory" = "{args.spark_memory}"\n'
                  '"spark.ui.showConsoleProgress" = "false"\n')
    new_workspace(root, config)
    ws = Workspace.open(root)
    try:
        if backend == "spark" and not args.keep_loaded:
            cleanup.append(lambda: drop_spark_database(root, name))
        if loaded_marker(ws) == marker_key(ds):
            target.load_cached, target.load_seconds = True, 0.0
            print(f"    {backend}: data already loaded ({name})", flush=True)
        else:
            print(f"    {backend}: loading {ds.label} into {name} ...", flush=True)
            started = time.perf_counter()
            load_tables(ws, files, ds)
            if backend == "postgres":
                analyze(ws)
            target.load_seconds = time.perf_counter() - started
    finally:
        ws.close()
    return root, cleanup


def analyze(ws: Any) -> None:
    """Statistics for the planner right after loading (autovacuum would take its time)."""
    with ws.data.con.con.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f'ANALYZE "{table}"')
    ws.data.con.con.commit()


def drop_spark_database(root: Path, database: str) -> None:
    from overture.data.workspace import Workspace

    ws = Workspace.open(root)
    try:
        ws.data.con.raw_sql("USE default")
        ws.data.con.raw_sql(f"DROP DATABASE IF EXISTS `{database}` CASCADE")
    finally:
        ws.close()


def run_target_child(args: argparse.Namespace, backend: str, size: int) -> Target:
    """One measurement in a process of its own; its output goes to a log file."""
    log = args.out / "scale-work" / f"target-{backend}-{size}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--measure-target", f"{backend}:{size}",
               "--out", str(args.out), "--seed", str(args.seed),
               "--purchases-per-customer", str(args.purchases_per_customer),
               "--repeat", str(args.repeat), "--postgres", args.postgres,
               "--spark-master", args.spark_master, "--spark-memory", args.spark_memory,
               "--pg-settings", args.pg_settings]
    if args.keep_loaded:
        command.append("--keep-loaded")
    before = loadavg()
    with open(log, "w", encoding="utf-8") as out:
        try:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False,
                                  timeout=RUN_TIMEOUT * 2)
            code: int | str = done.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    text = log.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    if not lines:
        target = Target(backend, size, error=f"the measuring process ended ({code}) without "
                                             f"a result; see {log}:\n{text[-1500:]}")
    else:
        target = Target(**json.loads(lines[-1][len("RESULT "):]))
    target.load_before, target.load_after = before, loadavg()
    return target


def target_table(targets: list[Target], customer_sizes: list[int]) -> list[str]:
    """The figures as lines: seconds, ratio to DuckDB at the size, ratio to the smallest."""
    by = {(t.backend, t.customers): t for t in targets}
    smallest = min(customer_sizes)
    lines = [f"  {'backend':<10}{'customers':>13}{'purchases':>13}{'seconds':>10}"
             f"{'/ duckdb':>10}{f'/ {smallest:,}':>13}{'load s':>10}  load average"]
    for t in targets:
        duck = by.get(("duckdb", t.customers))
        small = by.get((t.backend, smallest))
        seconds = f"{t.seconds:.2f}" if t.seconds is not None else "n/a"
        ratio_duck = fmt_ratio(t.seconds, duck.seconds if duck else None)
        ratio_size = ("" if t.customers == smallest
                      else fmt_ratio(t.seconds, small.seconds if small else None))
        loaded = ("cached" if t.load_cached else
                  f"{t.load_seconds:.0f}" if t.load_seconds is not None else "-")
        purchases = f"{t.purchases:,}" if t.purchases else "-"
        lines.append(f"  {t.backend:<10}{t.customers:>13,}{purchases:>13}{seconds:>10}"
                     f"{ratio_duck:>10}{ratio_size:>13}{loaded:>10}  "
                     f"{t.load_before} -> {t.load_after}")
    return lines


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "n/a"
    return f"{a / b:.2f}x"


def count_problems(targets: list[Target]) -> list[str]:
    """Ports whose count differs from DuckDB's (the reference) at the same size."""
    problems = []
    reference = {t.customers: t.counts for t in targets if t.backend == "duckdb" and t.counts}
    for t in targets:
        base = reference.get(t.customers)
        if not t.counts or base is None or t.backend == "duckdb":
            continue
        for port, count in base.items():
            if t.counts.get(port) != count:
                problems.append(f"{t.backend} at {t.customers:,} customers, {port}: "
                                f"{t.counts.get(port)} against DuckDB's {count}")
    return problems


# ------------------------------------------------------------------------ delivery


@dataclasses.dataclass
class Send:
    """One delivery measurement: the SMS campaign sent by `workers` worker processes."""

    workers: int
    customers: int
    expected: int = 0
    sent: int = 0                       # the message log's sent messages
    delivered: int = 0                  # the fake provider's count
    duplicates_refused: int = 0
    seconds: float = 0.0                # sending time: "plan written" to "sent …"
    run_seconds: float = 0.0            # from `run --detach` to the run's end
    # worker -> batches it took from the run's executor (the executor sends the rest)
    assisted: dict[str, int] = dataclasses.field(default_factory=dict)
    worker_cpu: float = 0.0             # CPU seconds of all workers over the whole run
    provider_cpu: float = 0.0           # the fake provider's CPU seconds over the run
    status: str = ""
    error: str | None = None
    load_before: str = ""
    load_after: str = ""

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "messages_per_second": round(self.rate, 1)}


class Provider(delivery.FakeHttp):  # type: ignore[misc, name-defined]
    """The fake HTTP provider in its own process, answering after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__("--delay", str(delay))

    def stats(self) -> dict[str, int]:
        connection = http.client.HTTPConnection(delivery.LOOPBACK, self.port, timeout=30)
        try:
            connection.request("GET", "/stats")
            return dict(json.loads(connection.getresponse().read()))
        finally:
            connection.close()


def delivery_config(pg: str, fake_url: str, concurrency: int, batch_size: int) -> str:
    return (f'[data]\nurl = "{pg}"\n\n[control]\nurl = "{pg}"\n\n'
            f'[delivery]\nbatch_size = {batch_size}\n\n'
            f'[tracking]\nbase_url = "{delivery.TRACKING}"\n\n'
            + delivery.http_config(fake_url, concurrency))


def delivery_workspace(root: Path, pg: str, fake_url: str, args: argparse.Namespace,
                       customers_file: Path) -> None:
    """A workspace on PostgreSQL (both planes in one fresh schema) holding the customers."""
    from overture.data.loading import load_into_workspace
    from overture.data.workspace import Workspace

    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    Workspace.init(root)
    shutil.copyfile(EXAMPLES / "schema.yaml", root / "schema.yaml")
    (root / "campaigns" / "bench-sms.yaml").write_text(delivery.SMS_CAMPAIGN, encoding="utf-8")
    (root / "overture.toml").write_text(
        "# bench/scale.py: workers sharing PostgreSQL planes\n"
        + delivery_config(pg, fake_url, args.concurrency, args.batch_size), encoding="utf-8")
    ws = Workspace.open(root)
    try:
        load_into_workspace(ws, "customers", customers_file)
        ws.control.list_runs()           # the control plane's migrations, before any worker
    finally:
        ws.close()


def start_worker(root: Path, index: int) -> tuple[subprocess.Popen[Any], Path]:
    log = root / f"worker-{index}.log"
    # (a wide console: its lines are read back, unwrapped)
    env = {**os.environ, "OVERTURE_WORKER_NAME": f"bench-w{index}", "COLUMNS": "400"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*OVERTURE, "-w", str(root), "worker",
             "--poll", "0.2"], stdout=out, stderr=subprocess.STDOUT, env=env)
    return process, log


def wait_ready(workers: list[tuple[subprocess.Popen[Any], Path]]) -> None:
    deadline = time.monotonic() + 120
    for index, (process, log) in enumerate(workers, start=1):
        while f"worker bench-w{index}:" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"a worker did not start ({process.poll()}): "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)


def stop_workers(workers: list[tuple[subprocess.Popen[Any], Path]]) -> dict[str, int]:
    """SIGTERM every worker, wait for them; the batches each says it sent."""
    for process, _ in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    batches = {}
    for index, (process, log) in enumerate(workers, start=1):
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        text = log.read_text(errors="replace")
        found = [line for line in text.splitlines() if line.startswith("worker stopped:")]
        batches[f"bench-w{index}"] = (int(found[-1].rsplit(",", 1)[1].split()[0])
                                      if found else -1)
    return batches


def run_status(root: Path, run_id: str) -> str:
    from overture.data.workspace import Workspace

    ws = Workspace.open(root)
    try:
        return str(ws.control.get_run(run_id).status)
    finally:
        ws.close()


def measure_send(args: argparse.Namespace, workers: int, customers_file: Path,
                 expected: int) -> Send:
    """The SMS campaign sent by `workers` worker processes, in a fresh schema."""
    send = Send(workers, args.delivery_customers, expected=expected, load_before=loadavg())
    schema = fresh_name("scale_send")
    root = args.out / "scale-work" / f"send-{workers}"
    create_schema(args.postgres, schema)
    pg = with_schema(args.postgres, schema)
    running: list[tuple[subprocess.Popen[Any], Path]] = []
    try:
        with Provider(args.delay) as fake:
            delivery_workspace(root, pg, fake.url, args, customers_file)
            running = [start_worker(root, i) for i in range(1, workers + 1)]
            wait_ready(running)
            cpu_before = sum(delivery.process_cpu(p.pid) or 0.0 for p, _ in running)
            fake_before = fake.cpu()
            started = time.perf_counter()
            queued = subprocess.run(
                [*OVERTURE, "-w", str(root), "run",
                 str(root / "campaigns" / "bench-sms.yaml"), "--live", "--detach", "--json"],
                capture_output=True, text=True, check=False)
            if queued.returncode != 0:
                raise RuntimeError(f"overture run --detach failed: {queued.stdout}"
                                   f"{queued.stderr}")
            run_id = str(json.loads(queued.stdout.strip().splitlines()[-1])["run"])
            deadline = time.monotonic() + RUN_TIMEOUT
            while True:
                send.status = run_status(root, run_id)
                if send.status in ("done", "failed", "stopped") \
                        or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            send.run_seconds = time.perf_counter() - started
            send.worker_cpu = sum(delivery.process_cpu(p.pid) or 0.0
                                  for p, _ in running) - cpu_before
            send.provider_cpu = fake.cpu() - fake_before
            send.assisted = stop_workers(running)
            running = []
            if send.status != "done":
                raise RuntimeError(f"the run ended {send.status!r}; see {root}/worker-*.log")
            send.seconds, send.sent = delivery.sending_time(root, run_id, delivery.SMS_ACTIVITY)
            stats = fake.stats()
            send.delivered = int(stats["delivered"])
            send.duplicates_refused = int(stats["duplicates_refused"])
            fake.stop()
    except Exception as exc:
        send.error = f"{type(exc).__name__}: {exc}"[:2000]
    finally:
        if running:
            stop_workers(running)
        drop_schema(args.postgres, schema)
        send.load_after = loadavg()
    if send.error is None and not args.keep_work:
        shutil.rmtree(root, ignore_errors=True)
    return send


def send_table(sends: list[Send]) -> list[str]:
    one = next((s for s in sends if s.workers == 1 and s.error is None), None)
    lines = [f"  {'workers':>7}{'messages':>10}{'seconds':>9}{'msg/s':>8}{'/ 1 worker':>12}"
             f"{'run s':>8}{'workers CPU':>13}{'provider CPU':>14}  assisted  load average"]
    for s in sends:
        if s.error:
            lines.append(f"  {s.workers:>7}  failed: {s.error.splitlines()[0][:100]}")
            continue
        ratio = fmt_ratio(s.rate, one.rate if one else None)
        spread = "/".join(str(n) for n in s.assisted.values())
        lines.append(f"  {s.workers:>7}{s.sent:>10,}{s.seconds:>9.2f}{s.rate:>8,.0f}"
                     f"{ratio:>12}{s.run_seconds:>8.2f}"
                     f"{s.worker_cpu / s.run_seconds if s.run_seconds else 0:>13.0%}"
                     f"{s.provider_cpu / s.run_seconds if s.run_seconds else 0:>14.0%}  "
                     f"{spread:<9} {s.load_before} -> {s.load_after}")
    return lines


def send_problems(sends: list[Send]) -> list[str]:
    problems = []
    for s in sends:
        if s.error:
            problems.append(f"{s.workers} workers: {s.error}")
        elif not (s.sent == s.delivered == s.expected) or s.duplicates_refused:
            problems.append(f"{s.workers} workers: {s.sent:,} sent, {s.delivered:,} "
                            f"delivered, {s.expected:,} expected, {s.duplicates_refused} "
                            "duplicates refused by the provider")
        elif s.sent <= 0:
            problems.append(f"{s.workers} workers: nothing sent")
    return problems


# ------------------------------------------------------------------------ main


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="data planes of the targeting part (default duckdb,postgres,spark)")
    parser.add_argument("--customers", default="1000000,10000000",
                        help="sizes of the targeting part, comma separated")
    parser.add_argument("--purchases-per-customer", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the canvas N times per backend and size, keep the best")
    parser.add_argument("--workers", default="1,2,3", help="worker counts of the delivery part")
    parser.add_argument("--delivery-customers", type=int, default=50_000)
    parser.add_argument("--delay", type=float, default=0.05,
                        help="seconds the fake provider waits before each answer")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="the provider's connections per worker (default 4)")
    parser.add_argument("--batch-size", type=int, default=500, help="[delivery] batch_size")
    parser.add_argument("--postgres", default=os.environ.get(PG_ENV) or DEFAULT_POSTGRES,
                        help=f"a PostgreSQL server where schemas may be created "
                             f"(default ${PG_ENV}, else {DEFAULT_POSTGRES})")
    parser.add_argument("--pg-settings", default="",
                        help="settings of the targeting part's PostgreSQL connections, "
                             "e.g. work_mem=256MB (default: the server's)")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--spark-memory", default="6g", help="spark.driver.memory")
    parser.add_argument("--tiny", action="store_true",
                        help=f"{TINY_CUSTOMERS:,} customers, {TINY_DELIVERY} for delivery, "
                             "no latency")
    parser.add_argument("--skip-targeting", action="store_true")
    parser.add_argument("--skip-delivery", action="store_true")
    parser.add_argument("--keep-loaded", action="store_true",
                        help="keep the data loaded into PostgreSQL and Spark, reuse it next time")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the delivery workspaces (OUT/scale-work/)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--measure-target", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tiny:
        args.customers, args.delivery_customers, args.delay = str(TINY_CUSTOMERS), \
            TINY_DELIVERY, 0.0
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.measure_target:             # the child process of one targeting measurement
        backend, size = args.measure_target.split(":")
        target = measure_target(args, backend, int(size))
        print("RESULT " + json.dumps(dataclasses.asdict(target)), flush=True)
        return 0

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise SystemExit(f"unknown backend {unknown[0]!r}: use {', '.join(BACKENDS)}")
    if "duckdb" not in backends:
        backends.insert(0, "duckdb")    # the reference of the ratios and the counts
    customer_sizes = sorted(int(s.replace("_", "")) for s in args.customers.split(","))
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    load_start = loadavg()

    import duckdb

    print(f"Scale benchmark · {os.cpu_count()} cores · Python {platform.python_version()} · "
          f"DuckDB {duckdb.__version__} · PostgreSQL {server_version(args.postgres)} · "
          f"load average {load_start}", flush=True)

    targets: list[Target] = []
    if not args.skip_targeting:
        for size in customer_sizes:
            ds = targeting.prepare_dataset(args.out, size, args.purchases_per_customer,
                                           args.seed)
            state = "cached" if ds.cached else f"generated in {ds.generated_seconds:.1f} s"
            print(f"data {ds.label}: {ds.rows['customers']:,} customers, "
                  f"{ds.rows['purchases']:,} purchases ({state})", flush=True)
        for size in customer_sizes:
            for backend in backends:
                print(f"  reference canvas on {backend} at {size:,} customers ...", end=" ",
                      flush=True)
                target = run_target_child(args, backend, size)
                targets.append(target)
                if target.error:
                    print(f"NOT MEASURED: {target.error.splitlines()[0][:300]}", flush=True)
                else:
                    loading = ("" if target.load_seconds is None else
                               " (data already loaded)" if target.load_cached else
                               f" (loading took {target.load_seconds:.1f} s)")
                    print(f"{target.seconds:.2f} s{loading}", flush=True)

    sends: list[Send] = []
    expected = 0
    if not args.skip_delivery:
        ds = targeting.prepare_dataset(args.out, args.delivery_customers,
                                       delivery.PURCHASES_PER_CUSTOMER, args.seed)
        files, _, _ = parquet_files(ds)
        expected = int(delivery.expected_recipients(ds.data_file)["sms"])
        print(f"delivery: {args.delivery_customers:,} customers, {expected:,} SMS recipients; "
              f"fake provider delay {args.delay * 1000:g} ms, concurrency {args.concurrency} "
              f"per worker, batch_size {args.batch_size}", flush=True)
        for count in worker_counts:
            print(f"  {count} worker{'s' if count > 1 else ''} ...", end=" ", flush=True)
            send = measure_send(args, count, files / "customers.parquet", expected)
            sends.append(send)
            if send.error:
                print(f"FAILED: {send.error.splitlines()[0][:300]}", flush=True)
            else:
                print(f"{send.sent:,} sent in {send.seconds:.2f} s ({send.rate:,.0f}/s)",
                      flush=True)

    load_end = loadavg()
    problems = count_problems(targets) + send_problems(sends)
    if targets:
        print("\nReference canvas, engine in test mode (wall clock seconds, best of "
              f"{args.repeat}; loading apart)")
        print("\n".join(target_table(targets, customer_sizes)))
        for t in targets:
            if t.error:
                print(f"  {t.backend} at {t.customers:,}: NOT MEASURED: "
                      f"{t.error.splitlines()[0][:300]}")
        for t in targets:
            if t.activities:
                shown = ", ".join(f"{a} {s:.2f}" for a, s in t.activities.items())
                print(f"  per activity, {t.backend} at {t.customers:,}: {shown}")
    if sends:
        print(f"\nDelivery with workers: {args.delivery_customers:,} customers, "
              f"{expected:,} SMS, provider delay {args.delay * 1000:g} ms, "
              f"concurrency {args.concurrency} per worker, batch_size {args.batch_size}")
        print("\n".join(send_table(sends)))
        for s in sends:
            if s.error is None and s.workers > 1:
                one = next((o for o in sends if o.workers == 1 and o.error is None), None)
                print(f"ratio {s.workers} workers / 1 worker: "
                      f"{fmt_ratio(s.rate, one.rate if one else None)}")
    print(f"load average: {load_start} at the start, {load_end} at the end")

    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "duckdb": duckdb.__version__, "platform": platform.platform()},
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                      if k != "measure_target"},
        "load_average": {"start": load_start, "end": load_end},
        "targeting": [dataclasses.asdict(t) for t in targets],
        "delivery": {"expected": expected, "runs": [s.as_dict() for s in sends]},
        "problems": problems,
    }
    path = args.out / f"scale-{datetime.now().date().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"figures written to {path}")
    if problems:
        print("\nPROBLEMS:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    not_measured = [t for t in targets if t.error]
    if not_measured:
        print("\nNOT MEASURED: " + ", ".join(f"{t.backend} at {t.customers:,}"
                                             for t in not_measured))
        return 1
    if targets:
        print("all port counts equal across backends")
    if sends:
        print("every worker count delivered each expected message once")
    return 0


def server_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]).split()[0] if row else "?"
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


if __name__ == "__main__":
    sys.exit(main())
