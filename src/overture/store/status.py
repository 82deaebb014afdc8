"""Run and activity-run statuses, with their named groups and predicates beside them.

The groups live here, not in callers, so "is this finished?" has one answer for the
engine, the retention job, the API and the canvas.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"

    FINISHED: ClassVar[frozenset[RunStatus]]
    ACTIVE: ClassVar[frozenset[RunStatus]]

    def is_finished(self) -> bool:
        """A finished run never changes again (only retention touches it)."""
        return self in RunStatus.FINISHED

    def is_active(self) -> bool:
        return self in RunStatus.ACTIVE


RunStatus.FINISHED = frozenset({RunStatus.DONE, RunStatus.FAILED, RunStatus.STOPPED})
RunStatus.ACTIVE = frozenset(RunStatus) - RunStatus.FINISHED


class ActivityStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    WAITING = "waiting"

    FINISHED: ClassVar[frozenset[ActivityStatus]]
    ACTIVE: ClassVar[frozenset[ActivityStatus]]

    def is_finished(self) -> bool:
        """A finished activity run is a checkpoint: a resumed run does not execute it again."""
        return self in ActivityStatus.FINISHED

    def is_active(self) -> bool:
        return self in ActivityStatus.ACTIVE


ActivityStatus.FINISHED = frozenset(
    {ActivityStatus.DONE, ActivityStatus.FAILED, ActivityStatus.SKIPPED}
)
ActivityStatus.ACTIVE = frozenset(ActivityStatus) - ActivityStatus.FINISHED


class WaitingFor(StrEnum):
    """Why a `waiting` activity waits, and so what ends the wait."""

    TIMER = "timer"  # a wait activity: the scheduler wakes it at `wake_at`
    DEFERRED = "deferred"  # messages held by quiet hours: woken at `wake_at`
    CONFIRMATION = "confirmation"  # an approver's go-ahead before sending
    BREAKPOINT = "breakpoint"  # a person continues the run
    ERRORS = "errors"  # a channel paused after too many failures: resume by hand
    INTERRUPTED = "interrupted"  # paused, stopped or shut down mid-activity: resumes
    SUSPENDED = "suspended"  # failed under the `suspend` error policy: resume retries it

    #: what the scheduler resumes on its own, once `wake_at` has passed
    TIMED: ClassVar[frozenset[WaitingFor]]
    #: what leaves the run `paused` (a person acts) rather than `waiting`
    PAUSING: ClassVar[frozenset[WaitingFor]]


WaitingFor.TIMED = frozenset({WaitingFor.TIMER, WaitingFor.DEFERRED})
WaitingFor.PAUSING = frozenset({WaitingFor.ERRORS, WaitingFor.INTERRUPTED, WaitingFor.SUSPENDED})


class CampaignStatus(StrEnum):
    """Spec §6: one status per campaign."""

    DRAFT = "draft"  # never published
    SCHEDULED = "scheduled"  # published, waiting for its first start
    LIVE = "live"
    PAUSED = "paused"  # no new runs until resumed
    STOPPED = "stopped"
    CLOSED = "closed"  # recurring: no new runs; the current one finishes
    COMPLETED = "completed"
    FAILED = "failed"  # by the error policy
    ARCHIVED = "archived"

    #: the scheduler starts runs only for these
    STARTING: ClassVar[frozenset[CampaignStatus]]
    #: published and not over: a new version may be published
    PUBLISHED: ClassVar[frozenset[CampaignStatus]]


CampaignStatus.STARTING = frozenset({CampaignStatus.SCHEDULED, CampaignStatus.LIVE})
CampaignStatus.PUBLISHED = frozenset(
    {CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED})
