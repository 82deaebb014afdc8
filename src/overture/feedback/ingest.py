"""Bounces and complaints into the events table and the suppression list.

`ingest_reports` turns parsed reports into events (one per DSN recipient, one per
complaint), appends them, and feeds the suppression list from the message log's row
of each message (the address Overture sent to, which is what the delivery engine
compares, not the report's recipient, which forwarding may have rewritten):

- a hard bounce suppresses the address on the email channel (reason `hard_bounce`);
- a complaint suppresses it (`complaint`) and records an unsubscribe from email for
  the profile (source `arf`), as clicking the unsubscribe link would;
- soft bounces are recorded only, until an address has soft-bounced on
  SOFT_BOUNCE_LIMIT different messages within SOFT_BOUNCE_WINDOW (`soft_bounce`).

An event's id is a hash of (the report's Message-ID, else the hash of its bytes; the
recipient; the event type): reading the same mailbox twice stores nothing twice.
Suppressions and unsubscribes come from events not stored before, written before the
events (as the provider webhooks do): an old report read again never undoes a
suppression lifted since, and an import that failed midway is completed by the next.

`import_paths` reads .eml files, folders of them and Maildirs (never changing them),
parses every message and ingests the reports in batches; a message that is not a
readable report is listed with the reason, and the import goes on.
"""

from __future__ import annotations

import hashlib
import mailbox
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from overture.data.plane import DataPlane
from overture.feedback import arf, dsn
from overture.feedback.arf import ComplaintReport
from overture.feedback.common import FeedbackError, detail, guarded, load
from overture.feedback.dsn import DeliveryReport
from overture.observability import metrics

Report = DeliveryReport | ComplaintReport

#: soft bounces (of different messages) within SOFT_BOUNCE_WINDOW that suppress an address
SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = timedelta(days=30)
#: reports per batch when importing files (one events transaction per batch and kind)
BATCH = 500
#: the suppression reasons ingestion writes, in the order counts are shown
SUPPRESSION_REASONS = ("hard_bounce", "soft_bounce", "complaint")


def parse_report(data: bytes | Message) -> Report:
    """A DSN or an ARF report, whichever the message holds; a FeedbackError otherwise."""
    return guarded("report", lambda: _dispatch(*load(data)))


def _dispatch(message: Message, raw: bytes) -> Report:
    if dsn.is_dsn(message):
        return dsn.from_message(message, raw)
    if arf.is_arf(message):
        return arf.from_message(message, raw)
    kind = message.get_content_type()
    if kind == "multipart/report":
        kind += f"; report-type={message.get_param('report-type')}"
    raise FeedbackError(f"not a bounce or complaint report: the message is {kind}, not a "
                        "multipart/report with a delivery-status or feedback-report part")


def event_id(report_id: str, recipient: str, kind: str) -> str:
    """The stable id of one event of a report (32 hex digits)."""
    name = f"{len(report_id)}:{report_id}|{len(recipient)}:{recipient.lower()}|{kind}"
    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass
class FeedbackSummary:
    """What an ingestion or an import did. Event counts are of events newly stored."""

    #: messages read (files, mailbox messages)
    messages: int = 0
    #: of them, readable bounce or complaint reports
    reports: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    delivered: int = 0
    #: DSN recipients relayed or expanded, feedback reports that are not complaints
    ignored: int = 0
    #: events stored by an earlier import (or twice in this one)
    duplicates: int = 0
    #: original Message-IDs of reports whose message is not in the message log
    unknown: list[str] = field(default_factory=list)
    #: addresses newly suppressed, by reason
    suppressed: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(SUPPRESSION_REASONS, 0))
    #: profiles newly unsubscribed from email (complaints)
    unsubscribed: int = 0
    #: (file or mailbox message, reason) of the messages that are no readable report
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bounces(self) -> int:
        return self.hard + self.soft

    def add(self, other: FeedbackSummary) -> None:
        for name in ("messages", "reports", "hard", "soft", "complaints", "delivered",
                     "ignored", "duplicates", "unsubscribed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unknown = sorted(set(self.unknown) | set(other.unknown))
        for reason, count in other.suppressed.items():
            self.suppressed[reason] = self.suppressed.get(reason, 0) + count
        self.unreadable.extend(other.unreadable)

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages, "reports": self.reports,
            "bounces": {"hard": self.hard, "soft": self.soft},
            "complaints": self.complaints, "delivered": self.delivered,
            "ignored": self.ignored, "duplicates": self.duplicates,
            "unknown": len(self.unknown), "unknown_messages": list(self.unknown),
            "suppressed": dict(self.suppressed), "unsubscribed": self.unsubscribed,
            "unreadable": [{"file": name, "reason": reason}
                           for name, reason in self.unreadable],
        }


