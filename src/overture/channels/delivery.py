"""Live sending: the pending messages of a channel activity, through its provider.

The messages still pending (no result yet, due now) are first written to a queue
table ordered by profile key, then read back in batches of `batch_size`: the
engine's memory, not Python's, holds the audience. The main thread renders each
message and hands it to a pool of `provider.concurrency` threads; each thread waits
for its rate-limit slots, sends, and retries transient failures with exponential
backoff and jitter. Results are appended to the message log every `batch_size`
messages (or every second when sending is slow), so after a crash at most the
messages sent but not yet recorded (`batch_size` plus the 4 x `concurrency` in
flight) are sent again, under the same id.

Only the main thread touches the data plane and the run log; worker threads hand
their results and log lines back through thread-safe lists.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import ibis
import ibis.expr.types as ir

from overture.activities.base import ActivityError, ExecContext, PortInput
from overture.channels.compose import Composer
from overture.channels.plan import with_attributes
from overture.channels.providers import OutgoingMessage, Provider, SendResult
from overture.channels.render import ContentError, RenderedMessage
from overture.channels.settings import DeliverySettings
from overture.channels.throttle import RateLimiter
from overture.data import events, messages
from overture.observability import metrics
from overture.store.claims import BatchClaim, Claims

#: retries logged one by one; beyond this, only counted in the summary line
RETRY_LOG_LIMIT = 50
#: results wait at most this long to be recorded when sending is slow
FLUSH_SECONDS = 1.0
#: seconds between looks at the batches other workers hold, once none is left to claim
WAIT_FOR_OTHERS = 0.2
_SEQ = "_seq"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    paused: str | None = None
    interrupted: bool = False  # paused because the run was asked to stop, not by errors
    #: other workers still hold batches of this activity (a pause reached us first)
    others_sending: bool = False


@dataclass
class _Shared:
    """What worker threads hand back to the main thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    results: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)  # tracked links of sent email
    logs: list[str] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    retried: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    flushed_at: float = field(default_factory=time.monotonic)
    #: messages of the queue still counted in the `overture_delivery_queue_messages` gauge
    queued: int = 0
    #: the send batch these messages belong to, and whether another worker took it over
    claim: BatchClaim | None = None
    lost: bool = False


@dataclass(frozen=True)
class BatchResult:
    sent: int
    failed: int
    retried: int
    status: str  # done, stopped, open (handed back)
    interrupted: bool = False


