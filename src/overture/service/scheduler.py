"""The scheduler: starts scheduled runs, wakes waiting ones, recovers interrupted ones.

`tick()` does one pass and is what tests call with a clock they move; `run_forever()`
ticks until told to stop. Slots are claimed by inserting the run with its slot, and
the control plane refuses a second run for one (campaign, slot): two schedulers, or a
restarted one, cannot start a slot twice. Slots missed while no scheduler ran collapse
into one run, for the latest of them (spec §7).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from overture.observability import metrics
from overture.service.lifecycle import Lifecycle, LifecycleError, _schedule, _zone
from overture.store.repository import ControlStoreError, SlotTaken
from overture.store.status import CampaignStatus, RunStatus

logger = logging.getLogger("overture.scheduler")


@dataclass
class Scheduler:
    lifecycle: Lifecycle
    dispatch: Callable[[str], Any]
    #: real seconds between passes (the clock may move much faster in tests)
    interval: float = 1.0
    _stop: threading.Event = field(default_factory=threading.Event)
    #: `time.monotonic()` when `run_forever` began, and when its last pass ended
    began: float | None = None
    last_pass: float | None = None

    @property
    def ws(self) -> Any:
        return self.lifecycle.ws

    def recover(self) -> list[str]:
        """At start: runs a dead process left running or pending continue now."""
        runs = self.ws.control.runs_with_status(RunStatus.RUNNING, RunStatus.PENDING)
        for run in runs:
            self.ws.control.log(run.id, "recovered at server start: continuing")
            self.dispatch(run.id)
        return [run.id for run in runs]

    def tick(self) -> list[str]:
        """One pass: due slots started, due wake-ups resumed. Returns the runs handed over."""
        now = self.lifecycle.clock.now()
        started = self._start_due_slots(now)
        for run_id in self.ws.control.due_wakeups(now):
            self.dispatch(run_id)
            started.append(run_id)
        for run in self.ws.control.runs_with_status(RunStatus.PENDING):
            self.dispatch(run.id)  # signalled by another run; the pool skips active ones
        return started

    def _start_due_slots(self, now: datetime) -> list[str]:
        started: list[str] = []
        campaigns = self.lifecycle.campaigns
        for record in campaigns.with_status(*CampaignStatus.STARTING, CampaignStatus.CLOSED):
            if record.latest_version is None:
                continue
            document = campaigns.version(record.name, record.latest_version).document
            try:
                schedule = _schedule(document)
            except ValueError as exc:  # published before a rule changed: say so once a tick
                logger.warning("campaign %s: schedule unreadable: %s", record.name, exc)
                continue
            if schedule is None or schedule.is_signal:
                continue
            zone = _zone(document)
            if record.status == CampaignStatus.CLOSED:
                self._complete_if_idle(record.name)
                continue
            after = record.last_slot or now
            due = schedule.latest_due(zone, after, now)
            if due is not None:
                try:
                    run_id = self.lifecycle.start_live_run(record.name, "scheduler",
                                                           trigger="schedule", slot=due)
                except SlotTaken:
                    run_id = None  # another scheduler started it
                except LifecycleError as exc:
                    logger.warning("campaign %s: slot %s not started: %s", record.name,
                                   due.isoformat(), exc)
                    run_id = None
                campaigns.set_scheduler_state(record.name, last_slot=due,
                                              next_start=schedule.next_start(zone, now))
                if run_id is not None:
                    started.append(run_id)
                    if record.status == CampaignStatus.SCHEDULED:
                        with contextlib.suppress(ControlStoreError):  # the run ended it
                            campaigns.update(record.name, "scheduler", "first-start",
                                             {"run": run_id}, expect=CampaignStatus.SCHEDULED,
                                             status=CampaignStatus.LIVE)
            elif schedule.ended(zone, now):
                self._complete_if_idle(record.name)
        return started

    def _complete_if_idle(self, name: str) -> None:
        if not self.lifecycle.active_runs(name, mode="live"):
            self.lifecycle.campaigns.update(name, "scheduler", "complete",
                                            status=CampaignStatus.COMPLETED)

    def run_forever(self) -> None:
        self.began = time.monotonic()
        self.recover()
        while not self._stop.is_set():
            started = time.monotonic()
            ok = True
            try:
                self.tick()
            except Exception:  # a bad pass must not end scheduling
                ok = False
                logger.exception("scheduler pass failed")
            self.last_pass = time.monotonic()
            metrics.scheduler_tick(ok, self.last_pass - started)
            self._stop.wait(self.interval)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
