"""A workspace of hand-countable rows, its lifecycle and scheduler on a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.kit import Harness
from overture.engine.clock import ManualClock
from overture.engine.runner import execute_run
from overture.service.lifecycle import Lifecycle
from overture.service.scheduler import Scheduler

START = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)  # a Monday

ACTIVITIES = [{"id": "all", "type": "build_audience"}, {"id": "done", "type": "end",
                                                          "inputs": ["all"]}]


def document(name: str = "weekly", *, schedule: dict[str, Any] | None = None,
             timezone: str = "Europe/Paris", activities: list[dict[str, Any]] | None = None,
             **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "timezone": timezone, **extra,
                           "activities": activities or ACTIVITIES}
    if schedule is not None:
        doc["schedule"] = schedule
    return yaml.safe_load(yaml.safe_dump(doc))  # as a stored document: plain JSON types


@dataclass
class Rig:
    """The lifecycle and scheduler of a workspace; runs are recorded, and executed only
    when `execute` is set (then synchronously, on the same clock)."""

    h: Harness
    clock: ManualClock
    execute: bool = False
    dispatched: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.life = Lifecycle(self.h.ws, self.clock, dispatch=self._dispatch)
        self.scheduler = self.new_scheduler()

    def new_scheduler(self) -> Scheduler:
        """A scheduler as a restarted server makes it: nothing kept in memory."""
        return Scheduler(self.life, self._dispatch)

    def _dispatch(self, run_id: str) -> None:
        self.dispatched.append(run_id)
        if self.execute:
            execute_run(self.h.ws, run_id, now=self.clock.now)
            self.life.run_finished(run_id)

    def at(self, instant: datetime) -> list[str]:
        self.clock.set(instant)
        return self.scheduler.tick()

    def slots(self, campaign: str) -> list[datetime]:
        runs = self.h.ws.control.list_runs(campaign, limit=10_000)
        return sorted(r.slot for r in runs if r.slot is not None)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    h = Harness(tmp_path)
    try:
        yield Rig(h, ManualClock(START))
    finally:
        h.close()