@dataclass
class Delivery:
    ctx: ExecContext
    source: PortInput
    composer: Composer
    provider: Provider
    settings: DeliverySettings
    limiters: list[RateLimiter]
    now: datetime
    progress: Callable[[int, int], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    #: retries and failures logged one by one so far, over every batch of this pass
    _retries_logged: int = 0
    _failures_logged: int = 0

    # ---- the queue ----
    def _queue(self) -> tuple[ir.Table, int]:
        ctx, source = self.ctx, self.source
        dim = source.dimension
        key = ctx.key_of(dim)
        log = messages.of_activity(ctx.plane, ctx.run_id, self.composer.content.activity_id)
        assert log is not None
        due = log.filter((log.status == "pending") & (
            log.not_before.isnull()
            | (log.not_before <= ibis.literal(messages.utc_naive(self.now), type="timestamp"))))
        due = due.select(_mid=due.message_id, _pkey=due.profile_key, _address=due.address)
        work = ctx.read(source)
        keys = work.select(key, _wkey=work[key].cast("string"))
        rows = due.join(keys, due._pkey == keys._wkey).drop("_pkey", "_wkey")
        # narrow on purpose: sorting every template column of a million profiles would
        # hold them all in memory; they are joined back per batch (`_batch`)
        rows = rows.mutate(**{_SEQ: ibis.row_number().over(order_by=rows[key])})
        name = ctx.table_name(self.composer.content.activity_id, "queue")
        count = ctx.plane.materialize(rows, name)
        return ctx.plane.table_any(name), count

    def _batch(self, queue: ir.Table, start: int, end: int, *, recheck: bool
               ) -> list[dict[str, Any]]:
        """Rows `start` to `end` of the queue with every column a template may name (the
        work table's and the dimension's), in key order. `recheck` leaves out messages
        recorded meanwhile (a batch claimed again after its worker died, a resumed run)."""
        dim = self.source.dimension
        key = self.ctx.key_of(dim)
        part = queue.filter((queue[_SEQ] >= start) & (queue[_SEQ] < end))
        if recheck:
            log = messages.of_activity(self.ctx.plane, self.ctx.run_id, self.activity_id)
            assert log is not None
            done = log.filter(log.status != "pending")
            part = part.filter(~part._mid.isin(done.message_id))
        bounds = part.aggregate(lo=part[key].min(), hi=part[key].max()).to_pyarrow().to_pylist()
        lo, hi = bounds[0]["lo"], bounds[0]["hi"]
        if lo is None:
            return []
        work = self.ctx.read(self.source)
        work = work.filter((work[key] >= lo) & (work[key] <= hi))  # zone maps skip the rest
        work = with_attributes(self.ctx, work, dim)
        work = work.rename({f"_w_{key}": key})
        rows = part.join(work, part[key] == work[f"_w_{key}"]).drop(f"_w_{key}")
        return rows.order_by(_SEQ).to_pyarrow().to_pylist()

    # ---- sending ----
    @property
    def channel(self) -> str:
        return self.composer.content.channel

    @property
    def activity_id(self) -> str:
        return self.composer.content.activity_id

    @property
    def claims(self) -> Claims:
        if self.ctx.claims is None:
            raise ActivityError("live sending needs a control plane to share its batches")
        return cast(Claims, self.ctx.claims)

    def queue_name(self) -> str:
        return self.ctx.table_name(self.activity_id, "queue")

    def run(self) -> DeliveryReport:
        """Send every due pending message: cut the queue into batches that any worker
        may claim, send batches until none is left, and wait for those that other
        workers hold. Batches outlive a pause or a crash; the resumed run goes on
        with them."""
        claims, run_id, activity = self.claims, self.ctx.run_id, self.activity_id
        earlier = claims.batch_state(run_id, activity)
        sent_before = earlier.sent  # by an earlier pass (reopening keeps these counts)
        if earlier.total == 0:
            queue, total = self._queue()
            events.ensure_links(self.ctx.plane)  # created once here, not raced by workers
            messages.ensure_results(self.ctx.plane)
            claims.create_batches(run_id, activity, total, self.settings.batch_size)
        else:
            claims.reopen(run_id, activity)
            queue = self.ctx.plane.table_any(self.queue_name())
            total = self.ctx.plane.count(queue)
        report = DeliveryReport()
        while not self._interrupt(report):
            claim = claims.claim_batch(run_id, activity)
            if claim is None:
                state = claims.batch_state(run_id, activity)
                if state.stopped or not state.unfinished:
                    break
                self._report_progress(total)
                self.sleep(WAIT_FOR_OTHERS)  # batches other workers hold: poll their end
                continue
            result = self.send_batch(queue, claim)
            if result.interrupted:
                report.interrupted = True
            self._report_progress(total)
        state = claims.batch_state(run_id, activity)
        report.sent, report.failed = state.sent - sent_before, state.failed
        report.retried = state.retried
        report.others_sending = state.claimed > 0
        if not state.unfinished and not state.stopped:
            claims.drop_batches(run_id, activity)
            self.ctx.plane.drop(self.queue_name())
        if report.interrupted:
            report.paused = (f"interrupted after {report.sent + state.failed} messages; the "
                             "messages not sent stay pending and go when the run resumes")
        elif state.stopped:
            report.paused = (f"paused after {state.failed} failed messages "
                             f"(max_errors = {self.settings.max_errors}); "
                             "the messages not sent stay pending: resume the run to continue")
        return report

    def _report_progress(self, total: int) -> None:
        if self.progress:
            state = self.claims.batch_state(self.ctx.run_id, self.activity_id)
            self.progress(state.sent + state.failed, total)

    def assist(self, claim: BatchClaim) -> BatchResult:
        """Send one batch claimed by this worker for a run another worker executes."""
        return self.send_batch(self.ctx.plane.table_any(self.queue_name()), claim)

    def send_batch(self, queue: ir.Table, claim: BatchClaim) -> BatchResult:
        """Send the messages of one claimed batch, record their results, then mark the
        batch done (or stopped after too many failures, or open again if interrupted)."""
        key = self.ctx.key_of(self.source.dimension)
        if claim.taken_from is not None:
            self.ctx.log(f"batch {claim.batch} taken over from worker {claim.taken_from}: "
                         "its lease lapsed; the messages it recorded are not sent again")
        rows = self._batch(queue, claim.seq_from, claim.seq_to, recheck=claim.attempts > 1)
        shared = _Shared(queued=len(rows), failed=claim.failed_before, claim=claim)
        metrics.delivery_queue(self.channel, len(rows))
        report = DeliveryReport()
        workers = max(1, int(getattr(self.provider, "concurrency", 1) or 1))
        slots = threading.BoundedSemaphore(workers * 4)
        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="overture-send") as pool:
                for row in rows:
                    if shared.stop.is_set() or self._interrupt(report):
                        break
                    self._submit(pool, slots, shared, row, key)
                if shared.stop.is_set():
                    pool.shutdown(wait=True, cancel_futures=True)
        finally:
            with shared.lock:  # what was not sent (interrupted, paused) leaves the queue
                left, shared.queued = shared.queued, 0
            metrics.delivery_queue(self.channel, -left)
            self._flush(shared, force=True)
        status = "stopped" if shared.stop.is_set() and not shared.lost \
            else "open" if report.interrupted else "done"
        failed = shared.failed - claim.failed_before
        self.claims.finish_batch(claim, sent=shared.sent, failed=failed,
                                 retried=shared.retried, status=status)
        return BatchResult(shared.sent, failed, shared.retried, status,
                           interrupted=report.interrupted)

    def _interrupt(self, report: DeliveryReport) -> bool:
        """The run was asked to pause or stop, or the server is shutting down: take no
        new message; what is in flight finishes and is recorded."""
        if not report.interrupted and self.ctx.interrupted():
            report.interrupted = True
        return report.interrupted

    def _submit(self, pool: ThreadPoolExecutor, slots: threading.BoundedSemaphore,
                shared: _Shared, row: dict[str, Any], key: str) -> None:
        mid = row.pop("_mid")
        address = row.pop("_address")
        row.pop(_SEQ, None)
        try:
            message, rendered = self.composer.compose(row, row[key], address, mid)
        except ContentError as exc:
            self._finish(shared, mid, None, SendResult.failed(str(exc)), 0)
            return
        slots.acquire()
        future = pool.submit(self._deliver, shared, message)
        future.add_done_callback(lambda f: self._done(f, shared, slots, mid, rendered))
        self._flush(shared, force=False)

    def _deliver(self, shared: _Shared, message: OutgoingMessage) -> tuple[SendResult, int]:
        attempt = 0
        while True:
            attempt += 1
            for limiter in self.limiters:
                limiter.acquire()
            began = time.monotonic()
            try:
                result = self.provider.send(message)
            except Exception as exc:  # a provider bug must not lose the message's record
                result = SendResult.failed(f"provider error: {type(exc).__name__}: {exc}")
            metrics.provider_request(self.channel, self.provider.name,
                                     time.monotonic() - began)
            if result.ok or not result.transient or attempt >= self.settings.max_attempts:
                return result, attempt
            if shared.stop.is_set():
                return SendResult.failed(f"not retried (activity paused): {result.error}",
                                         transient=True), attempt
            delay = min(self.settings.retry_max,
                        self.settings.retry_base * 2 ** (attempt - 1)) * random.uniform(0.5, 1)
            if result.retry_after is not None:
                delay = min(max(delay, result.retry_after), max(self.settings.retry_max,
                                                                 result.retry_after))
            metrics.message_retry(self.channel)
            with shared.lock:
                shared.retried += 1
                self._retries_logged += 1
                if self._retries_logged <= RETRY_LOG_LIMIT:
                    shared.logs.append(
                        f"retry {attempt}/{self.settings.max_attempts - 1} of message "
                        f"{message.message_id} to {message.to} in {delay:.2f} s: {result.error}")
            self.sleep(delay)

    def _done(self, future: Future[tuple[SendResult, int]], shared: _Shared,
              slots: threading.BoundedSemaphore, mid: str,
              rendered: RenderedMessage) -> None:
        try:
            if future.cancelled():
                return  # never sent: stays pending
            error = future.exception()
            if error is not None:  # not the provider's (that is caught): say so, never drop it
                result, attempts = SendResult.failed(
                    f"internal error: {type(error).__name__}: {error}"), 0
            else:
                result, attempts = future.result()
            if not result.ok and result.transient and result.error \
                    and result.error.startswith("not retried (activity paused)"):
                return  # stays pending for the resumed run
            self._finish(shared, mid, rendered, result, attempts)
        finally:
            slots.release()

    def _finish(self, shared: _Shared, mid: str, rendered: RenderedMessage | None,
                result: SendResult, attempts: int) -> None:
        row = {
            "message_id": mid, "status": "sent" if result.ok else "failed",
            "variant": rendered.variant if rendered else None,
            "language": rendered.language if rendered else None,
            "provider": self.provider.name, "provider_id": result.provider_id,
            "error": None if result.ok else (result.error or "failed")[:500],
            "attempts": attempts, "at": messages.now(),
        }
        metrics.message_result(self.channel, result.ok)
        with shared.lock:
            shared.results.append(row)
            if shared.queued > 0:
                shared.queued -= 1
                metrics.delivery_queue(self.channel, -1)
            if result.ok and rendered is not None and rendered.links:
                shared.links.extend({"message_id": mid, "link": i, "url": url}
                                    for i, url in enumerate(rendered.links))
            if result.ok:
                shared.sent += 1
            else:
                shared.failed += 1
                self._failures_logged += 1
                if self._failures_logged <= RETRY_LOG_LIMIT:
                    shared.logs.append(f"failed: message {mid}: {row['error']}")
                if shared.failed >= self.settings.max_errors:
                    shared.stop.set()

    def _flush(self, shared: _Shared, *, force: bool) -> None:
        """Record the results so far: every `batch_size` of them, or after a second."""
        with shared.lock:
            due = len(shared.results) >= self.settings.batch_size or (
                shared.results and time.monotonic() - shared.flushed_at >= FLUSH_SECONDS)
            if not force and not due:
                rows: list[dict[str, Any]] = []
                links: list[dict[str, Any]] = []
            else:
                rows, shared.results = shared.results, []
                links, shared.links = shared.links, []
                shared.flushed_at = time.monotonic()
            logs, shared.logs = shared.logs, []
        if rows and shared.claim is not None \
                and not self.claims.holds(shared.claim):
            # our lease lapsed (this process stalled) and another worker has the batch:
            # it sends these messages again under the same ids and records them once
            shared.lost = True
            shared.stop.set()
            rows, links = [], []
            logs.append(f"batch {shared.claim.batch}: its lease lapsed while sending; "
                        "another worker has it, and these results are left to it")
        # links first: a crash in between leaves links of a message not yet recorded as
        # sent (harmless, it is sent again with the same links), never a sent message
        # whose clicks cannot be redirected
        events.record_links(self.ctx.plane, links)
        messages.record_results(self.ctx.plane, rows)
        for line in logs:
            self.ctx.log(line)