@dataclass
class _Event:
    group: str                  # hard | soft | complaint | delivered
    row: dict[str, Any]         # an EVENT_SCHEMA row
    original: str               # the original Message-ID, for the unknown list


def _events_of(report: Report, now: datetime) -> tuple[list[_Event], int]:
    """The events of one report and how many of its parts are ignored."""
    base = {"message_id": report.message_id, "link": None, "url": None, "machine": False}
    found: list[_Event] = []
    ignored = 0
    if isinstance(report, DeliveryReport):
        for rcpt in report.recipients:
            kind = rcpt.kind
            if kind is None and rcpt.action != "delivered":
                ignored += 1
                continue
            etype = "bounce" if kind else "delivered"
            text = f"{rcpt.status} {rcpt.action}"
            if rcpt.diagnostic:
                text += f": {rcpt.diagnostic}"
            row = {**base, "event_id": event_id(report.report_id, rcpt.recipient, etype),
                   "type": etype, "at": rcpt.last_attempt or report.date or now,
                   "bounce_type": kind, "detail": detail(text), "source": "dsn"}
            found.append(_Event(kind or "delivered", row, report.original_message_id))
        return found, ignored
    if not report.is_complaint:
        return [], 1
    text = report.feedback_type + (f" ({report.user_agent})" if report.user_agent else "")
    row = {**base, "event_id": event_id(report.report_id, report.recipient or "", "complaint"),
           "type": "complaint", "at": report.date or report.arrival or now,
           "bounce_type": None, "detail": detail(text), "source": "arf"}
    return [_Event("complaint", row, report.original_message_id)], 0


def ingest_reports(plane: DataPlane, reports: Sequence[Report], *,
                   now: datetime | None = None) -> FeedbackSummary:
    """Store the events of these reports and apply their suppressions and unsubscribes.

    Suppressions and unsubscribes come first and only from events not stored before:
    if appending fails, the events are still new at the next import, which applies them
    again (changing nothing); and reading an old report again never undoes a
    suppression someone lifted since. `now` (default: the current time) dates the
    suppressions, and the events of a report without a date.
    """
    from overture.data import events

    moment = _naive_utc(now)
    summary = FeedbackSummary(reports=len(reports))
    candidates: list[_Event] = []
    unknown: set[str] = set()
    for report in reports:
        if report.message_id is None:  # not a message Overture sent
            unknown.add(report.original_message_id)
            continue
        found, ignored = _events_of(report, moment)
        summary.ignored += ignored
        candidates.extend(found)

    sent = _sent_to(plane, [item.row["message_id"] for item in candidates])
    known = []
    for item in candidates:
        if item.row["message_id"] in sent:
            known.append(item)
        else:
            unknown.add(item.original)
    before = _stored_ids(plane, [item.row["event_id"] for item in known])
    fresh: dict[str, _Event] = {}
    for item in known:
        if item.row["event_id"] not in before:
            fresh.setdefault(item.row["event_id"], item)
    _apply(plane, list(fresh.values()), sent, moment, summary)

    counts = {"hard": 0, "soft": 0, "complaint": 0, "delivered": 0}
    for group in counts:
        rows = [item.row for item in known if item.group == group]
        if rows:
            result = events.append(plane, rows)
            counts[group] = result.stored
            metrics.events_stored(str(rows[0]["source"]), {str(rows[0]["type"]): result.stored})
            summary.duplicates += result.duplicates
            unknown |= {item.original for item in known
                        if item.group == group and item.row["message_id"] in result.unknown}
    summary.hard, summary.soft = counts["hard"], counts["soft"]
    summary.complaints, summary.delivered = counts["complaint"], counts["delivered"]
    summary.unknown = sorted(unknown)
    return summary


