"""The tracking load benchmark runs end to end at a tiny size (timings never asserted)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.xdist_group("bench")
def test_tiny_tracking_benchmark_stores_every_hit_once(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "tracking.py"), "--tiny", "--out", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert re.search(r"^ratio overture / baseline: [\d.]+x", output, re.M), output
    assert "every hit answered and stored once" in output
    figures = json.loads((tmp_path / "tracking.json").read_text())
    assert figures["hits"] == 600 == figures["opens"] + figures["clicks"]
    assert figures["stored"] == {"open": figures["opens"], "click": figures["clicks"]}
