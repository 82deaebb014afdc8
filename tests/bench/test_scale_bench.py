"""The scale benchmark runs end to end at a tiny size (its timings are never asserted).

The reference canvas must give the same count on every port on each backend, and each
worker count must deliver every SMS recipient exactly once (counted here from the
generated table with this file's own code).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.retail import customers

ROOT = Path(__file__).resolve().parents[2]
PG_ENV = "OVERTURE_TEST_POSTGRES_URL"
#: the sms address check of spec §5 as the docs state it, written again here
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{5,19}$")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bench"), pytest.mark.postgres]


def textable(rows: list[dict[str, Any]]) -> int:
    return sum(1 for row in rows
               if row["sms_optin"] is True and PHONE_RE.match(str(row["phone"] or "").strip()))


def run_bench(out: Path, *options: str) -> tuple[str, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--tiny", "--out", str(out),
         "--postgres", os.environ[PG_ENV], *options],
        capture_output=True, text=True, check=False, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    (written,) = out.glob("scale-*.json")
    return result.stdout, json.loads(written.read_text(encoding="utf-8"))


def check_targeting(output: str, figures: dict[str, Any], backends: list[str]) -> None:
    assert "all port counts equal across backends" in output
    for backend in backends:
        ratio = "1.00x" if backend == "duckdb" else r"[\d.]+x"
        assert re.search(rf"^\s+{backend}\s+2,000\s+[\d,]+\s+[\d.]+\s+{ratio}", output,
                         re.M), output
    targets = figures["targeting"]
    assert [t["backend"] for t in targets] == backends
    reference = targets[0]["counts"]
    assert len(reference) == 9 and reference["tiers.vip"] > 0
    for t in targets:
        assert t["error"] is None and t["customers"] == 2000
        assert t["seconds"] > 0 and t["counts"] == reference
        assert set(t["activities"]) == {"audience", "excluded", "kept", "dedup", "enriched",
                                        "tiers"}
        if t["backend"] != "duckdb":
            assert t["load_seconds"] > 0 and not t["load_cached"]


def test_tiny_benchmark_measures_duckdb_postgres_and_workers(tmp_path: Path) -> None:
    output, figures = run_bench(tmp_path, "--backends", "duckdb,postgres", "--workers", "1,2")
    check_targeting(output, figures, ["duckdb", "postgres"])

    assert "every worker count delivered each expected message once" in output
    for workers in (2,):  # three in `make bench`; two keep make test short
        assert re.search(rf"^ratio {workers} workers / 1 worker: [\d.]+x$", output, re.M), output
    (workspace,) = [path.parent.parent for path in tmp_path.glob("c300-*/.overture/data.duckdb")]
    expected = textable(customers(workspace))
    assert expected > 0 and figures["delivery"]["expected"] == expected
    runs = figures["delivery"]["runs"]
    assert [r["workers"] for r in runs] == [1, 2]
    for r in runs:
        assert r["error"] is None and r["status"] == "done"
        assert r["sent"] == r["delivered"] == expected and r["duplicates_refused"] == 0
        assert r["seconds"] > 0 and r["messages_per_second"] > 0
        assert r["run_seconds"] >= r["seconds"]
        assert len(r["assisted"]) == r["workers"]
        assert all(n >= 0 for n in r["assisted"].values())  # each stopped and said so
    assert figures["problems"] == []
    # the delivery workspaces are not kept
    assert not list((tmp_path / "scale-work").glob("send-*"))


@pytest.mark.spark
def test_tiny_benchmark_measures_spark(tmp_path: Path) -> None:
    output, figures = run_bench(tmp_path, "--backends", "duckdb,spark", "--skip-delivery")
    check_targeting(output, figures, ["duckdb", "spark"])
    assert figures["delivery"]["runs"] == []
