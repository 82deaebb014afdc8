"""Prometheus metrics of `overture serve`, served at `GET /metrics`.

Counters and histograms are counted where things happen: a run recorded or finished
(the control store), an activity executed (the runner), a message sent, failed or
excluded (the channels' send path), a tracking or feedback event stored, a scheduler
pass. They exist once per process: `enable()` (the server calls it at start) creates
them, and before that every hook below is a no-op, so CLI commands neither import
prometheus_client nor count anything. prometheus_client's values are guarded by locks:
the worker threads, the senders' threads and the request threads count into the same
series without losing an increment.

What is stored elsewhere (active runs by status, waiting activities, due wake-ups, the
worker pool, the tracking queue) is read when Prometheus scrapes, by `StateCollector`.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from overture.store.status import RunStatus, WaitingFor

logger = logging.getLogger("overture.metrics")
MODES = ("test", "live")
RUN_STATUSES = sorted(RunStatus.ACTIVE)

#: seconds: an activity takes from milliseconds (a count) to an hour (a big send)
ACTIVITY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
                    600.0, 1800.0, 3600.0)
#: seconds of one request to a provider (one SMTP transaction, one HTTP call)
PROVIDER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TICK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_lock = threading.Lock()


class Metrics:
    """Every series counted in process, in a registry of their own."""

    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            Info,
            disable_created_metrics,
        )
        from prometheus_client.gc_collector import GCCollector
        from prometheus_client.platform_collector import PlatformCollector
        from prometheus_client.process_collector import ProcessCollector

        from overture import __version__

        disable_created_metrics()  # no `_created` series beside every counter
        self.registry = registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        Info("overture_build", "The Overture release this server runs.",
             registry=registry).info({"version": __version__,
                                      "python": platform.python_version()})
        self.runs_started = Counter(
            "overture_runs_started", "Runs recorded (test and live), by what started them.",
            ["mode", "trigger"], registry=registry)
        self.runs_finished = Counter(
            "overture_runs_finished", "Runs that reached a finished status (done, failed, "
            "stopped); a failed run resumed and finished again counts again.",
            ["mode", "status"], registry=registry)
        self.activity_seconds = Histogram(
            "overture_activity_duration_seconds", "Time an activity took to execute, by "
            "activity type and how it ended (done, failed, waiting).",
            ["type", "mode", "status"], buckets=ACTIVITY_BUCKETS, registry=registry)
        self.messages = Counter(
            "overture_messages", "Messages of live channel activities: sent, failed (after "
            "retries), excluded when planned.", ["channel", "status"], registry=registry)
        self.excluded = Counter(
            "overture_messages_excluded", "Messages excluded when planned, by reason.",
            ["channel", "reason"], registry=registry)
        self.retries = Counter(
            "overture_message_retries", "Transient send failures retried.", ["channel"],
            registry=registry)
        self.provider_seconds = Histogram(
            "overture_provider_request_duration_seconds", "Time of one send attempt through "
            "a provider.", ["channel", "provider"], buckets=PROVIDER_BUCKETS,
            registry=registry)
        self.delivery_queue = Gauge(
            "overture_delivery_queue_messages", "Messages in the send queues of the channel "
            "activities sending now, not sent yet.", ["channel"], registry=registry)
        self.events = Counter(
            "overture_tracking_events", "Engagement and feedback events stored, by kind "
            "(open, click, unsubscribe, delivered, bounce, complaint) and source "
            "(tracking, webhook, dsn, arf).", ["kind", "source"], registry=registry)
        self.ticks = Counter(
            "overture_scheduler_ticks", "Scheduler passes, by result (ok, failed).",
            ["result"], registry=registry)
        self.tick_seconds = Histogram(
            "overture_scheduler_tick_duration_seconds", "Time of one scheduler pass.",
            buckets=TICK_BUCKETS, registry=registry)
        self.last_tick = Gauge(
            "overture_scheduler_last_tick_timestamp_seconds", "When the last scheduler pass "
            "ended (Unix time).", registry=registry)


_metrics: Metrics | None = None


def enable() -> Metrics:
    """Create the metrics (once per process) and start counting."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics


def enabled() -> Metrics | None:
    return _metrics


# ---- hooks: each a no-op until `enable()` -------------------------------------------

def run_started(mode: str, trigger: str | None) -> None:
    if _metrics is not None:
        _metrics.runs_started.labels(mode, trigger or "none").inc()


def run_finished(mode: str, status: str) -> None:
    if _metrics is not None:
        _metrics.runs_finished.labels(mode, status).inc()


def activity_done(kind: str, mode: str, status: str, seconds: float) -> None:
    if _metrics is not None:
        _metrics.activity_seconds.labels(kind, mode, status).observe(seconds)


def message_result(channel: str, ok: bool) -> None:
    if _metrics is not None:
        _metrics.messages.labels(channel, "sent" if ok else "failed").inc()


def messages_excluded(channel: str, reasons: Mapping[str, int]) -> None:
    if _metrics is None:
        return
    total = 0
    for reason, count in reasons.items():
        if count:
            _metrics.excluded.labels(channel, reason).inc(count)
            total += count
    if total:
        _metrics.messages.labels(channel, "excluded").inc(total)


