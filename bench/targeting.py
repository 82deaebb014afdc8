"""Targeting benchmark: the engine against hand-written DuckDB SQL and against pandas.

    python bench/targeting.py [--customers 10000000] [--purchases-per-customer 5]
                              [--pandas-customers 1000000] [--tiny] [--repeat 1]

The reference canvas (bench/reference.yaml) is run three ways on the sample retail data
of examples/generate.py, generated inside DuckDB straight into a workspace's data file
under bench/out/ (kept between runs, keyed by size, seed and generator version):

  (a) the engine: `overture.engine.api.run_campaign_file` in test mode, at --customers
      and at --pandas-customers;
  (b) the same logic written by hand as one DuckDB SQL script that materialises every
      port as a table, at both sizes;
  (c) a straightforward pandas implementation, at --pandas-customers.

Every port's count must be equal across the three (the script fails loudly when not);
then it prints the times and the ratios engine / hand SQL at --customers and
pandas / engine at --pandas-customers. Timings are wall-clock seconds of the
computation only (loading rows into pandas is shown apart). --tiny runs everything at
2,000 customers in a few seconds. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFERENCE = HERE / "reference.yaml"
GENERATOR = ROOT / "examples" / "generate.py"
SCHEMA = ROOT / "examples" / "schema.yaml"
DEFAULT_OUT = HERE / "out"

#: the run's logical clock (the data set's reference date is 2027-03-01)
CLOCK = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
#: the split's count limit as written in reference.yaml, for 10M customers
REFERENCE_CUSTOMERS = 10_000_000
TINY = 2_000

#: every output port of the reference canvas, in canvas order
PORTS = [("audience", "out"), ("excluded", "out"), ("kept", "out"), ("dedup", "out"),
         ("enriched", "out"), ("tiers", "vip"), ("tiers", "active"), ("tiers", "young"),
         ("tiers", "complement")]

Counts = dict[str, int]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("overture_examples_generate", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------ the data


@dataclass
class Dataset:
    customers: int
    purchases_per_customer: float
    seed: int
    root: Path
    rows: dict[str, int]
    generated_seconds: float
    cached: bool

    @property
    def data_file(self) -> Path:
        return self.root / ".overture" / "data.duckdb"

    @property
    def label(self) -> str:
        return self.root.name


def generator_version(customers: int, ppc: float, seed: int) -> str:
    """A digest of the SQL the generator runs: its comments and docs do not count."""
    gen = load_generator()
    ref = gen.DEFAULT_REFERENCE_DATE
    sql = "\n".join([gen.macros_sql(seed), gen.stores_sql(), gen.products_sql(),
                     gen.ids_sql(customers), gen.customers_sql(customers, ref),
                     gen.purchase_counts_sql(ppc), gen.purchases_sql(ref)])
    return hashlib.sha256(sql.encode()).hexdigest()[:12]


def prepare_dataset(out: Path, customers: int, ppc: float, seed: int) -> Dataset:
    """A workspace holding the generated tables, reused when size, seed and generator match."""
    from overture.data.workspace import Workspace

    root = out / f"c{customers}-p{ppc:g}-s{seed}"
    marker_path = root / "bench-data.json"
    key = {"customers": customers, "purchases_per_customer": ppc, "seed": seed,
           "generator": generator_version(customers, ppc, seed)}
    try:
        marker = json.loads(marker_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = {}
    data_file = root / ".overture" / "data.duckdb"
    if marker.get("key") == key and data_file.exists():
        return Dataset(customers, ppc, seed, root, marker["rows"], marker["seconds"], True)

    if root.exists():
        shutil.rmtree(root)
    Workspace.init(root)
    shutil.copyfile(SCHEMA, root / "schema.yaml")
    print(f"generating {customers:,} customers into {data_file} ...", flush=True)
    started = time.perf_counter()
    con = duckdb.connect(str(data_file))
    try:
        rows = load_generator().create_tables(con, customers, seed=seed,
                                              purchases_per_customer=ppc)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    seconds = time.perf_counter() - started
    marker_path.write_text(json.dumps({"key": key, "rows": rows, "seconds": seconds}),
                           encoding="utf-8")
    return Dataset(customers, ppc, seed, root, rows, seconds, False)


def count_limit(customers: int) -> int:
    document = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    base = _vip_subset(document)["limit"]["count"]
    return max(1, round(base * customers / REFERENCE_CUSTOMERS))


def _vip_subset(document: dict[str, Any]) -> dict[str, Any]:
    tiers = next(a for a in document["activities"] if a["id"] == "tiers")
    return next(s for s in tiers["subsets"] if s["id"] == "vip")


def scaled_reference(ds: Dataset) -> Path:
    """reference.yaml with the count limit scaled to the data set, inside its workspace."""
    document = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    _vip_subset(document)["limit"]["count"] = count_limit(ds.customers)
    path = ds.root / "campaigns" / "reference.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------------ (a) engine


def engine_available() -> str | None:
    """None when the engine can run, else why not."""
    try:
        import overture.engine.api  # noqa: F401
    except ImportError as exc:
        return f"overture.engine.api cannot be imported ({exc})"
    return None


#: seconds per activity of the last engine run at each size (from the control plane)
ENGINE_ACTIVITIES: dict[int, dict[str, float]] = {}


def run_engine(ds: Dataset) -> tuple[float, Counts]:
    from overture.data.plane import run_prefix
    from overture.data.workspace import Workspace
    from overture.engine.api import run_campaign_file

    path = scaled_reference(ds)
    ws = Workspace.open(ds.root)
    try:
        started = time.perf_counter()
        result = run_campaign_file(ws, path, mode="test", clock=CLOCK)
        seconds = time.perf_counter() - started
        if result.get("status") != "done":
            raise SystemExit(f"engine run failed: {json.dumps(result, indent=2, default=str)}")
        counts = {}
        for activity, port in PORTS:
            ports = result["activities"][activity]["ports"] or {}
            counts[f"{activity}.{port}"] = int(ports[port])
        states = ws.control.activity_runs(str(result["run"]))
        ENGINE_ACTIVITIES[ds.customers] = {
            activity: (state.finished_at - state.started_at).total_seconds()
            for activity in dict.fromkeys(a for a, _ in PORTS)
            if (state := states.get(activity)) and state.started_at and state.finished_at}
        # the work tables of benchmark runs are not kept (they would fill the disk)
        prefix = run_prefix(str(result["run"]))
        for name in ws.data.list_tables(include_internal=True):
            if name.startswith(prefix):
                ws.data.drop(name)
    finally:
        ws.close()
    return seconds, counts


# ------------------------------------------------------------------------ (b) hand SQL


def ts(moment: datetime) -> str:
    """A naive UTC TIMESTAMP literal (the data's timestamps are naive UTC)."""
    return f"TIMESTAMP '{moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=' ')}'"


def hand_sql(limit: int) -> str:
    """The reference canvas as one DuckDB script: every port materialised in schema `hand`."""
    clock, d180, d90 = ts(CLOCK), ts(CLOCK - timedelta(days=180)), ts(CLOCK - timedelta(days=90))
    return f"""
CREATE SCHEMA IF NOT EXISTS hand;

-- audience: three predicates, an exists and an aggregate on purchases
CREATE OR REPLACE TABLE hand.audience_out AS
SELECT c.customer_id
FROM customers c JOIN purchases p ON p.customer_id = c.customer_id
WHERE c.country IN ('FR', 'ES', 'DE', 'IT') AND c.age BETWEEN 25 AND 54 AND c.email_optin
GROUP BY c.customer_id
HAVING count_if(p.purchased_at BETWEEN {d180} AND {clock}) > 0 AND sum(p.amount) >= 100;

CREATE OR REPLACE TABLE hand.excluded_out AS
SELECT customer_id FROM customers WHERE loyalty_tier = 'platinum';

CREATE OR REPLACE TABLE hand.kept_out AS
SELECT a.customer_id FROM hand.audience_out a ANTI JOIN hand.excluded_out e USING (customer_id);

-- one per email, the lowest key (NULL emails are never duplicates)
CREATE OR REPLACE TABLE hand.dedup_out AS
WITH k AS (SELECT k.customer_id, c.email FROM hand.kept_out k JOIN customers c USING (customer_id))
SELECT customer_id FROM k WHERE email IS NULL
UNION ALL
SELECT min(customer_id) FROM k WHERE email IS NOT NULL GROUP BY email;

CREATE OR REPLACE TABLE hand.enriched_out AS
-- (narrow types: DuckDB's DECIMAL(38,2) and HUGEINT results are slow to scan again)
SELECT d.customer_id,
       CAST(coalesce(sum(p.amount), 0) AS DECIMAL(18, 2)) AS total_spent,
       CAST(count_if(p.purchased_at BETWEEN {d90} AND {clock}) AS BIGINT) AS orders_90d
FROM hand.dedup_out d LEFT JOIN purchases p ON p.customer_id = d.customer_id
GROUP BY d.customer_id;

-- split, first match wins: vip (count limit, biggest spenders first, ties by key)
CREATE OR REPLACE TABLE hand.tiers_vip AS
SELECT * FROM hand.enriched_out WHERE total_spent >= 1000
ORDER BY total_spent DESC, customer_id LIMIT {int(limit)};

-- active: 30% (rounded down) of the still unassigned rows matching, lowest keys
CREATE OR REPLACE TABLE hand.tiers_active AS
WITH candidates AS (
    SELECT e.* FROM hand.enriched_out e ANTI JOIN hand.tiers_vip v USING (customer_id)
    WHERE e.orders_90d >= 2
)
SELECT * FROM candidates
QUALIFY row_number() OVER (ORDER BY customer_id) <= (count(*) OVER ()) * 30 // 100;

CREATE OR REPLACE TABLE hand.tiers_rest AS
SELECT e.* FROM hand.enriched_out e
ANTI JOIN hand.tiers_vip v USING (customer_id)
ANTI JOIN hand.tiers_active a USING (customer_id);

CREATE OR REPLACE TABLE hand.tiers_young AS
SELECT r.* FROM hand.tiers_rest r JOIN customers c USING (customer_id) WHERE c.age < 35;

CREATE OR REPLACE TABLE hand.tiers_complement AS
SELECT r.* FROM hand.tiers_rest r ANTI JOIN hand.tiers_young y USING (customer_id);
DROP TABLE hand.tiers_rest;
"""


def hand_table(activity: str, port: str) -> str:
    return f"hand.{activity}_{port}"


def run_hand_sql(ds: Dataset) -> tuple[float, Counts]:
    con = duckdb.connect(str(ds.data_file))
    try:
        script = hand_sql(count_limit(ds.customers))
        started = time.perf_counter()
        con.execute(script)
        seconds = time.perf_counter() - started
        counts = {}
        for activity, port in PORTS:
            row = con.execute(f"SELECT count(*) FROM {hand_table(activity, port)}").fetchone()
            counts[f"{activity}.{port}"] = int(row[0]) if row else 0
        con.execute("DROP SCHEMA hand CASCADE")
    finally:
        con.close()
    return seconds, counts


# ------------------------------------------------------------------------ (c) pandas


def load_pandas(ds: Dataset) -> tuple[float, Any, Any]:
    """The columns the canvas reads, as DataFrames; amounts as integer cents (exact sums)."""
    con = duckdb.connect(str(ds.data_file), read_only=True)
    try:
        started = time.perf_counter()
        customers = con.execute(
            "SELECT customer_id, country, age, email_optin, email, loyalty_tier "
            "FROM customers ORDER BY customer_id").df()
        purchases = con.execute(
            "SELECT customer_id, purchased_at, CAST(amount * 100 AS BIGINT) AS cents "
            "FROM purchases").df()
        seconds = time.perf_counter() - started
    finally:
        con.close()
    return seconds, customers, purchases


def run_pandas(customers: Any, purchases: Any, limit: int) -> tuple[float, Counts]:
    import pandas as pd

    started = time.perf_counter()
    clock = pd.Timestamp(CLOCK.replace(tzinfo=None))
    d180 = clock - pd.Timedelta(days=180)
    d90 = clock - pd.Timedelta(days=90)
    when = purchases["purchased_at"]

    per_customer = pd.DataFrame({
        "total_cents": purchases.groupby("customer_id")["cents"].sum(),
        "recent": ((when >= d180) & (when <= clock)).groupby(purchases["customer_id"]).any(),
    })
    c = customers
    chosen = c[c["country"].isin(["FR", "ES", "DE", "IT"]) & c["age"].between(25, 54)
               & (c["email_optin"] == True)]  # noqa: E712 (NULL is not true)
    chosen = chosen.join(per_customer, on="customer_id", how="inner")
    audience = chosen[chosen["recent"] & (chosen["total_cents"] >= 100_00)]

    excluded = c.loc[c["loyalty_tier"] == "platinum", "customer_id"]
    kept = audience[~audience["customer_id"].isin(excluded)].sort_values("customer_id")

    first = ~kept["email"].duplicated(keep="first")
    dedup = kept[kept["email"].isna() | first]

    orders_90d = (purchases.loc[(when >= d90) & (when <= clock), "customer_id"]
                  .value_counts())
    enriched = pd.DataFrame({"customer_id": dedup["customer_id"].to_numpy(),
                             "age": dedup["age"].to_numpy()})
    enriched["total_spent"] = (enriched["customer_id"].map(per_customer["total_cents"])
                               .fillna(0).astype("int64"))
    enriched["orders_90d"] = (enriched["customer_id"].map(orders_90d).fillna(0)
                              .astype("int64"))

    vip = (enriched[enriched["total_spent"] >= 1000_00]
           .sort_values(["total_spent", "customer_id"], ascending=[False, True]).head(limit))
    rest = enriched[~enriched["customer_id"].isin(vip["customer_id"])]
    candidates = rest[rest["orders_90d"] >= 2].sort_values("customer_id")
    active = candidates.head(len(candidates) * 30 // 100)
    rest = rest[~rest["customer_id"].isin(active["customer_id"])]
    young = rest[rest["age"] < 35]
    complement = rest[~(rest["age"] < 35)]
    seconds = time.perf_counter() - started
    counts = {"audience.out": len(audience), "excluded.out": len(excluded),
              "kept.out": len(kept), "dedup.out": len(dedup), "enriched.out": len(enriched),
              "tiers.vip": len(vip), "tiers.active": len(active), "tiers.young": len(young),
              "tiers.complement": len(complement)}
    return seconds, counts


# ------------------------------------------------------------------------ report


def check_counts(size: int, results: dict[str, Counts]) -> list[str]:
    """Lines describing every port whose count differs between implementations."""
    names = list(results)
    problems = []
    for activity, port in PORTS:
        key = f"{activity}.{port}"
        values = {name: results[name][key] for name in names}
        if len(set(values.values())) > 1:
            shown = ", ".join(f"{name} {value:,}" for name, value in values.items())
            problems.append(f"{size:,} customers, {key}: {shown}")
    return problems


def print_counts(title: str, results: dict[str, Counts]) -> None:
    names = list(results)
    print(f"\n{title}")
    print(f"  {'port':<18}" + "".join(f"{name:>16}" for name in names))
    for activity, port in PORTS:
        key = f"{activity}.{port}"
        print(f"  {key:<18}" + "".join(f"{results[name][key]:>16,}" for name in names))


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "n/a"
    return f"{a / b:.2f}x"


def best_of(repeat: int, work: Any) -> tuple[float, Counts]:
    best: tuple[float, Counts] | None = None
    for _ in range(max(1, repeat)):
        seconds, counts = work()
        if best is None or seconds < best[0]:
            best = (seconds, counts)
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--purchases-per-customer", type=float, default=5.0)
    parser.add_argument("--pandas-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tiny", action="store_true",
                        help=f"everything at {TINY:,} customers, in a few seconds")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each timed step N times and keep the best (default 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the generated workspaces are kept (default bench/out)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.customers = args.pandas_customers = TINY
    ppc = args.purchases_per_customer

    print(f"Targeting benchmark · {REFERENCE.relative_to(ROOT)} · {os.cpu_count()} cores · "
          f"Python {platform.python_version()} · DuckDB {duckdb.__version__}", flush=True)
    big = prepare_dataset(args.out, args.customers, ppc, args.seed)
    small = (big if args.pandas_customers == args.customers
             else prepare_dataset(args.out, args.pandas_customers, ppc, args.seed))
    datasets = [big] if small is big else [big, small]
    for ds in datasets:
        state = "cached" if ds.cached else "generated"
        print(f"data {ds.label}: {ds.rows['customers']:,} customers, "
              f"{ds.rows['purchases']:,} purchases ({state}; generation took "
              f"{ds.generated_seconds:.1f} s)", flush=True)

    why_not = engine_available()
    if why_not:
        print(f"engine: not run, {why_not}", flush=True)

    times: dict[tuple[str, int], float] = {}
    results: dict[int, dict[str, Counts]] = {big.customers: {}, small.customers: {}}

    def step(name: str, ds: Dataset, work: Any) -> None:
        print(f"  {name} at {ds.customers:,} customers ...", end=" ", flush=True)
        seconds, counts = best_of(args.repeat, work)
        print(f"{seconds:.2f} s", flush=True)
        times[(name, ds.customers)] = seconds
        results[ds.customers][name] = counts

    for ds in datasets:
        if not why_not:
            step("engine", ds, lambda ds=ds: run_engine(ds))
        step("hand SQL", ds, lambda ds=ds: run_hand_sql(ds))
    load_seconds, *frames = load_pandas(small)
    step("pandas", small, lambda: run_pandas(*frames, count_limit(small.customers)))
    frames.clear()

    problems = []
    for size, by_name in results.items():
        print_counts(f"Port counts at {size:,} customers", by_name)
        problems += check_counts(size, by_name)

    print("\nTimes (wall clock, seconds; computation only)")
    print(f"  {'implementation':<28}{'customers':>14}{'seconds':>10}")
    for (name, size), seconds in times.items():
        print(f"  {name:<28}{size:>14,}{seconds:>10.2f}")
    print(f"  {'(loading rows into pandas)':<28}{small.customers:>14,}{load_seconds:>10.2f}")
    for size, per_activity in ENGINE_ACTIVITIES.items():
        print(f"\nEngine time per activity at {size:,} customers (seconds, last run)")
        for activity, seconds in per_activity.items():
            print(f"  {activity:<28}{seconds:>10.2f}")
    engine_big = times.get(("engine", big.customers))
    engine_small = times.get(("engine", small.customers))
    print()
    print(f"ratio engine / hand SQL at {big.customers:,} customers: "
          f"{fmt_ratio(engine_big, times.get(('hand SQL', big.customers)))}"
          + (" (engine not available)" if why_not else ""))
    print(f"ratio pandas / engine at {small.customers:,} customers: "
          f"{fmt_ratio(times.get(('pandas', small.customers)), engine_small)}"
          + (" (engine not available)" if why_not else ""))

    if problems:
        print("\nCOUNTS DIFFER: the implementations do not compute the same ports", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("\nall port counts equal across implementations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
