"""Append benchmark: the message log's send results, tracked links and events.

    python bench/appends.py [--rows 100000] [--postgres URL] [--skip-duckdb]

On each data plane (a DuckDB file in a temporary folder, and PostgreSQL when --postgres
or $OVERTURE_TEST_POSTGRES_URL names a server: a schema of its own, dropped after),
`--rows` messages are planned (one set-based INSERT … SELECT, as a channel activity
does), then appended the way the engine appends them and timed:

  results  messages.record_results, in batches of 500 (delivery's batch_size)
  links    events.record_links, in batches of 500 (one link per message)
  events   events.append, in batches of 5,000 (the tracking sink's batch), one open per
           message; the same batches again (all duplicates: nothing stored)

Prints seconds and rows per second per phase and backend. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import psycopg

from overture.data import events, messages
from overture.data.plane import DataPlane

RESULT_BATCH = 500
EVENT_BATCH = 5000
T0 = datetime(2027, 3, 1, 9)


def plan(plane: DataPlane, rows: int) -> list[str]:
    """`rows` planned messages, written in one statement; their ids."""
    staged = f"ovw_bench_{uuid.uuid4().hex[:8]}"
    plane.con.create_table(staged, schema=ibis.schema({"i": "int64"}))
    plane.execute([(f"INSERT INTO {staged} SELECT g FROM generate_series(1, ?) AS s(g)",
                    [rows])])
    t = plane.table_any(staged)
    row = {name: ibis.null(dtype) for name, dtype in messages.MESSAGE_SCHEMA.items()}
    row.update(message_id=t.i.cast("string").lpad(12, "0"),
               run_id=ibis.literal("bench"), campaign=ibis.literal("bench"),
               activity_id=ibis.literal("mail"), channel=ibis.literal("email"),
               category=ibis.literal("marketing"), dimension=ibis.literal("customers"),
               profile_key=t.i.cast("string"), status=ibis.literal("pending"),
               created_at=ibis.literal(T0))
    messages.write_plan(plane, t.select(**row))
    plane.drop(staged)
    return [f"{i:012d}" for i in range(1, rows + 1)]


def timed(label: str, action: Callable[[], Any], rows: int, out: list[tuple[str, float, int]]
          ) -> Any:
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    out.append((label, seconds, rows))
    print(f"  {label:<22} {seconds:8.2f} s  {rows / seconds:>10,.0f} rows/s", flush=True)
    return result


def batches(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def run(plane: DataPlane, rows: int) -> list[tuple[str, float, int]]:
    out: list[tuple[str, float, int]] = []
    ids = timed("plan (one statement)", lambda: plan(plane, rows), rows, out)
    results = [{"message_id": m, "status": "sent", "provider": "bench", "attempts": 1,
                "at": T0 + timedelta(seconds=i % 3600)} for i, m in enumerate(ids)]
    links = [{"message_id": m, "link": 0, "url": "https://shop.example/a"} for m in ids]
    opens = [{"event_id": f"open-{m}", "message_id": m, "type": "open",
              "at": T0 + timedelta(hours=2), "machine": False, "source": "tracking"}
             for m in ids]

    def append_results() -> None:
        for batch in batches(results, RESULT_BATCH):
            messages.record_results(plane, batch)

    def append_links() -> None:
        for batch in batches(links, RESULT_BATCH):
            events.record_links(plane, batch)

    def append_events() -> int:
        return sum(events.append(plane, batch, machine_window=1.0).stored
                   for batch in batches(opens, EVENT_BATCH))

    timed(f"results ({RESULT_BATCH}/batch)", append_results, rows, out)
    timed(f"links ({RESULT_BATCH}/batch)", append_links, rows, out)
    stored = timed(f"events ({EVENT_BATCH}/batch)", append_events, rows, out)
    again = timed("events again (dups)", append_events, rows, out)
    assert (stored, again) == (rows, 0), (stored, again)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("OVERTURE_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-duckdb", action="store_true")
    args = parser.parse_args()
    if not args.skip_duckdb:
        with tempfile.TemporaryDirectory() as folder:
            print(f"duckdb, {args.rows:,} rows")
            plane = DataPlane.connect(f"duckdb:///{Path(folder) / 'data.duckdb'}")
            try:
                run(plane, args.rows)
            finally:
                plane.close()
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in args.postgres else "?"
        print(f"postgres, {args.rows:,} rows")
        plane = DataPlane.connect(f"{args.postgres}{sep}options=-csearch_path%3D{schema}")
        try:
            run(plane, args.rows)
        finally:
            plane.close()
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
