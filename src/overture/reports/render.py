"""A report as people read it (Rich tables) and as tools read it (JSON, CSV).

JSON is the report itself. CSV is one table at a time: `figures` (one row per scope
and window: the campaign, each activity, each run; all time and the last 24 hours),
or a breakdown: `links`, `domains`, `variants`, `hourly`, `daily`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from overture.reports.figures import EXCLUSION_REASONS, WINDOW_NAME

CSV_TABLES = ("figures", "links", "domains", "variants", "hourly", "daily")

_FIGURE_COLUMNS = ("targeted", "excluded", *(f"excluded_{r}" for r in EXCLUSION_REASONS),
                   "pending", "sent", "delivered", "bounces_hard", "bounces_soft", "errors",
                   "opens_total", "opens_unique", "opens_machine", "clicks_total",
                   "clicks_unique", "clicks_machine", "unsubscribes", "complaints", "ctr",
                   "ctr_basis", "ctor")
_DOMAIN_COLUMNS = ("domain", "targeted", "sent", "delivered", "bounced", "opens", "clicks",
                   "unsubscribes", "complaints")
_VARIANT_COLUMNS = ("variant", "baseline", "sent", "delivered", "opens", "clicks",
                    "click_rate", "lift", "z", "p_value", "significant", "enough_data")


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


# ---- CSV ----

def flat_figures(figures: dict[str, Any]) -> dict[str, Any]:
    """A figures block as one flat row (excluded per reason, bounces, opens, clicks)."""
    excluded = figures.get("excluded") or {}
    row: dict[str, Any] = {"targeted": figures["targeted"],
                           "excluded": sum(excluded.values())}
    for reason in EXCLUSION_REASONS:
        row[f"excluded_{reason}"] = excluded.get(reason, 0)
    row.update(pending=figures["pending"], sent=figures["sent"],
               delivered=figures["delivered"], bounces_hard=figures["bounces"]["hard"],
               bounces_soft=figures["bounces"]["soft"], errors=figures["errors"])
    for what in ("opens", "clicks"):
        for kind, value in figures[what].items():
            row[f"{what}_{kind}"] = value
    row.update(unsubscribes=figures["unsubscribes"], complaints=figures["complaints"],
               ctr=figures["ctr"], ctr_basis=figures["ctr_basis"], ctor=figures["ctor"])
    return row


def _figure_rows(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    scopes: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
        ("campaign", "", "", None, report["totals"])]
    for activity, entry in report["activities"].items():
        scopes.append(("activity", "", activity, entry.get("channel"), entry))
    for entry in report["by_run"]:
        scopes.append(("run", entry["run"], "", None, entry))
    for scope, run, activity, channel, entry in scopes:
        for window, block in (("all", entry), (WINDOW_NAME, entry[WINDOW_NAME])):
            yield {"campaign": report["campaign"], "scope": scope, "run": run,
                   "activity": activity, "channel": channel or "", "window": window,
                   **flat_figures(block)}


def csv_rows(report: dict[str, Any], table: str = "figures"
             ) -> tuple[list[str], list[dict[str, Any]]]:
    """The header and rows of one CSV table of the report."""
    if table == "figures":
        header = ["campaign", "scope", "run", "activity", "channel", "window",
                  *_FIGURE_COLUMNS]
        return header, list(_figure_rows(report))
    if table == "links":
        return (["activity", "link", "url", "clicks", "unique", "machine"],
                [{"activity": a, **link} for a, e in report["activities"].items()
                 for link in e["links"]])
    if table == "domains":
        rows = [{"scope": "campaign", "activity": "", **d} for d in report["totals"]["domains"]]
        rows += [{"scope": "activity", "activity": a, **d}
                 for a, e in report["activities"].items() for d in e["domains"]]
        return ["scope", "activity", *_DOMAIN_COLUMNS], rows
    if table == "variants":
        return (["activity", *_VARIANT_COLUMNS],
                [{"activity": a, **v} for a, e in report["activities"].items()
                 for v in e["variants"]])
    if table in ("hourly", "daily"):
        rows = [{"scope": "campaign", "activity": "", **b}
                for b in report["totals"]["timeline"][table]]
        rows += [{"scope": "activity", "activity": a, **b}
                 for a, e in report["activities"].items() for b in e["timeline"][table]]
        return ["scope", "activity", "at", "sent", "opens", "clicks"], rows
    raise ValueError(f"no CSV table {table!r} (one of {', '.join(CSV_TABLES)})")


def to_csv(report: dict[str, Any], table: str = "figures") -> str:
    header, rows = csv_rows(report, table)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


# ---- tables for people ----

def _n(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _figure_lines(entry: dict[str, Any]) -> list[tuple[str, str]]:
    lines = [("targeted", _n(entry["targeted"]))]
    for reason, count in entry["excluded"].items():
        lines.append((f"excluded: {reason}", _n(count)))
    lines += [("pending", _n(entry["pending"])), ("sent", _n(entry["sent"])),
              ("errors", _n(entry["errors"])), ("delivered", _n(entry["delivered"])),
              ("bounces: hard", _n(entry["bounces"]["hard"])),
              ("bounces: soft", _n(entry["bounces"]["soft"])),
              ("opens", _n(entry["opens"]["total"])),
              ("opens: unique", _n(entry["opens"]["unique"])),
              ("opens: machine (apart)", _n(entry["opens"]["machine"])),
              ("clicks", _n(entry["clicks"]["total"])),
              ("clicks: unique", _n(entry["clicks"]["unique"])),
              ("clicks: machine (apart)", _n(entry["clicks"]["machine"])),
              ("unsubscribes", _n(entry["unsubscribes"])),
              ("complaints", _n(entry["complaints"])),
              (f"CTR (over {entry['ctr_basis']})", _pct(entry["ctr"])),
              ("CTOR", _pct(entry["ctor"]))]
    return lines


def print_report(report: dict[str, Any], console: Console) -> None:
    """The report as Rich tables: figures, then each activity's breakdowns."""
    runs = report["runs"]
    scope = f"run {report['run']}" if report.get("run") else \
        f"{runs} live run{'s' if runs != 1 else ''}"
    machine = "machine opens and clicks included" if report["include_machine"] else \
        "machine opens and clicks left out (shown apart)"
    console.print(Text.assemble(("Campaign ", "dim"), (report["campaign"], "bold"),
                                (f" · {scope} · {machine} · now {report['now'][:16]} UTC",
                                 "dim")),
                  soft_wrap=True)
    columns: list[tuple[str, dict[str, Any]]] = [
        (f"{a} ({e.get('channel') or '?'})", e) for a, e in report["activities"].items()]
    if len(columns) != 1:
        columns.append(("campaign", report["totals"]))
    columns.append(("last 24 h", report["totals"][WINDOW_NAME]))
    table = Table(title="Figures")
    table.add_column("figure")
    for title, _ in columns:
        table.add_column(title, justify="right")
    labelled = [dict(_figure_lines(entry)) for _, entry in columns]
    labels: list[str] = []
    for lines in labelled:
        labels += [label for label in lines if label not in labels]
    for label in labels:
        table.add_row(label, *[lines.get(label, "0") for lines in labelled])
    console.print(table)
    if len(report["by_run"]) > 1:
        _print_runs(report, console)
    for activity, entry in report["activities"].items():
        _print_breakdowns(activity, entry, console)