def _naive_utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


def _stored_ids(plane: DataPlane, event_ids: list[str]) -> set[str]:
    """The ids among these that the events table holds already."""
    import ibis

    from overture.data import events

    table = events.events(plane)
    if table is None or not event_ids:
        return set()
    wanted = ibis.memtable({"wanted_event": sorted(set(event_ids))})
    found = table.semi_join(wanted, table.event_id == wanted.wanted_event).select("event_id")
    return {row["event_id"] for row in found.to_pyarrow().to_pylist()}


def _apply(plane: DataPlane, fresh: list[_Event], sent: dict[str, dict[str, Any]],
           now: datetime, summary: FeedbackSummary) -> None:
    """The suppressions and unsubscribes of events not stored before."""
    from overture.data import suppressions

    def email_row(item: _Event) -> dict[str, Any] | None:
        row = sent.get(item.row["message_id"])
        if row and row["channel"] == "email" and (row["address"] or "").strip():
            return row
        return None

    def suppress(values: list[str], reason: str, source: str) -> None:
        if values:
            result = suppressions.add_suppressions(plane, "email", values, reason=reason,
                                                   source=source, at=now)
            summary.suppressed[reason] += result.added

    by_group: dict[str, list[tuple[_Event, dict[str, Any]]]] = {}
    for item in fresh:
        row = email_row(item)
        if row is not None:
            by_group.setdefault(item.group, []).append((item, row))
    suppress([row["address"] for _, row in by_group.get("hard", [])], "hard_bounce", "dsn")
    suppress([row["address"] for _, row in by_group.get("complaint", [])], "complaint", "arf")
    soft = [(suppressions.normalize_address(row["address"], "email"), item.row["at"],
             item.row["message_id"]) for item, row in by_group.get("soft", [])]
    suppress(sorted(_over_soft_limit(plane, soft)), "soft_bounce", "dsn")

    profiles: dict[tuple[str, str], datetime] = {}
    for item, row in by_group.get("complaint", []):
        if row["dimension"] and row["profile_key"]:
            profiles.setdefault((row["dimension"], row["profile_key"]), item.row["at"])
    for (dimension, key), at in sorted(profiles.items()):
        if suppressions.record_unsubscribe(plane, dimension, key, "email", source="arf",
                                           at=at):
            summary.unsubscribed += 1


