"""The targeting benchmark runs end to end at a tiny size (its timings are never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.xdist_group("bench")
def test_tiny_benchmark_runs_and_prints_the_ratios(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "targeting.py"), "--tiny", "--out", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert re.search(r"^ratio engine / hand SQL at 2,000 customers: ", output, re.M), output
    assert re.search(r"^ratio pandas / engine at 2,000 customers: ", output, re.M), output
    assert "all port counts equal across implementations" in output
    # the three implementations ran and agreed on every port
    assert re.search(r"^\s+tiers\.complement\s+[\d,]+\s+[\d,]+\s+[\d,]+$", output, re.M), output


@pytest.mark.xdist_group("bench")
def test_the_benchmark_fails_loudly_when_counts_differ(tmp_path: Path) -> None:
    """A hand SQL that disagrees with the others makes the benchmark exit 1 and say where."""
    script = f"""
import sys
sys.argv = ["targeting.py", "--tiny", "--out", {str(tmp_path)!r}]
sys.path.insert(0, {str(ROOT / "bench")!r})
import targeting
original = targeting.hand_sql
targeting.hand_sql = lambda limit: original(limit + 1000)
sys.exit(targeting.main())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "COUNTS DIFFER" in result.stderr
    assert "tiers.vip" in result.stderr