def _print_runs(report: dict[str, Any], console: Console) -> None:
    table = Table(title="Runs")
    for name in ("run", "first message (UTC)", "targeted", "sent", "delivered",
                 "unique opens", "unique clicks", "CTR"):
        table.add_column(name, justify="left" if name.startswith(("run", "first")) else "right")
    for entry in report["by_run"]:
        table.add_row(entry["run"], (entry["first_message_at"] or "")[:16].replace("T", " "),
                      _n(entry["targeted"]), _n(entry["sent"]), _n(entry["delivered"]),
                      _n(entry["opens"]["unique"]), _n(entry["clicks"]["unique"]),
                      _pct(entry["ctr"]))
    console.print(table)


def _print_breakdowns(activity: str, entry: dict[str, Any], console: Console) -> None:
    if entry["links"]:
        table = Table(title=f"{activity}: links")
        for name in ("#", "URL", "clicks", "unique", "machine"):
            table.add_column(name, justify="left" if name == "URL" else "right")
        for link in entry["links"]:
            table.add_row(_n(link["link"]), Text(link["url"] or ""), _n(link["clicks"]),
                          _n(link["unique"]), _n(link["machine"]))
        console.print(table)
    if len(entry["variants"]) > 1:
        table = Table(title=f"{activity}: variants (click rate over {entry['ctr_basis']}, "
                            "z-test against the first)")
        for name in ("variant", "sent", "clicks", "click rate", "lift", "p-value", "verdict"):
            table.add_column(name, justify="left" if name in ("variant", "verdict") else "right")
        for v in entry["variants"]:
            if v["baseline"]:
                verdict = "baseline"
            elif v["p_value"] is None:
                verdict = "no test"
            elif not v["enough_data"]:
                verdict = "too few clicks to tell"
            else:
                verdict = "significant" if v["significant"] else "not significant"
            table.add_row(v["variant"], _n(v["sent"]), _n(v["clicks"]), _pct(v["click_rate"]),
                          _pct(v["lift"]),
                          "—" if v["p_value"] is None else f"{v['p_value']:.4f}", verdict)
        console.print(table)
    if entry["domains"]:
        table = Table(title=f"{activity}: email domains")
        table.add_column("domain", no_wrap=True)
        for name in ("targeted", "sent", "deliv.", "bounced", "opens", "clicks", "unsub.",
                     "compl."):
            table.add_column(name, justify="right")
        for d in entry["domains"][:10]:
            table.add_row(Text(d["domain"]), *[_n(d[k]) for k in _DOMAIN_COLUMNS[1:]])
        console.print(table)
    daily = entry["timeline"]["daily"]
    if daily:
        table = Table(title=f"{activity}: per day (UTC)")
        for name in ("day", "sent", "opens", "clicks"):
            table.add_column(name, justify="left" if name == "day" else "right")
        for bucket in daily:
            table.add_row(bucket["at"][:10], _n(bucket["sent"]), _n(bucket["opens"]),
                          _n(bucket["clicks"]))
        console.print(table)
