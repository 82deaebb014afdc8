"""The canvas benchmark: its generated documents are valid campaigns of exactly the size
asked, and its tiny run opens, reloads and drags them in the real editor (its timings
are never asserted).

The tiny run needs a working canvas editor: a route that does not show the document's
activities as React Flow nodes, or nodes that do not follow a drag, make it fail.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from overture.data.workspace import Workspace
from overture.definition.validation import validate
from overture.engine.environment import environment_for
from support.retail import retail_workspace

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "canvas.py"


def bench_module() -> ModuleType:
    name = "overture_bench_canvas"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 10, 13, 29, 100])
def test_the_generated_canvas_is_a_valid_campaign_of_that_size(tmp_path: Path,
                                                               size: int) -> None:
    document = bench_module().canvas_document(f"canvas-{size}", size)
    activities = document["activities"]
    assert len(activities) == size
    assert len({a["id"] for a in activities}) == size
    ws = Workspace.open(retail_workspace(tmp_path / "ws", 50))
    try:
        result = validate(document, environment_for(ws, None))
    finally:
        ws.close()
    assert result.problems == []
    if size >= 10:
        types = Counter(a["type"] for a in activities)
        assert set(types) == {"build_audience", "deduplicate", "split", "email", "wait", "end"}
        assert types["build_audience"] == -(-size // 10)  # a branch per ten, and the rest
        assert types["split"] == size // 10


@pytest.mark.web
@pytest.mark.slow
@pytest.mark.xdist_group("web")  # one Chromium at a time, with the browser tests
def test_tiny_canvas_benchmark_renders_and_drags_every_canvas(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--tiny", "--out", str(tmp_path)],
                            capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert re.search(r"^baseline, 3 activities\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+8$",
                     output, re.M), output
    assert re.search(r"^measured, 5 activities\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+8$",
                     output, re.M), output
    assert re.search(r"^ratio 5 / 3 activities: render [\d.]+x, after data [\d.]+x, "
                     r"drag median [\d.]+x, drag p95 [\d.]+x$", output, re.M), output
    assert re.search(r"^goal at 5 activities, under 100 ms each: render \d+ ms \((NOT )?met\), "
                     r"drag step p95 \d+ ms \((NOT )?met\)$", output, re.M), output

    figures = json.loads((tmp_path / "canvas.json").read_text(encoding="utf-8"))
    assert (figures["reloads"], figures["steps"]) == (2, 8)
    for key, size in (("baseline", 3), ("measured", 5)):
        canvas = figures[key]
        assert canvas["activities"] == canvas["nodes_shown"] == size
        assert len(canvas["render_painted_ms"]) == len(canvas["render_in_dom_ms"]) == 2
        for in_dom, painted, after_data in zip(canvas["render_in_dom_ms"],
                                               canvas["render_painted_ms"],
                                               canvas["render_after_data_ms"], strict=True):
            assert 0 < in_dom <= painted
            assert 0 < after_data < painted
        assert len(canvas["drag_steps_ms"]) == 8
        assert all(step > 0 for step in canvas["drag_steps_ms"])
        assert canvas["dragged_node"].startswith("node-")
        assert canvas["dragged_px"] == 40
        assert abs(canvas["moved_px"] - 40) <= 8  # the node followed the pointer
