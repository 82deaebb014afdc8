"""Tracking load benchmark: tracking hits on loopback against a running `overture serve`.

    python bench/tracking.py [--hits 20000] [--connections 200] [--messages 2000] [--tiny]

1. a workspace with the sample retail data; an email campaign sent live to the
   outbox (`overture run --live`), so that every hit carries a genuine token;
2. `overture serve` started; the hits (80% opens, 20% clicks, spread over every
   message and link) fired by `--connections` kept-alive HTTP/1.1 connections of an
   asyncio client in this process; each request's latency measured with
   `time.perf_counter_ns` (resolution printed);
3. the server stopped with SIGTERM (its sink appends what is queued), then the events
   table is read: every hit must be there, once (exit 1 otherwise);
4. the baseline: the same load against a bare ASGI app on uvicorn answering the same
   GIF with no token check and no recording, in the same run: the ratio says what
   verifying and recording cost.

Nothing here asserts a time; `--tiny` runs it in seconds (what `make test` does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.retail import retail_workspace  # noqa: E402
from support.server import ServerProcess, free_port  # noqa: E402

CAMPAIGN = """\
name: load
target: customers
activities:
  - {id: everyone, type: build_audience, rule: {field: customer_id, op: lte, value: %d}}
  - id: mail
    type: email
    inputs: [everyone]
    from: "Shop <news@shop.example>"
    subject: "Hello {{ first_name }}"
    html: '<p>Hi {{ first_name }}</p><a href="https://shop.example/a">A</a><a href="https://shop.example/b">B</a>'
"""
BASELINE_APP = """
import uvicorn
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f904010000"
                      "00002c00000000010001000002024401003b")
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"image/gif"),
                            (b"content-length", str(len(PIXEL)).encode())]})
    await send({"type": "http.response.body", "body": PIXEL})
uvicorn.run(app, host="127.0.0.1", port=%d, log_level="warning")
"""


@dataclass
class Load:
    hits: int
    seconds: float
    latencies_ns: list[int]
    statuses: dict[int, int]

    @property
    def per_second(self) -> float:
        return self.hits / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


async def _worker(port: int, paths: list[str], latencies: list[int],
                  statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in paths:
            started = time.perf_counter_ns()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"
                         .encode())
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter_ns() - started)
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def fire(port: int, paths: list[str], connections: int) -> Load:
    latencies: list[int] = []
    statuses: dict[int, int] = {}
    shares = [paths[i::connections] for i in range(connections)]

    async def main() -> None:
        await asyncio.gather(*(_worker(port, share, latencies, statuses)
                               for share in shares if share))

    started = time.perf_counter()
    asyncio.run(main())
    return Load(len(paths), time.perf_counter() - started, latencies, statuses)


def hits_for(root: Path, hits: int, click_share: float = 0.2, seed: int = 7
             ) -> tuple[list[str], int, int]:
    """`hits` request paths (by default 80% opens, 20% clicks) over the messages in the
    outbox."""
    from overture.channels.outbox import OutboxReader, email_part, outbox_directory

    reader = OutboxReader(outbox_directory(root / ".overture"))
    pixels, clicks = [], []
    for entry in reader.messages(channel="email"):
        html = email_part(entry.email(), "html") or ""
        pixels += re.findall(r'src="https?://[^/"]+(/o/[^"]+)"', html)
        clicks += re.findall(r'href="https?://[^/"]+(/c/[^"]+)"', html)
    rng = random.Random(seed)
    paths = [rng.choice(clicks) if rng.random() < click_share else rng.choice(pixels)
             for _ in range(hits)]
    opens = sum(1 for p in paths if p.startswith("/o/"))
    return paths, opens, hits - opens


def count_events(root: Path) -> dict[str, int]:
    from overture.data import events
    from overture.data.workspace import Workspace

    ws = Workspace.open(root)
    try:
        table = events.events(ws.data)
        if table is None:
            return {}
        rows = table.group_by("type").aggregate(n=table.count()).to_pyarrow().to_pylist()
        return {r["type"]: int(r["n"]) for r in rows}
    finally:
        ws.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--click-share", type=float, default=0.2)
    parser.add_argument("--tiny", action="store_true", help="a few hundred hits, in seconds")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "tracking")
    args = parser.parse_args(argv)
    if args.tiny:
        args.hits, args.connections, args.messages = 600, 20, 60
    customers = max(2_000, args.messages)
    root = args.out / "ws"
    if root.exists():
        import shutil

        shutil.rmtree(root)
    args.out.mkdir(parents=True, exist_ok=True)
    retail_workspace(root, customers, config="\n[tracking]\nmachine_window_seconds = 0\n")
    campaign = root / "campaigns" / "load.yaml"
    campaign.write_text(CAMPAIGN % args.messages, encoding="utf-8")
    overture = str(Path(sys.executable).parent / "overture")
    sent = subprocess.run([overture, "run", str(campaign), "--live", "--json"], cwd=root,
                          capture_output=True, text=True, check=False)
    if sent.returncode != 0:
        print(sent.stdout[-2000:], sent.stderr[-2000:])
        return 1
    paths, opens, clicks = hits_for(root, args.hits, args.click_share)
    resolution = time.get_clock_info("perf_counter").resolution
    print(f"{args.hits:,} hits ({opens:,} opens, {clicks:,} clicks) over "
          f"{json.loads(sent.stdout)['activities']['mail']['ports']['out']:,} messages, "
          f"{args.connections} connections; timer resolution {resolution * 1e9:.0f} ns")

    server = ServerProcess(root).start()
    try:
        load = fire(server.port, paths, args.connections)
    finally:
        server.stop()
    stored = count_events(root)

    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BASELINE_APP % port])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                fire(port, ["/"], 1)
                break
            except OSError:
                time.sleep(0.05)
        base = fire(port, ["/o/x.gif"] * args.hits, args.connections)
    finally:
        bare.terminate()
        bare.wait(timeout=30)

    rows = [("overture serve (verify + record)", load), ("bare ASGI pixel (baseline)", base)]
    print(f"{'phase':<34} {'hits/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, result in rows:
        print(f"{name:<34} {result.per_second:>9,.0f} {result.percentile(0.5):>8.2f} "
              f"{result.percentile(0.99):>8.2f} {max(result.latencies_ns) / 1e6:>8.2f}")
    print(f"ratio overture / baseline: {load.per_second / base.per_second:.2f}x "
          f"(goal: at least 2,000 events/s: "
          f"{'met' if load.per_second >= 2000 else 'NOT met'})")
    print(f"answers: {load.statuses}; stored events: {stored}")
    figures = {"hits": args.hits, "connections": args.connections, "opens": opens,
               "clicks": clicks, "per_second": load.per_second,
               "p50_ms": load.percentile(0.5), "p99_ms": load.percentile(0.99),
               "baseline_per_second": base.per_second,
               "baseline_p99_ms": base.percentile(0.99), "stored": stored,
               "resolution_ns": resolution * 1e9,
               "median_ms": statistics.median(load.latencies_ns) / 1e6}
    (args.out / "tracking.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    lost = opens - stored.get("open", 0), clicks - stored.get("click", 0)
    if lost != (0, 0) or load.statuses.get(200, 0) != opens \
            or load.statuses.get(302, 0) != clicks:
        print(f"FAILED: events lost or wrong answers (opens, clicks missing: {lost})")
        return 1
    print("every hit answered and stored once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
