"""The engine's entry points for the CLI, the benchmarks and (later) the API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from overture.data.workspace import Workspace
from overture.definition.campaign import read_document
from overture.engine.runner import Observer, resume_run, run_summary, start_run

__all__ = ["resume_run", "run_campaign_file", "run_summary"]


def run_campaign_file(ws: Workspace, path: Path | str, *, mode: str = "test",
                      clock: datetime | None = None, variables: dict[str, Any] | None = None,
                      observer: Observer | None = None) -> dict[str, Any]:
    """Run the campaign document at `path`; returns the spec §5 summary."""
    path = Path(path)
    raw = read_document(path)
    return start_run(ws, raw, base_dir=path.parent.resolve(), mode=mode, clock=clock,
                     variables=variables, observer=observer)
