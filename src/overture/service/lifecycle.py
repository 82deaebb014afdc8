"""The lifecycle of spec §6: drafts, publication, statuses and their transitions, and
the runs that campaigns start (test runs of drafts, live runs of published versions).

Every method takes the `actor` who acts; the repository records it. Errors are
`LifecycleError` with a `code` the API turns into a status: `not_found`, `conflict`
(a transition the status does not allow), `invalid` (a document with problems),
`too_soon` (a signal inside `min_interval`, with `retry_after` seconds).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from overture.data.workspace import Workspace
from overture.definition.errors import InvalidDocument, Problem
from overture.definition.validation import validate
from overture.engine.clock import Clock
from overture.engine.environment import environment_for
from overture.engine.runner import absolutize_paths, check_resumable, prepare_run
from overture.errors import OvertureError
from overture.store.campaigns import (
    CampaignExists,
    CampaignNotFound,
    CampaignRecord,
    CampaignRepository,
    VersionRecord,
)
from overture.store.repository import RunNotFound, RunRecord
from overture.store.status import ActivityStatus, CampaignStatus, RunStatus, WaitingFor

S = CampaignStatus

#: action: (statuses it is allowed from, the status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[CampaignStatus], CampaignStatus]] = {
    "pause": (frozenset({S.SCHEDULED, S.LIVE}), S.PAUSED),
    "resume": (frozenset({S.PAUSED}), S.LIVE),
    "stop": (frozenset({S.SCHEDULED, S.LIVE, S.PAUSED, S.CLOSED}), S.STOPPED),
    "close": (frozenset({S.SCHEDULED, S.LIVE, S.PAUSED}), S.CLOSED),
    "archive": (frozenset({S.DRAFT, S.STOPPED, S.COMPLETED, S.FAILED}), S.ARCHIVED),
}
#: statuses in which the draft may still be edited
EDITABLE = frozenset(set(S) - {S.ARCHIVED})


class LifecycleError(OvertureError):
    def __init__(self, code: str, message: str, *, problems: list[Problem] | None = None,
                 retry_after: int | None = None):
        super().__init__(message)
        self.code = code
        self.problems = problems or []
        self.retry_after = retry_after


@dataclass
class Lifecycle:
    ws: Workspace
    clock: Clock
    #: hands a run over to be executed (the worker pool); None: the caller executes it
    dispatch: Callable[[str], Any] | None = None
    #: interrupts an executing run (the worker pool); returns False if it is not executing
    interrupt: Callable[[str], bool] | None = None
    is_executing: Callable[[str], bool] | None = None
    #: executes the run again once its current pass ends (the worker pool)
    dispatch_after: Callable[[str], Any] | None = None

    @property
    def campaigns(self) -> CampaignRepository:
        return CampaignRepository(self.ws.control)

    # ---- drafts ----
    def get(self, name: str) -> CampaignRecord:
        try:
            return self.campaigns.get(name)
        except CampaignNotFound as exc:
            raise LifecycleError("not_found", str(exc)) from None

    def create(self, document: dict[str, Any], actor: str) -> CampaignRecord:
        name = self._name_of(document)
        try:
            return self.campaigns.create(name, document, actor)
        except CampaignExists as exc:
            raise LifecycleError("conflict", str(exc)) from None

    def update_draft(self, name: str, document: dict[str, Any], actor: str) -> CampaignRecord:
        record = self.get(name)
        if record.status not in EDITABLE:
            raise LifecycleError("conflict", f"campaign {name!r} is {record.status}: "
                                             "duplicate it to change it")
        if self._name_of(document) != name:
            raise LifecycleError("invalid", f"the document's name must stay {name!r}; "
                                            "duplicate the campaign to rename it")
        return self.campaigns.update(name, actor, "edit", draft=document)

    def delete(self, name: str, actor: str) -> None:
        record = self.get(name)
        if record.status != S.DRAFT:
            raise LifecycleError("conflict", f"campaign {name!r} is {record.status}: only "
                                             "drafts (never published) can be deleted; "
                                             "archive it instead")
        self.campaigns.delete(name, actor)

    def duplicate(self, name: str, new_name: str, actor: str) -> CampaignRecord:
        record = self.get(name)
        source = record.draft if record.draft is not None \
            else self.campaigns.version(name, record.latest_version or 1).document
        document = copy.deepcopy(source)
        document["name"] = new_name
        self._name_of(document)
        created = self.create(document, actor)
        self.campaigns.update(new_name, actor, "duplicate", {"from": name})
        return created

    @property
    def base_dir(self) -> Path:
        """Where relative paths in stored documents (content files, load_file) are read:
        the workspace's `campaigns/` folder, where campaign files live."""
        folder = self.ws.root / "campaigns"
        return folder if folder.is_dir() else self.ws.root

    def problems(self, document: dict[str, Any]) -> list[Problem]:
        return validate(document, environment_for(self.ws, self.base_dir)).problems

    # ---- publication ----
    def publish(self, name: str, actor: str) -> VersionRecord:
        record = self.get(name)
        if record.status not in {S.DRAFT, *S.PUBLISHED}:
            raise LifecycleError("conflict", f"campaign {name!r} is {record.status}: "
                                             "duplicate it to publish a new campaign")
        if record.draft is None:
            raise LifecycleError("conflict", f"campaign {name!r} has no draft to publish")
        document = absolutize_paths(record.draft, self.base_dir)
        problems = self.problems(document)
        if problems:
            raise LifecycleError("invalid", f"campaign {name!r} cannot be published: "
                                            f"{len(problems)} problem(s)", problems=problems)
        now = self.clock.now()
        schedule = _schedule(document)
        first = record.status == S.DRAFT
        status = record.status
        extra: dict[str, Any] = {}
        if first:
            status = S.LIVE if schedule is None or schedule.is_signal else S.SCHEDULED
            extra["last_slot"] = now  # slots before publication never fire
            if schedule is not None and not schedule.is_signal:
                extra["next_start"] = schedule.next_start(_zone(document), now)
        version = self.campaigns.publish(name, document, actor, status, **extra)
        if first and schedule is None:
            self.start_live_run(name, actor, trigger="publish")
        elif schedule is not None and not schedule.is_signal:
            self.campaigns.set_scheduler_state(
                name, next_start=schedule.next_start(_zone(document),
                                                     record.last_slot or now))
        return version

    def unpublish(self, name: str, actor: str) -> CampaignRecord:
        """Back to draft: only while the latest version has never run."""
        record = self.get(name)
        number = record.latest_version
        if number is None:
            raise LifecycleError("conflict", f"campaign {name!r} was never published")
        if self.campaigns.version_has_run(name, number):
            raise LifecycleError("conflict", f"version {number} of {name!r} has run already: "
                                             "publish a new version or duplicate the campaign")
        status = S.DRAFT if number == 1 else record.status
        self.campaigns.unpublish(name, number, actor, status)
        return self.get(name)

    def act(self, name: str, action: str, actor: str) -> CampaignRecord:
        """pause, resume, stop, close or archive."""
        if action not in TRANSITIONS:
            raise LifecycleError("not_found", f"unknown action {action!r}: expected one of "
                                              f"{', '.join(TRANSITIONS)}")
        allowed, target = TRANSITIONS[action]
        record = self.get(name)
        if record.status not in allowed:
            raise LifecycleError("conflict", f"cannot {action} campaign {name!r}: it is "
                                             f"{record.status} (allowed from "
                                             f"{', '.join(sorted(allowed))})")
        if action == "resume" and record.last_slot is not None \
                and not self._has_live_runs(name) and _schedule_of(self, record) is not None:
            target = S.SCHEDULED
        updated = self.campaigns.update(name, actor, action, expect=record.status,
                                        status=target)
        if action in ("stop", "pause"):
            for run in self.active_runs(name, mode="live"):
                self.pause_run(run.id, actor) if action == "pause" \
                    else self.stop_run(run.id, actor)
        if action == "close" and not self.active_runs(name, mode="live"):
            updated = self.campaigns.update(name, "scheduler", "complete", status=S.COMPLETED)
        return updated

    # ---- runs ----
    def start_test_run(self, name: str, actor: str, variables: dict[str, Any] | None = None,
                       breakpoints: list[str] | None = None) -> str:
        record = self.get(name)
        if record.draft is None or record.status == S.ARCHIVED:
            raise LifecycleError("conflict", f"campaign {name!r} has no draft: test runs are "
                                             "for drafts")
        return self._start(record.draft, "test", actor, variables=variables,
                           breakpoints=breakpoints, trigger="manual")

    def start_live_run(self, name: str, actor: str, *, trigger: str,
                       variables: dict[str, Any] | None = None,
                       slot: datetime | None = None) -> str:
        record = self.get(name)
        if record.latest_version is None:
            raise LifecycleError("conflict", f"campaign {name!r} is not published: live runs "
                                             "are for published versions")
        version = self.campaigns.version(name, record.latest_version)
        return self._start(version.document, "live", actor, variables=variables,
                           version=version.number, trigger=trigger, slot=slot)

    def signal(self, name: str, actor: str, variables: dict[str, Any] | None = None) -> str:
        """Start a run of a signal-scheduled campaign, at most once per `min_interval`."""
        record = self.get(name)
        if record.latest_version is None:
            raise LifecycleError("conflict", f"campaign {name!r} is not published")
        document = self.campaigns.version(name, record.latest_version).document
        schedule = _schedule(document)
        if schedule is None or not schedule.is_signal:
            raise LifecycleError("conflict", f"campaign {name!r} is not started by signals "
                                             "(its schedule has no `signal`)")
        if record.status not in CampaignStatus.STARTING:
            raise LifecycleError("conflict", f"campaign {name!r} is {record.status}: it "
                                             "takes no signal")
        interval = schedule.min_interval or timedelta(0)
        now = self.clock.now()
        if not self.campaigns.claim_signal(name, now, now - interval):
            last = self.get(name).last_signal_at or now
            wait = max(1, math.ceil((last + interval - now).total_seconds()))
            raise LifecycleError("too_soon", f"campaign {name!r} was signalled less than "
                                             f"{interval} ago: retry in {wait} s",
                                 retry_after=wait)
        return self.start_live_run(name, actor, trigger="signal", variables=variables)

    def _start(self, document: dict[str, Any], mode: str, actor: str, **record: Any) -> str:
        try:
            run_id = prepare_run(self.ws, document, base_dir=self.base_dir, mode=mode,
                                 clock=self.clock.now(), started_by=actor, status="pending",
                                 variables=record.pop("variables", None), **record)
        except InvalidDocument as exc:
            raise LifecycleError("invalid", f"the document has {len(exc.problems)} "
                                            "problem(s)", problems=exc.problems) from None
        if self.dispatch is not None:
            self.dispatch(run_id)
        return run_id

    def run(self, run_id: str) -> RunRecord:
        try:
            return self.ws.control.get_run(run_id)
        except RunNotFound as exc:
            raise LifecycleError("not_found", str(exc)) from None

    def run_resource(self, run_id: str) -> dict[str, Any]:
        """A run as the API and the CLI show it: the spec §5 summary, its document and
        bookkeeping, and why each waiting activity waits."""
        from overture.engine.runner import run_summary

        run = self.run(run_id)
        out = run_summary(self.ws, run.id)
        out.update(document=run.document, version=run.version, trigger=run.trigger,
                   started_by=run.started_by, breakpoints=run.breakpoints or [],
                   requested=run.requested, created_at=run.created_at.isoformat(),
                   finished_at=run.finished_at.isoformat() if run.finished_at else None)
        states = self.ws.control.activity_runs(run.id)
        for activity_id, entry in out["activities"].items():
            state = states.get(activity_id)
            if state is not None and state.status == ActivityStatus.WAITING:
                entry["waiting_for"] = state.waiting_for
                if state.wake_at is not None:
                    entry["wake_at"] = state.wake_at.isoformat()
        return out

    def active_runs(self, name: str, mode: str | None = None) -> list[RunRecord]:
        runs = self.ws.control.runs_with_status(*RunStatus.ACTIVE)
        return [r for r in runs if r.campaign == name and (mode is None or r.mode == mode)]

    def _has_live_runs(self, name: str) -> bool:
        return any(r.mode == "live" for r in self.ws.control.list_runs(name, limit=1000))

    def pause_run(self, run_id: str, actor: str) -> RunRecord:
        return self._halt(run_id, actor, "pause", RunStatus.PAUSED)

    def stop_run(self, run_id: str, actor: str) -> RunRecord:
        return self._halt(run_id, actor, "stop", RunStatus.STOPPED)

    def _halt(self, run_id: str, actor: str, what: str, status: RunStatus) -> RunRecord:
        """An executing run is asked (it stops at its next safe point, after recording
        what is in flight); an idle one changes status at once."""
        run = self._active_run(run_id, what)
        self.ws.control.log(run.id, f"{what} asked by {actor}", level="warning")
        self.ws.control.update_run(run.id, requested=what)
        if not self._interrupt(run.id):
            self.ws.control.update_run(run.id, status=status.value, requested="",
                                       error=f"{what} on request by {actor}")
        return self.run(run.id)

    def resume_run(self, run_id: str, actor: str) -> RunRecord:
        run = self.run(run_id)
        try:
            check_resumable(run)
        except OvertureError as exc:
            raise LifecycleError("conflict", str(exc)) from None
        if self.is_executing is not None and self.is_executing(run.id):
            raise LifecycleError("conflict", f"run {run.id} is running already")
        self.ws.control.update_run(run.id, status=RunStatus.PENDING.value, requested="")
        self.ws.control.log(run.id, f"resumed by {actor}")
        if self.dispatch is not None:
            self.dispatch(run.id)
        return self.run(run.id)

    def restart_run(self, run_id: str, actor: str) -> str:
        """A new run of the same document, version and variables (the old one stops)."""
        run = self.run(run_id)
        if run.status.is_active():
            self.stop_run(run.id, actor)
        return self._start(run.document, run.mode, actor, variables=dict(run.variables),
                           version=run.version, trigger="restart")

    def confirm(self, run_id: str, activity_id: str, actor: str) -> RunRecord:
        run = self._active_run(run_id, "confirm")
        state = self.ws.control.activity_runs(run.id).get(activity_id)
        if state is None or state.status != ActivityStatus.WAITING \
                or state.waiting_for != WaitingFor.CONFIRMATION.value:
            raise LifecycleError("conflict", f"activity {activity_id!r} of run {run.id} is "
                                             "not waiting for a confirmation")
        self.ws.control.confirm_activity(run.id, activity_id, actor)
        self.ws.control.log(run.id, f"sending confirmed by {actor}", activity_id=activity_id)
        return self._wake(run.id, actor)

    def continue_breakpoint(self, run_id: str, activity_id: str, actor: str) -> RunRecord:
        run = self._active_run(run_id, "continue")
        points = list(run.breakpoints or [])
        if activity_id not in points:
            raise LifecycleError("conflict", f"run {run.id} has no breakpoint on "
                                             f"{activity_id!r}")
        points.remove(activity_id)
        self.ws.control.update_run(run.id, breakpoints=points)
        self.ws.control.log(run.id, f"continued by {actor}", activity_id=activity_id)
        return self._wake(run.id, actor)

    def _wake(self, run_id: str, actor: str) -> RunRecord:
        """After a confirmation or a continue: resume the run; while it executes (its
        other branches go on), have it executed again once this pass ends, so that the
        activity that waited is taken up then (never a 409 for a recorded go-ahead)."""
        if self.is_executing is not None and self.dispatch_after is not None \
                and self.is_executing(run_id):
            self.dispatch_after(run_id)
            return self.run(run_id)
        return self.resume_run(run_id, actor)

    def set_breakpoints(self, run_id: str, activities: list[str], actor: str) -> RunRecord:
        run = self._active_run(run_id, "set breakpoints on")
        known = {str(a.get("id")) for a in run.document.get("activities", [])
                 if isinstance(a, dict)}
        unknown = [a for a in activities if a not in known]
        if unknown:
            raise LifecycleError("invalid", f"no activity {unknown[0]!r} in run {run.id}")
        self.ws.control.update_run(run.id, breakpoints=list(activities))
        return self.run(run.id)

    def _active_run(self, run_id: str, action: str) -> RunRecord:
        run = self.run(run_id)
        if run.status.is_finished():
            raise LifecycleError("conflict", f"cannot {action} run {run.id}: it is "
                                             f"{run.status}")
        return run

    def _interrupt(self, run_id: str) -> bool:
        """True when the run is executing (and now asked to stop at its next safe point)."""
        return self.interrupt is not None and self.interrupt(run_id)

    # ---- after a run ----
    def run_finished(self, run_id: str) -> None:
        """A live run ended or went idle: the campaign's status follows (spec §6)."""
        run = self.run(run_id)
        if run.mode != "live":
            return
        try:
            record = self.campaigns.get(run.campaign)
        except CampaignNotFound:
            return  # a file run from the CLI
        document = run.document
        schedule = _schedule(document)
        one_shot = schedule is None or schedule.kind == "once"
        if run.status == RunStatus.FAILED:
            self.campaigns.update(record.name, "engine", "fail", {"run": run.id},
                                  status=S.FAILED)
            return
        if run.status != RunStatus.DONE:
            return
        policy = document.get("error_policy") or {}
        if run.error:  # failures ignored by the error policy
            errors = record.consecutive_errors + 1
            limit = policy.get("max_consecutive")
            if limit is not None and errors >= int(limit):
                self.campaigns.update(record.name, "engine", "fail",
                                      {"run": run.id, "consecutive_errors": errors},
                                      status=S.FAILED, consecutive_errors=errors)
                return
            self.campaigns.set_scheduler_state(record.name, consecutive_errors=errors)
        elif record.consecutive_errors:
            self.campaigns.set_scheduler_state(record.name, consecutive_errors=0)
        others = [r for r in self.active_runs(record.name, mode="live") if r.id != run.id]
        over = one_shot or record.status == S.CLOSED or (
            schedule is not None and not schedule.is_signal
            and schedule.ended(_zone(document), self.clock.now()))
        if over and not others and record.status in {S.LIVE, S.SCHEDULED, S.CLOSED}:
            self.campaigns.update(record.name, "engine", "complete", {"run": run.id},
                                  status=S.COMPLETED)

    @staticmethod
    def _name_of(document: dict[str, Any]) -> str:
        from overture.definition.campaign import Campaign

        if not isinstance(document, dict):
            raise LifecycleError("invalid", "a campaign document is a mapping")
        name = document.get("name")
        field = Campaign.model_fields["name"]
        import re

        pattern = next((m.pattern for m in field.metadata if hasattr(m, "pattern")), None)
        if not isinstance(name, str) or not name or len(name) > 100 or (
                pattern and not re.match(pattern, name)):
            raise LifecycleError("invalid", "the document needs a `name`: lowercase letters, "
                                            "digits, - and _, starting with a letter or digit")
        return name