def message_retry(channel: str) -> None:
    if _metrics is not None:
        _metrics.retries.labels(channel).inc()


def provider_request(channel: str, provider: str, seconds: float) -> None:
    if _metrics is not None:
        _metrics.provider_seconds.labels(channel, provider).observe(seconds)


def delivery_queue(channel: str, change: int) -> None:
    """Messages added to (positive) or leaving (negative) the send queues."""
    if _metrics is not None and change:
        _metrics.delivery_queue.labels(channel).inc(change)


def events_stored(source: str, kinds: Mapping[str, int]) -> None:
    if _metrics is None:
        return
    for kind, count in kinds.items():
        if count:
            _metrics.events.labels(kind, source).inc(count)


def scheduler_tick(ok: bool, seconds: float) -> None:
    if _metrics is not None:
        _metrics.ticks.labels("ok" if ok else "failed").inc()
        _metrics.tick_seconds.observe(seconds)
        _metrics.last_tick.set(time.time())


# ---- read at scrape time ------------------------------------------------------------

@dataclass
class StateReadings:
    """What the server reports about its parts, read when Prometheus scrapes."""

    #: active runs of the control plane by (mode, status)
    runs: Callable[[], Mapping[tuple[str, str], int]]
    #: waiting activity runs of active runs, by what they wait for
    waiting: Callable[[], Mapping[str, int]]
    #: waiting runs whose wake-up time has passed, not yet handed to a worker
    due: Callable[[], int]
    #: (worker threads, runs executing, runs handed over and waiting for a worker)
    pool: Callable[[], tuple[int, int, int]]
    #: tracking events queued in memory, not yet appended
    sink_queue: Callable[[], int]
    #: the sink's counts: received, stored, duplicates, unknown, failed batches
    sink_stats: Callable[[], Mapping[str, int]]


class StateCollector:
    """Gauges of one server's state, read at every scrape. A control plane that cannot
    be read makes `overture_control_plane_up` 0 instead of failing the scrape."""

    def __init__(self, readings: StateReadings):
        self.readings = readings

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        r = self.readings
        up = GaugeMetricFamily("overture_control_plane_up", "Whether the control plane "
                               "answered this scrape's queries.")
        try:
            runs, waiting, due = r.runs(), r.waiting(), r.due()
        except Exception as exc:  # a scrape must answer whatever the database does
            logger.warning("metrics: the control plane did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            family = GaugeMetricFamily("overture_runs", "Runs not finished, by mode and "
                                       "status (pending, running, waiting, paused).",
                                       labels=["mode", "status"])
            every = {(mode, status.value): 0 for mode in MODES for status in RUN_STATUSES}
            for (mode, status), count in sorted({**every, **runs}.items()):
                family.add_metric([mode, status], count)
            yield family
            family = GaugeMetricFamily("overture_activity_runs_waiting", "Activities of "
                                       "runs not finished that wait, by what they wait for.",
                                       labels=["waiting_for"])
            every_reason = {reason.value: 0 for reason in WaitingFor}
            for reason, count in sorted({**every_reason, **waiting}.items()):
                family.add_metric([reason], count)
            yield family
            yield GaugeMetricFamily("overture_wakeups_due", "Waiting runs whose wake-up "
                                    "time has passed, not yet handed to a worker.", value=due)
        threads, executing, queued = r.pool()
        yield GaugeMetricFamily("overture_worker_threads", "Runs the pool executes at once.",
                                value=threads)
        yield GaugeMetricFamily("overture_runs_executing", "Runs executing on a worker now.",
                                value=executing)
        yield GaugeMetricFamily("overture_runs_queued", "Runs handed to the workers, "
                                "waiting for a free one.", value=queued)
        yield GaugeMetricFamily("overture_tracking_queue_events", "Tracking hits queued in "
                                "memory, not yet appended to the events table.",
                                value=r.sink_queue())
        stats = r.sink_stats()
        hits = CounterMetricFamily("overture_tracking_hits", "Tracking hits (opens, "
                                   "clicks, unsubscribes) by what became of them.",
                                   labels=["result"])
        for result in ("received", "stored", "duplicate", "unknown"):
            hits.add_metric([result], stats.get(result, 0))
        yield hits
        yield CounterMetricFamily("overture_tracking_failed_batches", "Appends of tracking "
                                  "events that failed (and were retried).",
                                  value=stats.get("failed_batches", 0))


class _Both:
    def __init__(self, *collectors: Any):
        self.collectors = collectors

    def collect(self) -> Iterator[Any]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(collector: StateCollector | None = None, accept: str = ""
               ) -> tuple[bytes, str]:
    """Every series (and a server's state) in the format the `Accept` header asks for:
    OpenMetrics when asked (as Prometheus does), else the text format. Body, content type.
    """
    from prometheus_client.exposition import choose_encoder

    metrics = enable()
    source: Any = metrics.registry if collector is None else _Both(metrics.registry, collector)
    encoder, content_type = choose_encoder(accept)
    return encoder(source), content_type
