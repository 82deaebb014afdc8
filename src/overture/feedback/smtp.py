"""Bounces and complaints received by SMTP, stored as they arrive.

Point the MX of the bounce domain (or a transport of your relay) at a `FeedbackReceiver`
and every DSN and ARF report is parsed (`ingest.parse_report`) and stored
(`ingest.ingest_reports`) while the sending MTA waits for the answer to its DATA:

- a readable report is answered `250` once its events and suppressions are stored;
  when storing fails it is answered `451 4.3.0`, so the sending MTA keeps the message
  and tries again later: nothing is lost, and storing a report twice stores nothing
  twice (event ids are stable);
- a message that is no readable report (an auto-reply, a broken report) is answered
  `250` all the same, logged and counted: it will never become readable, and a
  temporary refusal would have the MTA send it again for days, a permanent one would
  have it bounce a bounce;
- a message larger than `size_limit` is refused with `552` (aiosmtpd announces the
  limit in its EHLO answer: `SIZE`).

Mail is accepted from any sender (bounces come from the null sender `<>`) for any
recipient: the receiver serves one purpose, and the address a report was sent to says
nothing it needs.

One writer thread stores the reports in small batches: those that arrived while it
stored the previous batch (at most `batch`), so a burst of bounces costs few
transactions and a lone bounce waits for nobody. It reaches the data plane through a
callable (`lambda: ws.data`): the server's thread-shared workspace gives the writer its
own connection. A batch that fails is stored again report by report, so one report
that cannot be stored does not defer the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from overture.data.plane import DataPlane
from overture.feedback.common import FeedbackError
from overture.feedback.ingest import FeedbackSummary, Report, parse_report

logger = logging.getLogger("overture.feedback.smtp")

SECTION = "feedback"
DEFAULT_HOST = "127.0.0.1"
#: the port of `overture feedback smtp` when neither --port nor [feedback] smtp_port say
DEFAULT_PORT = 2525
#: the largest message accepted (bytes): reports quote the original, usually whole
SIZE_LIMIT = 10 * 1024 * 1024
#: reports per batch, at most
SMTP_BATCH = 50
#: seconds a message waits for its batch to be stored before it is answered 451
STORE_TIMEOUT = 120.0

STORED = "250 2.0.0 Ok: report stored"
NOT_A_REPORT = "250 2.0.0 Ok: not a readable bounce or complaint report, dropped"
DEFERRED = "451 4.3.0 Cannot store the report now, try again later"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int


def smtp_settings(config: dict[str, Any]) -> SmtpSettings | None:
    """`[feedback] smtp_port` (and `smtp_host`) of a workspace's overture.toml; None when
    smtp_port is not set. A FeedbackError says what is wrong with them."""
    section = config.get(SECTION) or {}
    if not isinstance(section, dict):
        raise FeedbackError(f"[{SECTION}] in overture.toml must be a table of settings")
    port = section.get("smtp_port")
    host = section.get("smtp_host", DEFAULT_HOST)
    if port is None:
        if "smtp_host" in section:
            raise FeedbackError(f"[{SECTION}] smtp_host is set but smtp_port is not: set "
                                "smtp_port to receive bounces by SMTP")
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise FeedbackError(f"[{SECTION}] smtp_port = {port!r} in overture.toml: write a "
                            "port number, 1 to 65535")
    if not isinstance(host, str) or not host.strip():
        raise FeedbackError(f"[{SECTION}] smtp_host = {host!r} in overture.toml: write an "
                            "address to listen on, such as \"127.0.0.1\" or \"0.0.0.0\"")
    return SmtpSettings(host.strip(), port)


@dataclass
class ReceiverStats:
    """What a receiver did since it started."""

    #: messages received (each answered at the end of its DATA)
    messages: int = 0
    #: of them, not readable reports: answered 250, logged, nothing stored
    unreadable: int = 0
    #: answers 451 (storing failed or took too long: the sender tries again)
    deferred: int = 0
    #: what storing the reports did: events newly stored, duplicates, suppressions…
    #: (its `reports` counts the reports stored, a report stored again after a 451
    #: twice; its `unknown` stays empty: see `unknown`)
    stored: FeedbackSummary = field(default_factory=FeedbackSummary)
    #: reports about messages not in the message log (their ids are logged, not kept)
    unknown: int = 0

    def copy(self) -> ReceiverStats:
        stored = FeedbackSummary()
        stored.add(self.stored)
        return ReceiverStats(self.messages, self.unreadable, self.deferred, stored,
                             self.unknown)

    def record(self, summary: FeedbackSummary) -> None:
        """Add what one batch stored."""
        if summary.unknown:
            logger.info("reports about messages not in the message log: %s",
                        ", ".join(summary.unknown))
        self.unknown += len(summary.unknown)
        summary.unknown = []
        self.stored.add(summary)


@dataclass
class _Pending:
    report: Report
    done: Future[None]


class FeedbackReceiver:
    """An SMTP server storing the bounce and complaint reports it receives.

    `plane` gives the data plane (called in the writer thread); `now` dates the
    suppressions (default: the current time); port 0 listens on a free port, which
    `port` gives once started.
    """

    def __init__(self, plane: Callable[[], DataPlane], host: str = DEFAULT_HOST,
                 port: int = DEFAULT_PORT, *, size_limit: int = SIZE_LIMIT,
                 batch: int = SMTP_BATCH, now: Callable[[], datetime] | None = None,
                 server_name: str | None = None,
                 store_timeout: float = STORE_TIMEOUT) -> None:
        self.plane = plane
        self.host = host
        self.port = port
        self.size_limit = size_limit
        self.batch = batch
        self.now = now
        self.server_name = server_name or socket.gethostname()
        self.store_timeout = store_timeout
        self._stats = ReceiverStats()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._smtp: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None

    @property
    def stats(self) -> ReceiverStats:
        with self._lock:
            return self._stats.copy()

    # ---- running ----
    def start(self) -> FeedbackReceiver:
        """Listen and store; a FeedbackError when the address cannot be bound."""
        if self._smtp is not None:
            raise RuntimeError("the SMTP receiver is running already")
        self._writer = threading.Thread(target=self._write, name="overture-smtp-writer",
                                        daemon=True)
        self._writer.start()
        ready: Future[int] = Future()
        self._smtp = threading.Thread(target=self._serve, args=(ready,),
                                      name="overture-smtp", daemon=True)
        self._smtp.start()
        try:
            self.port = ready.result(timeout=30)
        except BaseException as exc:
            self._smtp.join(timeout=30)
            self._smtp = None
            self._stop_writer()
            if isinstance(exc, OSError):
                why = (os.strerror(exc.errno) if exc.errno and exc.errno > 0
                       else exc.strerror or str(exc) or "no answer within 30 seconds")
                raise FeedbackError(f"cannot listen for SMTP on {self.host}:{self.port}: "
                                    f"{why}") from exc
            raise
        logger.info("receiving bounces and complaints by SMTP on %s:%d", self.host,
                    self.port)
        return self

    def alive(self) -> bool:
        """Whether it listens and stores (both of its threads running)."""
        return all(thread is not None and thread.is_alive()
                   for thread in (self._smtp, self._writer))

    def stop(self) -> None:
        """Stop listening, drop the sessions under way (their senders retry what they
        were not answered), then store the reports queued already."""
        if self._smtp is not None:
            loop, closing = self._loop, self._closing
            if loop is not None and closing is not None:
                with contextlib.suppress(RuntimeError):  # the loop ended already
                    loop.call_soon_threadsafe(closing.set)
            self._smtp.join(timeout=30)
            self._smtp = None
        self._stop_writer()

    def __enter__(self) -> FeedbackReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _stop_writer(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=60)
            self._writer = None

    def _serve(self, ready: Future[int]) -> None:
        try:
            asyncio.run(self._listen(ready))
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                logger.exception("the SMTP receiver stopped")

    async def _listen(self, ready: Future[int]) -> None:
        from aiosmtpd.smtp import SMTP

        loop = asyncio.get_running_loop()
        self._loop, self._closing = loop, asyncio.Event()
        handler = _Handler(self)
        server = await loop.create_server(
            lambda: SMTP(handler, data_size_limit=self.size_limit, hostname=self.server_name,
                         ident="Overture feedback receiver", enable_SMTPUTF8=True,
                         decode_data=False, loop=loop),
            host=self.host, port=self.port)
        ready.set_result(int(server.sockets[0].getsockname()[1]))
        try:
            await self._closing.wait()
        finally:
            server.close()  # asyncio.run then cancels the sessions under way

    # ---- one message (aiosmtpd calls this in the event loop) ----
    async def receive(self, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        peer = session.peer[0] if session.peer else "?"
        with self._lock:
            self._stats.messages += 1
        loop = asyncio.get_running_loop()
        try:
            report = await loop.run_in_executor(None, parse_report, data)
        except FeedbackError as exc:
            with self._lock:
                self._stats.unreadable += 1
            logger.warning("SMTP message from %s (MAIL FROM %s, %d bytes) is no readable "
                           "report, dropped: %s", peer, envelope.mail_from or "<>",
                           len(data), exc)
            return NOT_A_REPORT
        pending = _Pending(report, Future())
        self._queue.put(pending)
        try:
            await asyncio.wait_for(asyncio.wrap_future(pending.done), self.store_timeout)
        except Exception as exc:
            with self._lock:
                self._stats.deferred += 1
            reason = "timed out" if isinstance(exc, TimeoutError) else f"failed: {exc}"
            logger.warning("storing the report %s from %s %s; answered 451",
                           report.report_id, peer, reason)
            return DEFERRED
        logger.info("stored the report %s from %s", report.report_id, peer)
        return STORED

    # ---- the writer thread ----
    def _write(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = [first], False
            while len(batch) < self.batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._store(batch)
            if stopping:
                return

    def _store(self, batch: list[_Pending]) -> None:
        from overture.feedback.ingest import ingest_reports

        live = [item for item in batch if item.done.set_running_or_notify_cancel()]
        try:
            summary = ingest_reports(self.plane(), [item.report for item in batch],
                                     now=self.now() if self.now else None)
        except Exception as exc:
            if len(batch) > 1:  # find the report that fails; store the others
                for item in batch:
                    self._store_alone(item, item in live)
                return
            logger.exception("storing %d report(s) failed", len(batch))
            for item in live:
                item.done.set_exception(exc)
            return
        with self._lock:
            self._stats.record(summary)
        for item in live:
            item.done.set_result(None)

    def _store_alone(self, item: _Pending, live: bool) -> None:
        from overture.feedback.ingest import ingest_reports

        try:
            summary = ingest_reports(self.plane(), [item.report],
                                     now=self.now() if self.now else None)
        except Exception as exc:
            logger.exception("storing the report %s failed", item.report.report_id)
            if live:
                item.done.set_exception(exc)
            return
        with self._lock:
            self._stats.record(summary)
        if live:
            item.done.set_result(None)


class _Handler:
    """aiosmtpd's handler: its `handle_*` methods are the hooks aiosmtpd calls (RCPT
    has none: every recipient is accepted)."""

    def __init__(self, receiver: FeedbackReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return await self.receiver.receive(session, envelope)


def receiver_for(ws: Any, now: Callable[[], datetime] | None = None
                 ) -> FeedbackReceiver | None:
    """The receiver `[feedback] smtp_port` of this workspace asks for (not started), on
    the workspace's data plane (`ws.data`, read in the writer thread); None when
    smtp_port is not set."""
    settings = smtp_settings(ws.config)
    if settings is None:
        return None
    return FeedbackReceiver(lambda: ws.data, settings.host, settings.port, now=now)


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "SIZE_LIMIT",
    "FeedbackReceiver",
    "ReceiverStats",
    "SmtpSettings",
    "receiver_for",
    "smtp_settings",
]