def _sent_to(plane: DataPlane, message_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The message log's channel, dimension, profile key and address of these messages
    (those it holds)."""
    import ibis

    from overture.data import messages

    log = messages.message_log(plane)
    if log is None or not message_ids:
        return {}
    wanted = ibis.memtable({"wanted_id": sorted(set(message_ids))})
    rows = log.semi_join(wanted, log.message_id == wanted.wanted_id).select(
        "message_id", "channel", "dimension", "profile_key", "address")
    return {row["message_id"]: row for row in rows.to_pyarrow().to_pylist()}


def _over_soft_limit(plane: DataPlane,
                     fresh: list[tuple[str, datetime, str]]) -> set[str]:
    """The addresses of these new soft bounces ((normalised address, at, message id),
    not stored yet) that soft-bounced on at least SOFT_BOUNCE_LIMIT different messages
    within one SOFT_BOUNCE_WINDOW that holds one of the new bounces."""
    import ibis

    from overture.data import events, messages
    from overture.data.suppressions import normalize_address_sql

    addresses = {address for address, _, _ in fresh if address}
    if not addresses:
        return set()
    by_address: dict[str, list[tuple[datetime, str, bool]]] = {}
    for address, at, mid in fresh:
        by_address.setdefault(address, []).append((at, mid, True))
    log = messages.message_log(plane)
    table = events.events(plane)
    if log is not None and table is not None:
        soft = table.filter((table.type == "bounce") & (table.bounce_type == "soft")).select(
            "message_id", "at")
        sent = log.filter(log.channel == "email")
        sent = sent.select("message_id",
                           address=normalize_address_sql(sent.address, "email"))
        wanted = ibis.memtable({"wanted_address": sorted(addresses)})
        sent = sent.semi_join(wanted, sent.address == wanted.wanted_address)
        stored = soft.join(sent, "message_id").select("message_id", "at", "address")
        for row in stored.to_pyarrow().to_pylist():
            by_address.setdefault(row["address"], []).append(
                (row["at"], row["message_id"], False))
    over = set()
    for address, bounces in by_address.items():
        bounces.sort()
        for index, (end, _, _) in enumerate(bounces):
            window = [b for b in bounces[:index + 1] if b[0] >= end - SOFT_BOUNCE_WINDOW]
            if (len({mid for _, mid, _ in window}) >= SOFT_BOUNCE_LIMIT
                    and any(new for _, _, new in window)):
                over.add(address)
                break
    return over


# ---------------------------------------------------------------------------------------
# files and mailboxes
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """One message to read: its bytes, or why they could not be read."""

    name: str
    data: bytes | None = None
    error: str | None = None


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def check_paths(paths: Sequence[str | Path]) -> list[Path]:
    """The paths, once each exists: a FeedbackError names those that do not."""
    if not paths:
        raise FeedbackError("give .eml files, folders of them or Maildirs to import")
    resolved = [Path(p) for p in paths]
    missing = [str(p) for p in resolved if not p.exists()]
    if missing:
        raise FeedbackError(f"no such file or folder: {', '.join(missing)}")
    return resolved


def read_sources(paths: Sequence[str | Path]) -> Iterator[Source]:
    """Every message of these paths, in order: a file is one message; a folder with cur/
    and new/ is a Maildir (its messages in key order); another folder is read for its
    `*.eml` files (by name). Nothing is moved, marked or deleted."""
    for path in check_paths(paths):
        if path.is_dir():
            if is_maildir(path):
                yield from _maildir(path)
                continue
            files = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() == ".eml")
            if not files:
                yield Source(str(path), error="no .eml files, and not a Maildir (no cur/ "
                                              "and new/ folders)")
            for file in files:
                yield _file(file)
        else:
            yield _file(path)


def _file(path: Path) -> Source:
    try:
        return Source(str(path), data=path.read_bytes())
    except OSError as exc:
        return Source(str(path), error=f"cannot read the file: {exc.strerror or exc}")


def _maildir(path: Path) -> Iterator[Source]:
    try:
        box = mailbox.Maildir(str(path), factory=None, create=False)
        keys = sorted(box.keys())
    except OSError as exc:
        yield Source(str(path), error=f"cannot read the Maildir: {exc.strerror or exc}")
        return
    for key in keys:
        name = f"{path} message {key}"
        try:
            yield Source(name, data=box.get_bytes(key))
        except (OSError, KeyError) as exc:  # removed meanwhile by another reader
            yield Source(name, error=f"cannot read the message: {exc}")


def import_paths(plane: DataPlane, paths: Sequence[str | Path], *,
                 now: datetime | None = None, batch: int = BATCH) -> FeedbackSummary:
    """Read, parse and ingest every message of these files, folders and Maildirs."""
    check_paths(paths)
    summary = FeedbackSummary()
    pending: list[Report] = []

    def flush() -> None:
        if pending:
            summary.add(ingest_reports(plane, pending, now=now))
            pending.clear()

    for source in read_sources(paths):
        summary.messages += 1
        if source.data is None:
            summary.unreadable.append((source.name, source.error or "unreadable"))
            continue
        try:
            pending.append(parse_report(source.data))
        except FeedbackError as exc:
            summary.unreadable.append((source.name, str(exc)))
            continue
        if len(pending) >= batch:
            flush()
    flush()
    return summary


__all__ = [
    "BATCH",
    "SOFT_BOUNCE_LIMIT",
    "SOFT_BOUNCE_WINDOW",
    "FeedbackSummary",
    "Report",
    "Source",
    "check_paths",
    "event_id",
    "import_paths",
    "ingest_reports",
    "is_maildir",
    "parse_report",
    "read_sources",
]
