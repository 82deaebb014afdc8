"""Execute a campaign run: checkpoint, execute, record, activity after activity.

The control plane is written before and after every activity, so a run killed at any
point resumes from the activities not yet done: a finished activity is a checkpoint
and is never executed again; one that was running is executed again from its inputs,
and its tables are replaced whole.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from overture.activities.base import (
    ActivityError,
    ExecContext,
    Outcome,
    PortInput,
    executor_for,
)
from overture.data.plane import DataPlaneError
from overture.data.workspace import Workspace
from overture.definition.campaign import Campaign
from overture.definition.errors import InvalidDocument
from overture.definition.validation import Validated, test_variables, validate
from overture.engine import faults
from overture.engine.environment import environment_for
from overture.errors import OvertureError
from overture.observability import metrics
from overture.observability.logs import log_context
from overture.rules.compiler import RuleError
from overture.store.ids import new_run_id
from overture.store.repository import ActivityRunRecord, RunRecord
from overture.store.status import ActivityStatus, RunStatus, WaitingFor

#: statuses that a resumed run keeps as they are
CHECKPOINTED = frozenset({ActivityStatus.DONE, ActivityStatus.SKIPPED})

Observer = Callable[[str, str, dict[str, int | None] | None], None]
#: (activity, done, total) while a channel activity sends
Progress = Callable[[str, int, int], None]
CHANNELS = frozenset({"email", "sms", "push"})
#: seconds between looks at a pause or stop recorded in the control plane
REQUESTED_EVERY = 1.0


class RunError(OvertureError):
    """A run that cannot start or resume (finished already, invalid document)."""


class RunBusy(RunError):
    """Another live worker holds the run's lease: it executes the run now."""


def take_lease(ws: Workspace, run_id: str) -> None:
    """Lease the run to this process, or raise RunBusy naming the worker that has it."""
    holder = ws.control.claims.take_run(run_id)
    if holder is not None:
        raise RunBusy(f"run {run_id} is executing on worker {holder}: it goes on there")


def _now() -> datetime:
    return datetime.now(UTC)


