"""A report as a picture: the delivery funnel and the timeline (matplotlib, PNG or SVG).

Drawn with matplotlib's object API on a figure of its own (no pyplot, no display), so it
works without a screen and from any thread.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from overture.errors import OvertureError

FORMATS = {".png": "png", ".svg": "svg"}
#: the timeline shows hours when the campaign's activity spans at most this many
HOURLY_UP_TO = 72
COLOURS = {"sent": "#4c72b0", "opens": "#55a868", "clicks": "#c44e52"}


def funnel(figures: dict[str, Any]) -> list[tuple[str, int]]:
    """The steps of the delivery funnel, widest first."""
    steps = [("targeted", figures["targeted"]), ("sent", figures["sent"])]
    if figures["ctr_basis"] == "delivered":
        steps.append(("delivered", figures["delivered"]))
    steps += [("opened", figures["opens"]["unique"]), ("clicked", figures["clicks"]["unique"])]
    return steps


def timeline(buckets: dict[str, list[dict[str, Any]]]
             ) -> tuple[str, list[tuple[datetime, dict[str, int]]]]:
    """Hours when the activity spans at most HOURLY_UP_TO of them, else days; every
    bucket from the first to the last, the empty ones at zero (the report lists only
    buckets where something happened)."""
    hourly = buckets["hourly"]
    first = datetime.fromisoformat(hourly[0]["at"]) if hourly else None
    last = datetime.fromisoformat(hourly[-1]["at"]) if hourly else None
    hours = (last - first) / timedelta(hours=1) if first and last else 0
    unit = "hourly" if hours <= HOURLY_UP_TO else "daily"
    step = timedelta(hours=1) if unit == "hourly" else timedelta(days=1)
    known = {datetime.fromisoformat(b["at"]): b for b in buckets[unit]}
    out: list[tuple[datetime, dict[str, int]]] = []
    if not known:
        return unit, out
    at, end = min(known), max(known)
    while at <= end:
        bucket = known.get(at, {})
        out.append((at, {k: int(bucket.get(k, 0)) for k in COLOURS}))
        at += step
    return unit, out


def plot_report(report: dict[str, Any], path: Path) -> Path:
    """Write the funnel and the timeline of the campaign's totals to `path`."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise OvertureError(f"--plot writes .png or .svg files, not {path.name!r}")
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - a dependency of the package
        raise OvertureError("drawing needs matplotlib: pip install 'matplotlib>=3.8'") from None
    totals = report["totals"]
    figure = Figure(figsize=(10, 8), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=(2, 3))
    steps = funnel(totals)
    labels = [name for name, _ in steps][::-1]
    values = [value for _, value in steps][::-1]
    bars = top.barh(labels, values, color="#4c72b0")
    widest = max(values) or 1
    for bar, value in zip(bars, values, strict=True):
        share = f" ({value / steps[0][1]:.0%})" if steps[0][1] else ""
        top.text(bar.get_width() + widest * 0.01, bar.get_y() + bar.get_height() / 2,
                 f"{value:,}{share}", va="center")
    top.set_xlim(0, widest * 1.25)
    top.xaxis.set_visible(False)
    top.set_title(f"{report['campaign']}: delivery funnel")
    unit, buckets = timeline(totals["timeline"])
    when = [at for at, _ in buckets]
    for name in ("sent", "opens", "clicks"):
        bottom.plot(when, [counts[name] for _, counts in buckets], marker=".", label=name,
                    color=COLOURS[name])
    bottom.set_title(f"per {'hour' if unit == 'hourly' else 'day'} (UTC)")
    bottom.legend()
    bottom.grid(alpha=0.3)
    figure.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format=kind)
    return path