def _schedule(document: dict[str, Any]) -> Any:
    raw = document.get("schedule")
    if not raw:
        return None
    from overture.schedules import parse_schedule

    return parse_schedule(raw)


def _zone(document: dict[str, Any]) -> str:
    return str(document.get("timezone") or "UTC")


def _schedule_of(lifecycle: Lifecycle, record: CampaignRecord) -> Any:
    if record.latest_version is None:
        return None
    return _schedule(lifecycle.campaigns.version(record.name, record.latest_version).document)


def file_version(ws: Workspace, document: dict[str, Any], actor: str) -> int:
    """The published version a live run of a campaign *file* runs (`overture run --live`):
    the latest one if it holds this very document, else a new one published now, the
    command being its publication. The campaign is created when new."""
    repo = CampaignRepository(ws.control)
    name = Lifecycle._name_of(document)
    try:
        record = repo.get(name)
    except CampaignNotFound:
        record = repo.create(name, document, actor)
    if record.status == S.ARCHIVED:
        raise LifecycleError("conflict", f"campaign {name!r} is archived: duplicate it to "
                                         "run it again")
    if record.latest_version is not None:
        latest = repo.version(name, record.latest_version)
        if latest.document == document:
            return latest.number
    status = S.LIVE if record.status == S.DRAFT else record.status
    return repo.publish(name, document, actor, status, draft=document).number