def absolutize_paths(raw: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """A copy of the document as it is stored: file paths that no longer depend on where
    it was read, and plain JSON values (YAML's unquoted dates become ISO strings)."""
    doc = json.loads(json.dumps(raw, default=_iso_value))
    if base_dir is None:
        return doc
    for activity in doc.get("activities") or []:
        if isinstance(activity, dict) and activity.get("type") == "load_file":
            path = activity.get("path")
            if isinstance(path, str) and path and not Path(path).is_absolute():
                activity["path"] = str((base_dir / path).resolve())
        elif isinstance(activity, dict):
            _absolutize_content(activity, base_dir)
    return doc


def _iso_value(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _absolutize_content(node: Any, base_dir: Path) -> None:
    """Channel content given as `{file: PATH}`, anywhere in an activity, made absolute."""
    if isinstance(node, list):
        for item in node:
            _absolutize_content(item, base_dir)
    elif isinstance(node, dict):
        path = node.get("file")
        if set(node) == {"file"} and isinstance(path, str) and path \
                and not Path(path).is_absolute():
            node["file"] = str((base_dir / path).resolve())
            return
        for value in node.values():
            _absolutize_content(value, base_dir)


@dataclass
class Runner:
    ws: Workspace
    run_id: str
    validated: Validated
    mode: str
    clock: datetime
    variables: dict[str, Any]
    base_dir: Path | None = None
    observer: Observer | None = None
    columns_of: dict[str, dict[str, str]] | None = None  # as validation read them
    progress: Progress | None = None
    now: Callable[[], datetime] = _now
    #: set from outside (pause, stop, server shutdown): stop at the next safe point
    interrupt: threading.Event | None = None
    _requested_at: float = 0.0
    _requested: bool = False

    @property
    def store(self) -> Any:
        return self.ws.control

    def log(self, message: str, activity: str | None = None, level: str = "info") -> None:
        self.store.log(self.run_id, message, activity_id=activity, level=level)

    def _logger(self, activity_id: str) -> Callable[[str], None]:
        return lambda message: self.log(message, activity_id)

    def execute(self) -> dict[str, Any]:
        from overture.channels.providers import ProviderPool

        self._providers = ProviderPool(self.ws.config, os.environ, state_dir=self.ws.state_dir)
        try:
            with self.ws.data.pinned():
                return self._execute()
        finally:
            self._providers.close()

    def _progress_of(self, activity_id: str) -> Callable[[int, int], None] | None:
        progress = self.progress
        if progress is None:
            return None
        return lambda done, total: progress(activity_id, done, total)

    def _signal(self, campaign: str, variables: dict[str, Any]) -> str:
        """An `end` activity's signal: a run of that campaign, recorded `pending` for
        the server's workers (the scheduler hands pending runs over)."""
        from overture.service.lifecycle import Lifecycle

        class _Now:
            now = staticmethod(self.now)

        life = Lifecycle(self.ws, _Now())
        return life.signal(campaign, f"campaign:{self.validated.raise_for_problems().name}",
                           variables)

    def _interrupted(self) -> bool:
        """Asked to stop soon: by this process (shutdown, or a pause given here), or by
        a pause or stop recorded in the control plane, looked at once a second (a run
        executing on another worker)."""
        if self.interrupt is not None and self.interrupt.is_set():
            return True
        moment = time.monotonic()
        if moment - self._requested_at >= REQUESTED_EVERY:
            self._requested_at = moment
            self._requested = self.store.get_run(self.run_id).requested in ("pause", "stop")
        return self._requested

    def _execute(self) -> dict[str, Any]:
        campaign = self.validated.raise_for_problems()
        run = self.store.get_run(self.run_id)
        states = self.store.activity_runs(self.run_id)
        columns_of = self.columns_of if self.columns_of is not None \
            else self.ws.data.columns_of()
        live = self.mode == "live"
        policy = campaign.error_policy.on_error if live else "abort"
        for activity_id in self.validated.order:
            state = states.get(activity_id)
            if state is not None and state.status in CHECKPOINTED:
                continue
            halted = self._halt_requested()
            if halted is not None:
                return halted
            if not self._inputs_settled(activity_id, states):
                continue  # behind a waiting activity: it runs when the run resumes
            activity = campaign.activity(activity_id)
            inputs, clocks = self._inputs(activity_id, states)
            if not activity.enabled or (inputs and all(p.skipped for p in inputs)):
                why = "disabled" if not activity.enabled else "all inputs skipped"
                states[activity_id] = self._record(activity_id, ActivityStatus.SKIPPED,
                                                   finished_at=_now())
                self.log(f"skipped: {why}", activity_id)
                continue
            clock = max(clocks) if clocks else self.clock
            if activity_id in (run.breakpoints or []):
                states[activity_id] = self._record(
                    activity_id, ActivityStatus.WAITING, waiting_for=WaitingFor.BREAKPOINT.value)
                self.log("breakpoint: the run waits here until someone continues it",
                         activity_id)
                continue
            if live and activity.type in CHANNELS and needs_confirmation(activity, run) \
                    and (state is None or state.confirmed_at is None):
                states[activity_id] = self._record(
                    activity_id, ActivityStatus.WAITING,
                    waiting_for=WaitingFor.CONFIRMATION.value)
                target = sum(self.store.activity_runs(self.run_id)[ref.activity].ports
                             .get(ref.port, 0) or 0 for ref in self.validated.edges[activity_id]
                             if states[ref.activity].ports)
                self.log(f"waiting for an approver to confirm sending to {target} profiles",
                         activity_id, level="warning")
                continue
            faults.checkpoint("before", activity_id)
            self._record(activity_id, ActivityStatus.RUNNING, started_at=_now())
            ctx = self.context(activity_id, clock, columns_of, state)
            message: str | None = None
            began = time.monotonic()
            try:
                faults.checkpoint("during", activity_id)
                with log_context(activity=activity_id):
                    outcome = executor_for(activity.type)(activity, inputs, ctx)
            except (ActivityError, RuleError, DataPlaneError, OvertureError) as exc:
                message = str(exc)
            except Exception as exc:  # an engine error: keep the traceback in the run log
                self.log(traceback.format_exc(), activity_id, level="debug")
                message = f"internal error: {type(exc).__name__}: {exc}"
            ended = "failed" if message is not None \
                else "waiting" if outcome.waiting is not None else "done"
            metrics.activity_done(activity.type, self.mode, ended, time.monotonic() - began)
            if message is not None:
                if policy == "abort":
                    return self._fail(activity_id, message)
                states[activity_id] = self._failed_under_policy(activity_id, message, policy)
                continue
            if outcome.waiting is not None:
                states[activity_id] = self._wait(activity_id, outcome)
                continue
            states[activity_id] = self._record(
                activity_id, ActivityStatus.DONE, finished_at=_now(),
                ports={p: o.count for p, o in outcome.ports.items()},
                tables={p: o.table for p, o in outcome.ports.items()},
                excluded=outcome.excluded, clock=outcome.clock or clock,
            )
            faults.checkpoint("after", activity_id)
        return self._settle(states)

    def context(self, activity_id: str, clock: datetime,
                columns_of: dict[str, dict[str, str]], state: Any = None) -> ExecContext:
        """What an activity is given (the executor's, or a worker's sending a batch)."""
        return ExecContext(
            plane=self.ws.data, catalog=self.ws.catalog,
            campaign=self.validated.raise_for_problems(), run_id=self.run_id,
            mode=self.mode, clock=clock, variables=self.variables,
            ports=self.validated.ports, columns_of=columns_of,
            filters_dir=self.ws.filters_dir, base_dir=self.base_dir,
            log=self._logger(activity_id), config=self.ws.config,
            state_dir=self.ws.state_dir, providers=self._providers,
            progress=self._progress_of(activity_id), now=self.now, previous=state,
            interrupted=self._interrupted, signal=self._signal, claims=self.store.claims,
        )

    def assist(self, claim: Any) -> Any:
        """Send one claimed batch of this run's channel activity `claim.activity_id`."""
        from overture.activities.channels import assist
        from overture.channels.providers import ProviderPool

        campaign = self.validated.raise_for_problems()
        states = self.store.activity_runs(self.run_id)
        inputs, clocks = self._inputs(claim.activity_id, states)
        clock = max(clocks) if clocks else self.clock
        columns_of = self.columns_of if self.columns_of is not None \
            else self.ws.data.columns_of()
        self._providers = ProviderPool(self.ws.config, os.environ, state_dir=self.ws.state_dir)
        try:
            with self.ws.data.pinned():
                ctx = self.context(claim.activity_id, clock, columns_of,
                                   states.get(claim.activity_id))
                return assist(campaign.activity(claim.activity_id), inputs, ctx, claim)
        finally:
            self._providers.close()

    def _halt_requested(self) -> dict[str, Any] | None:
        """Between activities: a pause or stop asked for, or the server shutting down."""
        requested = self.store.get_run(self.run_id).requested
        if requested == "stop":
            self.store.update_run(self.run_id, status=RunStatus.STOPPED.value,
                                  finished_at=_now(), requested="")
            self.log("run stopped on request", level="warning")
            return run_summary(self.ws, self.run_id)
        if requested == "pause":
            self.store.update_run(self.run_id, status=RunStatus.PAUSED.value, requested="",
                                  error="paused on request")
            self.log("run paused on request", level="warning")
            return run_summary(self.ws, self.run_id)
        if self._interrupted():
            self.store.update_run(self.run_id, status=RunStatus.PENDING.value)
            self.log("interrupted by shutdown: the run continues when the server starts again",
                     level="warning")
            return run_summary(self.ws, self.run_id)
        return None

    def _inputs_settled(self, activity_id: str, states: dict[str, ActivityRunRecord]) -> bool:
        for ref in self.validated.edges[activity_id]:
            upstream = states.get(ref.activity)
            if upstream is None or not upstream.status.is_finished():
                return False
        return True

    def _settle(self, states: dict[str, ActivityRunRecord]) -> dict[str, Any]:
        """Every activity that could run has: the run is done, waiting or paused."""
        halted = self._halt_requested()
        if halted is not None:
            return halted
        waiting = {a: s for a, s in states.items() if s.status == ActivityStatus.WAITING}
        failed = [a for a, s in states.items() if s.status == ActivityStatus.FAILED]
        if not waiting:
            error = f"{len(failed)} failed activit{'y' if len(failed) == 1 else 'ies'} " \
                    f"ignored: {', '.join(failed)}" if failed else None
            self.store.update_run(self.run_id, status=RunStatus.DONE.value, finished_at=_now(),
                                  error=error)
            return run_summary(self.ws, self.run_id)
        reasons = {WaitingFor(s.waiting_for) for s in waiting.values() if s.waiting_for}
        status = RunStatus.PAUSED if reasons & WaitingFor.PAUSING else RunStatus.WAITING
        first, state = next(iter(waiting.items()))
        why = state.error or (state.waiting_for or "waiting")
        self.store.update_run(self.run_id, status=status.value, error=f"{first}: {why}")
        return run_summary(self.ws, self.run_id)

    def _inputs(self, activity_id: str, states: dict[str, ActivityRunRecord]
                ) -> tuple[list[PortInput], list[datetime]]:
        inputs: list[PortInput] = []
        clocks: list[datetime] = []
        for ref in self.validated.edges[activity_id]:
            upstream = states[ref.activity]
            table = (upstream.tables or {}).get(ref.port)
            if upstream.status in (ActivityStatus.SKIPPED, ActivityStatus.FAILED):
                table = None  # a failed activity ignored by the error policy: as skipped
            elif upstream.clock is not None:
                clocks.append(upstream.clock)
            inputs.append(PortInput(str(ref), table, self.validated.ports[str(ref)]))
        return inputs, clocks

    def _record(self, activity_id: str, status: ActivityStatus, **fields: Any
                ) -> ActivityRunRecord:
        self.store.upsert_activity_run(self.run_id, activity_id, status=status.value, **fields)
        record = self.store.activity_runs(self.run_id)[activity_id]
        if self.observer:
            self.observer(activity_id, status.value, fields.get("ports"))
        return record

    def _wait(self, activity_id: str, outcome: Outcome) -> ActivityRunRecord:
        """The activity stops for now (a timer, paused sending, deferred messages).

        The wake-up time is stored before the run goes idle, so a restarted server
        wakes it at the same instant.
        """
        reason = outcome.waiting_for or WaitingFor.ERRORS.value
        record = self._record(activity_id, ActivityStatus.WAITING, excluded=outcome.excluded,
                              waiting_for=reason, wake_at=outcome.wake_at,
                              error=outcome.waiting)
        level = "info" if reason == WaitingFor.TIMER.value else "warning"
        self.log(str(outcome.waiting), activity_id, level=level)
        return record

    def _failed_under_policy(self, activity_id: str, message: str, policy: str
                             ) -> ActivityRunRecord:
        """`suspend`: the activity waits for a person, and resuming retries it;
        `ignore`: it fails and the run goes on without it (its outputs count as skipped)."""
        self.log(message, activity_id, level="error")
        if policy == "suspend":
            self.log("error policy suspend: resume the run to retry this activity",
                     activity_id, level="warning")
            return self._record(activity_id, ActivityStatus.WAITING, error=message,
                                waiting_for=WaitingFor.SUSPENDED.value)
        self.log("error policy ignore: the run goes on without this activity", activity_id,
                 level="warning")
        return self._record(activity_id, ActivityStatus.FAILED, finished_at=_now(),
                            error=message)

    def _fail(self, activity_id: str, message: str) -> dict[str, Any]:
        self._record(activity_id, ActivityStatus.FAILED, finished_at=_now(), error=message)
        self.log(message, activity_id, level="error")
        self.store.update_run(self.run_id, status=RunStatus.FAILED.value, finished_at=_now(),
                              error=f"{activity_id}: {message}")
        return run_summary(self.ws, self.run_id)


def needs_confirmation(activity: Any, run: RunRecord) -> bool:
    """`confirm` as set, else true for one-shot live runs (started by publishing, or by a
    `once` schedule); a CLI `overture run --live` is its own go-ahead."""
    if activity.confirm is not None:
        return bool(activity.confirm)
    if run.trigger == "publish":
        return True
    schedule = run.document.get("schedule") or {}
    return run.trigger == "schedule" and isinstance(schedule, dict) and "once" in schedule


def prepare_run(ws: Workspace, raw: dict[str, Any], *, base_dir: Path | None,
                mode: str = "test", clock: datetime | None = None,
                variables: dict[str, Any] | None = None, run_id: str | None = None,
                version: int | None = None, trigger: str | None = None,
                slot: datetime | None = None, started_by: str | None = None,
                breakpoints: list[str] | None = None, status: str = "running") -> str:
    """Validate a document and record a new run of it (not executed yet): its id."""
    doc = absolutize_paths(raw, base_dir)
    env = environment_for(ws, base_dir)
    validated = validate(doc, env)
    if validated.problems:
        raise InvalidDocument(validated.problems)
    campaign = validated.raise_for_problems()
    moment = (clock or _now()).astimezone(UTC)
    values = test_variables(campaign, variables, mode)
    run_id = run_id or new_run_id()
    ws.control.create_run(run_id=run_id, campaign=campaign.name, mode=mode, document=doc,
                          variables=_jsonable(values), clock=moment, version=version,
                          trigger=trigger, slot=slot, started_by=started_by,
                          breakpoints=breakpoints, status=status)
    ws.control.log(run_id, f"{mode} run started, clock {moment.isoformat()}")
    return run_id


def execute_run(ws: Workspace, run_id: str, *, base_dir: Path | None = None,
                observer: Observer | None = None, progress: Progress | None = None,
                now: Callable[[], datetime] = _now,
                interrupt: threading.Event | None = None,
                variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute a recorded run from where it stands; returns the spec §5 summary.

    `variables` are the typed values when the caller has them (a new run); a resumed
    run reads them back as stored.
    """
    run = ws.control.get_run(run_id)
    env = environment_for(ws, base_dir)
    validated = validate(run.document, env)
    if validated.problems:
        raise InvalidDocument(validated.problems)
    values = dict(run.variables) if variables is None else variables
    take_lease(ws, run.id)
    with ws.control.heartbeat:
        try:
            if run.status != RunStatus.RUNNING:
                ws.control.update_run(run.id, status=RunStatus.RUNNING.value)
            runner = Runner(ws, run.id, validated, run.mode, run.clock, values, base_dir,
                            observer, env.columns_of, progress, now, interrupt)
            return runner.execute()
        finally:
            ws.control.claims.release_run(run.id)


def assist_batch(ws: Workspace, claim: Any, interrupt: threading.Event | None = None
                 ) -> Any:
    """Send one batch that this worker claimed, of a run another worker executes."""
    run = ws.control.get_run(claim.run_id)
    env = environment_for(ws, None)
    validated = validate(run.document, env)
    if validated.problems:
        raise InvalidDocument(validated.problems)
    runner = Runner(ws, run.id, validated, run.mode, run.clock, dict(run.variables), None,
                    None, env.columns_of, interrupt=interrupt)
    with ws.control.heartbeat:
        return runner.assist(claim)


def start_run(ws: Workspace, raw: dict[str, Any], *, base_dir: Path | None, mode: str = "test",
              clock: datetime | None = None, variables: dict[str, Any] | None = None,
              observer: Observer | None = None, run_id: str | None = None,
              progress: Progress | None = None, **record: Any) -> dict[str, Any]:
    """Validate, record and execute a new run of a campaign document.

    A live run is always a run of a published version: a document given directly
    (a file) is published first, unless its latest version is this very document.
    """
    _publish_file(ws, raw, base_dir, mode, record)
    run_id = prepare_run(ws, raw, base_dir=base_dir, mode=mode, clock=clock,
                         variables=variables, run_id=run_id, **record)
    campaign = Campaign.model_validate(absolutize_paths(raw, base_dir))
    return execute_run(ws, run_id, base_dir=base_dir, observer=observer, progress=progress,
                       variables=test_variables(campaign, variables, mode))


def _publish_file(ws: Workspace, raw: dict[str, Any], base_dir: Path | None, mode: str,
                  record: dict[str, Any]) -> None:
    """A live run of a file runs a published version of it: published now if needed."""
    if mode != "live" or record.get("version") is not None:
        return
    import getpass

    from overture.service.lifecycle import file_version

    validated = validate(absolutize_paths(raw, base_dir), environment_for(ws, base_dir))
    if validated.problems:
        raise InvalidDocument(validated.problems)
    actor = record.get("started_by") or f"cli:{getpass.getuser()}"
    record.update(version=file_version(ws, absolutize_paths(raw, base_dir), actor),
                  started_by=actor, trigger=record.get("trigger") or "cli")


def queue_run(ws: Workspace, raw: dict[str, Any], *, base_dir: Path | None,
              mode: str = "test", clock: datetime | None = None,
              variables: dict[str, Any] | None = None, **record: Any) -> str:
    """Validate and record a new run, `pending`, for a worker to execute: its id."""
    _publish_file(ws, raw, base_dir, mode, record)
    return prepare_run(ws, raw, base_dir=base_dir, mode=mode, clock=clock,
                       variables=variables, status=RunStatus.PENDING.value, **record)


def check_resumable(run: RunRecord) -> None:
    if run.status == RunStatus.DONE:
        raise RunError(f"run {run.id} is done already: nothing to resume")
    if run.status == RunStatus.STOPPED:
        raise RunError(f"run {run.id} was stopped: it does not resume; restart the campaign "
                       "for a new run")
    if run.pruned_at is not None:
        raise RunError(f"run {run.id} was pruned: its work tables are gone")


def resume_run(ws: Workspace, run_id: str, observer: Observer | None = None,
               progress: Progress | None = None, now: Callable[[], datetime] = _now,
               interrupt: threading.Event | None = None) -> dict[str, Any]:
    """Continue an interrupted, paused, waiting or failed run from the activities not done."""
    run = ws.control.get_run(run_id)
    check_resumable(run)
    take_lease(ws, run.id)
    ws.control.update_run(run.id, status=RunStatus.RUNNING.value, requested="")
    ws.control.log(run.id, "run resumed")
    return execute_run(ws, run.id, observer=observer, progress=progress, now=now,
                       interrupt=interrupt)


def run_summary(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The run in the shape of spec §5, read back from the control plane."""
    run = ws.control.get_run(run_id)
    states = ws.control.activity_runs(run.id)
    activities: dict[str, Any] = {}
    order = [str(a.get("id")) for a in run.document.get("activities", [])
             if isinstance(a, dict)]
    for activity_id in order:
        state = states.get(activity_id)
        if state is None:
            activities[activity_id] = {"status": ActivityStatus.PENDING.value, "ports": None}
            continue
        entry: dict[str, Any] = {"status": state.status.value,
                                 "ports": None if state.status == ActivityStatus.SKIPPED
                                 else state.ports}
        if state.excluded is not None:
            entry["excluded"] = state.excluded
        if state.error:
            entry["error"] = state.error
        activities[activity_id] = entry
    summary: dict[str, Any] = {"run": run.id, "campaign": run.campaign, "mode": run.mode,
                               "status": run.status.value, "clock": run.clock.isoformat(),
                               "activities": activities}
    if run.error:
        summary["error"] = run.error
    return summary


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
