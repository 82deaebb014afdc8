"""Delivery status notifications (RFC 3464): the bounces an MTA sends back.

A DSN is a multipart/report (report-type=delivery-status) of a human-readable part, a
message/delivery-status part (a block of per-message fields, then one block per
recipient: Final-Recipient, Action, Status, Diagnostic-Code…) and, usually, the
original message (message/rfc822) or its headers (text/rfc822-headers), whose
Message-ID (`<uuid@domain>`) names the message in Overture's message log.

Hard or soft:

- `Action: failed` with a 5.x.x status is a **hard** bounce: the address does not
  work (no such user, no such domain, refused for good);
- `Action: failed` with a 4.x.x status (the MTA gave up on a temporary failure) and
  `Action: delayed` (still trying) are **soft**;
- `delivered`, `relayed` and `expanded` are not bounces (`kind` None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from overture.feedback.common import (
    FeedbackError,
    address_of,
    child,
    field,
    field_blocks,
    find_report,
    guarded,
    load,
    message_id_of,
    original_headers,
    overture_id,
    parse_date,
    report_identity,
    typed_value,
    xtext,
)

STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a DSN."""

    #: Final-Recipient's address (Original-Recipient's when it is missing)
    recipient: str
    action: str                 # failed | delayed | delivered | relayed | expanded
    status: str                 # the enhanced status code, e.g. 5.1.1
    diagnostic: str | None      # Diagnostic-Code without its type: "550 5.1.1 …"
    last_attempt: datetime | None  # naive UTC
    remote_mta: str | None

    @property
    def kind(self) -> str | None:
        """`hard` or `soft` for a bounce, None for a delivery, relay or expansion."""
        if self.action == "delayed":
            return "soft"
        if self.action == "failed":
            return "soft" if self.status.startswith("4.") else "hard"
        return None


@dataclass(frozen=True)
class DeliveryReport:
    """A parsed DSN."""

    #: the report's own Message-ID, else `sha256:` + the hash of its bytes
    report_id: str
    #: the original message's Message-ID (without brackets), else Original-Envelope-Id
    original_message_id: str
    #: Overture's id of the original message (a UUID), None when it is not Overture's
    message_id: str | None
    envelope_id: str | None
    reporting_mta: str | None
    date: datetime | None       # the report's Date header, naive UTC
    recipients: tuple[RecipientStatus, ...]


def is_dsn(message: Message) -> bool:
    """Whether a parsed message holds a delivery-status report part."""
    return find_report(message, STATUS_TYPES) is not None


def parse_dsn(data: bytes | Message) -> DeliveryReport:
    """Read one DSN; a FeedbackError names what is missing when it is not one."""
    return guarded("delivery status notification", lambda: from_message(*load(data)))


def from_message(message: Message, raw: bytes) -> DeliveryReport:
    """The report in a parsed message (`raw`: its bytes, for the content hash)."""
    report = find_report(message, STATUS_TYPES)
    if report is None:
        kind = message.get_content_type()
        detail = (f"{kind}; report-type={message.get_param('report-type')}"
                  if kind == "multipart/report" else kind)
        raise FeedbackError(f"not a delivery status notification: no message/delivery-status "
                            f"part (the message is {detail})")
    status_part = child(report, STATUS_TYPES)
    assert status_part is not None
    blocks = field_blocks(status_part)
    if not blocks:
        raise FeedbackError("the message/delivery-status part is empty")
    per_message, per_recipient = blocks[0], blocks[1:]
    if per_message.get("Final-Recipient") or per_message.get("Action"):
        # no per-message block (Reporting-MTA is required, but some MTAs omit it)
        per_message, per_recipient = Message(), blocks
    if not per_recipient:
        raise FeedbackError("the delivery status has no per-recipient fields "
                            "(Final-Recipient, Action, Status)")
    recipients = tuple(_recipient(block, number)
                       for number, block in enumerate(per_recipient, start=1))

    envelope = field(per_message, "Original-Envelope-Id")
    envelope = xtext(envelope) if envelope else None
    headers = original_headers(report)
    original = message_id_of(field(headers, "Message-ID")) if headers is not None else None
    if original is None and envelope is None:
        raise FeedbackError(
            "no original message id: neither a message/rfc822 nor a text/rfc822-headers "
            "part with a Message-ID, nor an Original-Envelope-Id")
    ours = overture_id(original) or overture_id(envelope)
    return DeliveryReport(
        report_id=report_identity(message, raw),
        original_message_id=original or envelope or "",
        message_id=ours,
        envelope_id=envelope,
        reporting_mta=typed_value(field(per_message, "Reporting-MTA")),
        date=parse_date(field(message, "Date")),
        recipients=recipients,
    )


def _recipient(block: Message, number: int) -> RecipientStatus:
    where = f"recipient {number} of the delivery status"
    recipient = address_of(field(block, "Final-Recipient")) or address_of(
        field(block, "Original-Recipient"))
    if not recipient:
        raise FeedbackError(f"{where}: no Final-Recipient")
    where = f"recipient {recipient}"
    action = (field(block, "Action") or "").lower()
    if not action:
        raise FeedbackError(f"{where}: no Action (failed, delayed, delivered, relayed or "
                            "expanded)")
    action = action.split()[0]
    if action not in ACTIONS:
        raise FeedbackError(f"{where}: unknown Action {action!r} (failed, delayed, "
                            "delivered, relayed or expanded)")
    diagnostic = typed_value(field(block, "Diagnostic-Code"))
    status_field = field(block, "Status")
    match = _STATUS.match(status_field) if status_field else None
    if match is None and diagnostic:  # RFC 3464 requires Status; some MTAs botch it
        match = _STATUS.search(diagnostic)
    if match is None:
        if status_field:
            raise FeedbackError(f"{where}: Status {status_field!r} is not a status code "
                                "like 5.1.1 or 4.2.2")
        raise FeedbackError(f"{where}: no Status (a code like 5.1.1 or 4.2.2)")
    status = ".".join(match.groups())
    return RecipientStatus(
        recipient=recipient, action=action, status=status, diagnostic=diagnostic,
        last_attempt=parse_date(field(block, "Last-Attempt-Date")),
        remote_mta=typed_value(field(block, "Remote-MTA")))


__all__ = ["ACTIONS", "DeliveryReport", "RecipientStatus", "is_dsn", "parse_dsn"]
