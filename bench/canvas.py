"""Canvas benchmark: how fast the web editor shows and drags a big campaign, in Chromium.

    python bench/canvas.py [--activities 100] [--baseline 10] [--reloads 5] [--steps 40] [--tiny]

1. a campaign document of `--activities` activities is generated: branches of ten
   (build_audience -> deduplicate -> split in two subsets and a complement, each subset
   email -> wait -> end, the complement to an end), the rest one shorter chain; it is
   created as a draft through the API of a real `overture serve` (no problems allowed);
2. its editor (`#/campaigns/NAME`) is opened in headless Chromium (Debian's, through
   Playwright, as the browser tests launch it), logged in as a manager;
3. **render**: on each of `--reloads` reloads (after one unmeasured load), the time from
   the navigation's start (`performance.now()` counts from it) until every node
   (`.react-flow__node`, no longer hidden by React Flow for want of its size) is in the
   DOM, and then until the frame showing them is painted (the next animation frame, and
   the task after it); the median is reported, and apart the part of it the editor spent
   laying the document out (its `overture:layout` measure), and when the page asked
   for the campaign's JSON and how long the server took to answer;
4. **drag**: the visible node nearest the middle is pressed and moved by `--steps` steps
   of 5 px with `page.mouse`, one step at a time: each step is timed in the page from
   the pointermove event to the end of the next painted frame; median and p95 per step,
   and the node must have moved by the distance dragged;
5. the same for the baseline canvas of `--baseline` activities, in the same run: the
   ratios say what the size costs. The goal: under 100 ms each.

The figures are written to `--out`/canvas.json. Nothing here asserts a time; the
benchmark exits 1 when the document has problems, when the editor does not show
exactly the activities, or when the drag does not move the node. `--tiny` (5 and 3
activities, two reloads, 8 steps) is what `make test` runs.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from overture.data.workspace import Workspace  # noqa: E402
from overture.store.users import UserRepository  # noqa: E402
from support.retail import retail_workspace  # noqa: E402
from support.server import ServerProcess  # noqa: E402
from web.browser import launch, missing  # noqa: E402

GOAL_MS = 100.0
STEP_PX = 5
USER, PASSWORD = "bench-manager", "bench-canvas-password-1"
TIMEOUT_MS = 60_000
COUNTRIES = ["FR", "ES", "DE", "IT", "GB", "US"]

#: runs at the start of every document: records when all `want` nodes are in the DOM
#: and shown, then when the frame that shows them has been painted
RENDER_PROBE = """
(() => {
  const want = %d;
  const bench = (window.__bench = { want, nodes: 0, inDom: null, painted: null });
  const shown = () => {
    let count = 0;
    for (const node of document.querySelectorAll(".react-flow__node")) {
      if (node.style.visibility !== "hidden") count += 1;
    }
    return count;
  };
  const observer = new MutationObserver(() => {
    bench.nodes = shown();
    if (bench.nodes < want || bench.inDom !== null) return;
    bench.inDom = performance.now();
    observer.disconnect();
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        bench.painted = performance.now();
        bench.nodes = shown();
      };
      channel.port2.postMessage(null);
    });
  });
  observer.observe(document, { childList: true, subtree: true, attributes: true,
                               attributeFilter: ["style", "class"] });
})();
"""

#: times each pointermove of a drag, from the event to the end of the next painted frame
DRAG_PROBE = """
() => {
  const drag = (window.__drag = { steps: [] });
  window.addEventListener("pointermove", (event) => {
    if (!(event.buttons & 1)) return;
    const start = event.timeStamp;
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => drag.steps.push(performance.now() - start);
      channel.port2.postMessage(null);
    });
  }, { capture: true });
}
"""


#: how long the editor took to lay the document out (it has no positions), or null
LAYOUT = """
() => {
  const entries = performance.getEntriesByName("overture:layout");
  return entries.length ? entries[entries.length - 1].duration : null;
}
"""

#: when GET /api/campaigns/NAME (the document) was asked for and when its answer had
#: arrived, or null
DATA_ARRIVED = """
path => {
  const entry = performance.getEntriesByType("resource")
    .find((e) => new URL(e.name).pathname === path);
  return entry ? [entry.startTime, entry.responseEnd] : null;
}
"""


# ---- the document ----

def _email(aid: str, inputs: list[str], subject: str) -> dict[str, Any]:
    return {"id": aid, "type": "email", "inputs": inputs,
            "from": "Overture Shop <news@shop.example>", "subject": subject,
            "html": "<p>Hello {{ first_name }}</p>"}


def _branch(k: int) -> list[dict[str, Any]]:
    """Ten activities: an audience, its dedup, a split in two subsets and a complement;
    each subset gets an email, a wait and an end, the complement an end."""
    p = f"b{k:02d}"
    country = COUNTRIES[k % len(COUNTRIES)]
    activities: list[dict[str, Any]] = [
        {"id": f"{p}_audience", "type": "build_audience", "label": f"Opted-in in {country}",
         "rule": {"all": [{"field": "country", "op": "eq", "value": country},
                          {"field": "email_optin", "op": "eq", "value": True}]}},
        {"id": f"{p}_dedup", "type": "deduplicate", "inputs": [f"{p}_audience"],
         "keys": ["email"]},
        {"id": f"{p}_split", "type": "split", "inputs": [f"{p}_dedup"], "complement": True,
         "subsets": [{"id": "gold", "rule": {"field": "loyalty_tier", "op": "eq",
                                             "value": "gold"}},
                     {"id": "young", "rule": {"field": "age", "op": "lt", "value": 35}}]},
    ]
    for subset in ("gold", "young"):
        activities += [
            _email(f"{p}_{subset}_mail", [f"{p}_split.{subset}"], f"For our {subset} ones"),
            {"id": f"{p}_{subset}_wait", "type": "wait", "inputs": [f"{p}_{subset}_mail"],
             "duration": "2 days"},
            {"id": f"{p}_{subset}_end", "type": "end", "inputs": [f"{p}_{subset}_wait"]},
        ]
    activities.append({"id": f"{p}_rest_end", "type": "end",
                       "inputs": [f"{p}_split.complement"]})
    return activities


def _chain(length: int) -> list[dict[str, Any]]:
    """`length` activities in a line: an audience, a dedup, emails and waits, an end."""
    chain: list[dict[str, Any]] = [{"id": "tail_audience", "type": "build_audience",
                                    "rule": {"field": "country", "op": "eq", "value": "FR"}}]
    for i in range(length - 2):
        last = chain[-1]["id"]
        if i == 0:
            chain.append({"id": "tail_dedup", "type": "deduplicate", "inputs": [last],
                          "keys": ["email"]})
        elif i % 2:
            chain.append(_email(f"tail_mail_{i}", [last], f"Tail message {i}"))
        else:
            chain.append({"id": f"tail_wait_{i}", "type": "wait", "inputs": [last],
                          "duration": "1 day"})
    if length >= 2:
        chain.append({"id": "tail_end", "type": "end", "inputs": [chain[-1]["id"]]})
    return chain


def canvas_document(name: str, activities: int) -> dict[str, Any]:
    """A valid campaign of exactly `activities` activities, without saved positions
    (the editor lays it out, as for any imported document)."""
    if activities < 1:
        raise ValueError("at least one activity")
    full, rest = divmod(activities, 10)
    listed = [a for k in range(full) for a in _branch(k + 1)]
    if rest:
        listed += _chain(rest)
    assert len(listed) == activities
    return {"name": name, "label": f"Canvas benchmark, {activities} activities",
            "target": "customers", "timezone": "UTC", "activities": listed}


# ---- measuring ----

@dataclass
class Canvas:
    activities: int
    render_in_dom_ms: list[float] = field(default_factory=list)
    render_painted_ms: list[float] = field(default_factory=list)
    render_after_data_ms: list[float] = field(default_factory=list)
    #: when the page asked for the campaign, and how long its answer took to arrive
    data_asked_ms: list[float] = field(default_factory=list)
    data_wait_ms: list[float] = field(default_factory=list)
    #: the editor's layout of the document (dagre), part of render and after data
    layout_ms: list[float] = field(default_factory=list)
    drag_steps_ms: list[float] = field(default_factory=list)
    dragged_node: str = ""
    dragged_px: float = 0.0
    moved_px: float = 0.0
    nodes_shown: int = 0

    @property
    def render_ms(self) -> float:
        return statistics.median(self.render_painted_ms)

    @property
    def after_data_ms(self) -> float:
        return statistics.median(self.render_after_data_ms)

    @property
    def layout_median_ms(self) -> float | None:
        """None when the editor measured no layout (the documents had positions, or an
        older build)."""
        return statistics.median(self.layout_ms) if self.layout_ms else None

    @property
    def drag_median_ms(self) -> float:
        return statistics.median(self.drag_steps_ms)

    @property
    def drag_p95_ms(self) -> float:
        return percentile(self.drag_steps_ms, 0.95)

    def figures(self) -> dict[str, Any]:
        return {**asdict(self), "render_median_ms": self.render_ms,
                "after_data_median_ms": self.after_data_ms,
                "layout_median_ms": self.layout_median_ms,
                "data_asked_median_ms": statistics.median(self.data_asked_ms),
                "data_wait_median_ms": statistics.median(self.data_wait_ms),
                "drag_median_ms": self.drag_median_ms, "drag_p95_ms": self.drag_p95_ms}


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered))
    return ordered[min(len(ordered), max(rank, 1)) - 1]


class BenchFailure(Exception):
    pass


def measure(browser: Any, url: str, name: str, activities: int, reloads: int,
            steps: int) -> Canvas:
    canvas = Canvas(activities)
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        answer = context.request.post(f"{url}/api/auth/login",
                                      data={"username": USER, "password": PASSWORD})
        if answer.status != 200:
            raise BenchFailure(f"logging in answered {answer.status}: {answer.text()}")
        context.add_init_script(RENDER_PROBE % activities)
        page = context.new_page()
        page.goto(f"{url}/#/campaigns/{name}")  # unmeasured: the first load fills caches
        _rendered(page, activities)
        for _ in range(reloads):
            page.reload()
            in_dom, painted = _rendered(page, activities)
            canvas.render_in_dom_ms.append(in_dom)
            canvas.render_painted_ms.append(painted)
            data = page.evaluate(DATA_ARRIVED, f"/api/campaigns/{name}")
            if data is None:
                raise BenchFailure(f"the editor did not fetch /api/campaigns/{name}")
            asked, arrived = (float(t) for t in data)
            canvas.render_after_data_ms.append(painted - arrived)
            canvas.data_asked_ms.append(asked)
            canvas.data_wait_ms.append(arrived - asked)
            layout = page.evaluate(LAYOUT)
            if layout is not None:
                canvas.layout_ms.append(float(layout))
        canvas.nodes_shown = page.locator(".react-flow__node").count()
        if canvas.nodes_shown != activities:
            raise BenchFailure(f"the editor shows {canvas.nodes_shown} nodes, not {activities}")
        _drag(page, canvas, steps)
    finally:
        context.close()
    return canvas


def _rendered(page: Any, activities: int) -> tuple[float, float]:
    try:
        page.wait_for_function("() => window.__bench && window.__bench.painted !== null",
                               timeout=TIMEOUT_MS)
    except Exception as exc:
        shown = page.evaluate("() => window.__bench ? window.__bench.nodes : -1")
        text = " ".join(page.evaluate("() => document.body ? document.body.innerText : ''")
                        .split())[:300]
        raise BenchFailure(f"the editor did not show {activities} nodes within "
                           f"{TIMEOUT_MS / 1000:.0f} s (it showed {shown}; the page reads: "
                           f"{text!r}): {exc}") from None
    bench = page.evaluate("() => window.__bench")
    if bench["nodes"] != activities:
        raise BenchFailure(f"the editor shows {bench['nodes']} nodes, not {activities}")
    return float(bench["inDom"]), float(bench["painted"])


def _drag(page: Any, canvas: Canvas, steps: int) -> None:
    """Drag the node nearest the middle of the viewport, one step per frame."""
    viewport = page.viewport_size
    middle = (viewport["width"] / 2, viewport["height"] / 2)
    boxes = page.evaluate("""() => [...document.querySelectorAll('.react-flow__node')]
        .map((node) => { const r = node.getBoundingClientRect();
                         return {id: node.dataset.testid || node.dataset.id,
                                 x: r.x, y: r.y, width: r.width, height: r.height}; })""")
    inside = [b for b in boxes if b["x"] >= 0 and b["y"] >= 0
              and b["x"] + b["width"] <= viewport["width"]
              and b["y"] + b["height"] <= viewport["height"]]
    if not inside:
        raise BenchFailure("no node is wholly inside the viewport to drag")
    box = min(inside, key=lambda b: (b["x"] + b["width"] / 2 - middle[0]) ** 2
              + (b["y"] + b["height"] / 2 - middle[1]) ** 2)
    canvas.dragged_node = str(box["id"])
    start_x, start_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.evaluate(DRAG_PROBE)
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    for step in range(1, steps + 1):
        page.mouse.move(start_x + step * STEP_PX, start_y)
        page.wait_for_function("n => window.__drag.steps.length >= n", arg=step,
                               timeout=TIMEOUT_MS)
    page.mouse.up()
    canvas.drag_steps_ms = [float(t) for t in page.evaluate("() => window.__drag.steps")]
    after = page.evaluate("""id => { const node = [...document.querySelectorAll(
        '.react-flow__node')].find((n) => (n.dataset.testid || n.dataset.id) === id);
        return node ? node.getBoundingClientRect().x : null; }""", canvas.dragged_node)
    canvas.dragged_px = float(steps * STEP_PX)
    canvas.moved_px = float(after - box["x"]) if after is not None else 0.0
    # the node follows the pointer (snapping to a grid may round it a little)
    if abs(canvas.moved_px - canvas.dragged_px) > max(STEP_PX, 0.2 * canvas.dragged_px):
        raise BenchFailure(f"node {canvas.dragged_node} moved {canvas.moved_px:.0f} px for a "
                           f"drag of {canvas.dragged_px:.0f} px")


# ---- the run ----

def prepare(root: Path) -> None:
    retail_workspace(root, 300)
    ws = Workspace.open(root)
    try:
        UserRepository(ws.control).add_user(USER, "manager", PASSWORD)
    finally:
        ws.close()


def create(server: ServerProcess, document: dict[str, Any]) -> None:
    answer = server.call("POST", "/api/campaigns", {"document": document})
    if answer.status != 201:
        raise BenchFailure(f"creating {document['name']} answered {answer.status}: "
                           f"{answer.body}")
    if answer.body.get("problems"):
        raise BenchFailure(f"the generated document {document['name']} has problems: "
                           f"{answer.body['problems'][:5]}")


def report(big: Canvas, base: Canvas) -> None:
    print("times in ms, medians over the reloads; render counts from the navigation's start, "
          "after data from the arrival of the campaign's JSON")
    print(f"{'canvas':<26} {'render':>7} {'in DOM':>7} {'after data':>11} "
          f"{'drag median':>12} {'drag p95':>9} {'steps':>6}")
    for title, canvas in ((f"baseline, {base.activities} activities", base),
                          (f"measured, {big.activities} activities", big)):
        print(f"{title:<26} {canvas.render_ms:>7.1f} "
              f"{statistics.median(canvas.render_in_dom_ms):>7.1f} "
              f"{canvas.after_data_ms:>11.1f} "
              f"{canvas.drag_median_ms:>12.1f} {canvas.drag_p95_ms:>9.1f} "
              f"{len(canvas.drag_steps_ms):>6}")

    def layout(canvas: Canvas) -> str:
        ms = canvas.layout_median_ms
        return "not measured" if ms is None else f"{ms:.1f} ms"

    print(f"of which laying out the document (dagre: no saved positions): "
          f"{layout(base)} at {base.activities} activities, {layout(big)} at {big.activities}")
    for canvas in (base, big):
        print(f"the campaign's JSON at {canvas.activities} activities: asked for at "
              f"{statistics.median(canvas.data_asked_ms):.1f} ms, answered in "
              f"{statistics.median(canvas.data_wait_ms):.1f} ms")
    print(f"ratio {big.activities} / {base.activities} activities: "
          f"render {big.render_ms / base.render_ms:.2f}x, "
          f"after data {big.after_data_ms / base.after_data_ms:.2f}x, "
          f"drag median {big.drag_median_ms / base.drag_median_ms:.2f}x, "
          f"drag p95 {big.drag_p95_ms / base.drag_p95_ms:.2f}x")
    verdict = {True: "met", False: "NOT met"}
    print(f"goal at {big.activities} activities, under {GOAL_MS:.0f} ms each: "
          f"render {big.render_ms:.0f} ms ({verdict[big.render_ms < GOAL_MS]}), "
          f"drag step p95 {big.drag_p95_ms:.0f} ms ({verdict[big.drag_p95_ms < GOAL_MS]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=10)
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40, help=f"drag steps of {STEP_PX} px")
    parser.add_argument("--tiny", action="store_true",
                        help="5 and 3 activities, 2 reloads, 8 steps: seconds")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "canvas")
    args = parser.parse_args(argv)
    if args.tiny:
        args.activities, args.baseline, args.reloads, args.steps = 5, 3, 2, 8
    reason = missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    root = args.out / "ws"
    shutil.rmtree(root, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    prepare(root)
    started = time.perf_counter()
    server = ServerProcess(root).start()
    try:
        sizes = {"baseline": args.baseline, "measured": args.activities}
        for title, size in sizes.items():
            create(server, canvas_document(f"canvas-{title}-{size}", size))
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                print(f"Chromium {browser.version}, headless; {args.reloads} reloads, "
                      f"{args.steps} drag steps of {STEP_PX} px")
                base = measure(browser, server.url, f"canvas-baseline-{args.baseline}",
                               args.baseline, args.reloads, args.steps)
                big = measure(browser, server.url, f"canvas-measured-{args.activities}",
                              args.activities, args.reloads, args.steps)
            finally:
                browser.close()
    except BenchFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    report(big, base)
    figures = {"goal_ms": GOAL_MS, "step_px": STEP_PX, "reloads": args.reloads,
               "steps": args.steps, "baseline": base.figures(), "measured": big.figures(),
               "seconds": time.perf_counter() - started}
    (args.out / "canvas.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"every reload showed all the nodes; each dragged node followed the pointer; "
          f"figures in {args.out / 'canvas.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
