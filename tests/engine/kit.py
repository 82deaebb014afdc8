"""A harness for engine tests: a hand-countable workspace, campaign runs, and port contents.

Tests compute what they expect from `ROWS` (or SQL they write themselves); this module
only runs campaigns and reads back what went through each port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from overture.data.workspace import Workspace
from overture.engine.api import run_campaign_file
from support.workspace import CLOCK, ROWS, make_workspace

CUSTOMERS = ROWS["customers"]
PURCHASES = ROWS["purchases"]
STORES = ROWS["stores"]
ALL_IDS = {r["customer_id"] for r in CUSTOMERS}
BY_ID = {r["customer_id"]: r for r in CUSTOMERS}


def where(predicate: Any, rows: Iterable[dict[str, Any]] = CUSTOMERS) -> set[int]:
    """Customer ids of `rows` for which `predicate(row)` holds."""
    return {r["customer_id"] for r in rows if predicate(r)}


OVERTURE = Path(sys.executable).parent / "overture"


def cli(workspace: Path, *args: str, fault: str | None = None, timeout: float = 180
        ) -> subprocess.CompletedProcess[str]:
    """`overture -w WORKSPACE ARGS...` in a new process; `fault` sets OVERTURE_FAULT."""
    env = {k: v for k, v in os.environ.items() if k != "OVERTURE_FAULT"}
    env["COLUMNS"] = "200"  # no wrapped lines in what tests read
    if fault:
        env["OVERTURE_FAULT"] = fault
    return subprocess.run([str(OVERTURE), "-w", str(workspace), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)


def cli_json(workspace: Path, *args: str, ok: bool = True) -> Any:
    """The JSON an `overture ... --json` command prints; `ok` says whether it must succeed."""
    done = cli(workspace, *args)
    assert (done.returncode == 0) == ok, (done.returncode, done.stdout, done.stderr)
    return json.loads(done.stdout)


def campaign(activities: str, name: str = "t", **extra: Any) -> str:
    """A campaign document from the YAML of its activity list (indented freely)."""
    head = {"name": name, **extra}
    return yaml.safe_dump(head, sort_keys=False) + "activities:\n" + textwrap.indent(
        textwrap.dedent(activities).strip("\n"), "  ") + "\n"


class Harness:
    """One workspace holding ROWS (or `rows`) and helpers to run campaigns in it."""

    def __init__(self, root: Path, **workspace: Any) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.ws: Workspace = make_workspace(root / "ws", **workspace)
        self._n = 0

    def write(self, text: str, name: str | None = None) -> Path:
        self._n += 1
        path = self.root / (name or f"campaign_{self._n}.yaml")
        path.write_text(text, encoding="utf-8")
        return path

    def run(self, activities: str, *, name: str = "t", mode: str = "test",
            clock: datetime = CLOCK, variables: dict[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
        """Run a campaign made of these activities; returns the spec §5 summary."""
        path = self.write(campaign(activities, name=name, **extra))
        return run_campaign_file(self.ws, path, mode=mode, clock=clock, variables=variables)

    def table_name(self, result: dict[str, Any], activity: str, port: str = "out") -> str:
        state = self.ws.control.activity_runs(result["run"])[activity]
        name = (state.tables or {}).get(port)
        assert name, f"{activity}.{port} has no table in run {result['run']}"
        return name

    def rows(self, result: dict[str, Any], activity: str, port: str = "out",
             order: str | None = None) -> list[dict[str, Any]]:
        table = self.ws.data.table_any(self.table_name(result, activity, port))
        order = order or table.columns[0]
        return table.order_by(order).to_pyarrow().to_pylist()

    def keys(self, result: dict[str, Any], activity: str, port: str = "out",
             key: str = "customer_id") -> set[Any]:
        values = [r[key] for r in self.rows(result, activity, port, order=key)]
        assert len(values) == len(set(values)), f"{activity}.{port} holds a key twice"
        return set(values)

    def check(self, result: dict[str, Any], activity: str, port: str, expected: set[Any],
              key: str = "customer_id") -> None:
        """The port holds exactly `expected` keys, and its recorded count says so."""
        entry = result["activities"][activity]
        assert entry["status"] == "done", entry
        assert self.keys(result, activity, port, key) == expected
        assert entry["ports"][port] == len(expected)

    def logs(self, result: dict[str, Any], activity: str | None = None) -> list[str]:
        return [e.message for e in self.ws.control.logs(result["run"])
                if activity is None or e.activity_id == activity]

    def close(self) -> None:
        self.ws.close()


__all__ = [
    "ALL_IDS",
    "BY_ID",
    "CLOCK",
    "CUSTOMERS",
    "OVERTURE",
    "PURCHASES",
    "ROWS",
    "STORES",
    "Harness",
    "campaign",
    "cli",
    "cli_json",
    "where",
]
