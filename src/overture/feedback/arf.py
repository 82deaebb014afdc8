"""Complaint reports in the Abuse Reporting Format (RFC 5965): what a mailbox provider's
feedback loop sends when someone marks a message as spam.

An ARF report is a multipart/report (report-type=feedback-report) of a human-readable
part, a message/feedback-report part (Feedback-Type, User-Agent, Version,
Original-Rcpt-To, Arrival-Date…) and the original message (message/rfc822) or its
headers (text/rfc822-headers), whose Message-ID names the message in the log.

Feedback types `abuse`, `fraud`, `virus` and `other` are complaints; `not-spam` (the
person took a message *out* of the spam folder) and `auth-failure` (RFC 6591, about a
domain's authentication) are not, and are ignored.
"""

from __future__ import annotations

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
)

FEEDBACK_TYPES = ("feedback-report",)
COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other")


@dataclass(frozen=True)
class ComplaintReport:
    """A parsed ARF report."""

    #: the report's own Message-ID, else `sha256:` + the hash of its bytes
    report_id: str
    feedback_type: str          # abuse | fraud | virus | other | not-spam | auth-failure …
    #: the original message's Message-ID (without brackets)
    original_message_id: str
    #: Overture's id of the original message (a UUID), None when it is not Overture's
    message_id: str | None
    #: Original-Rcpt-To (providers often leave it out or redact it)
    recipient: str | None
    user_agent: str | None
    reporting_mta: str | None
    source_ip: str | None
    arrival: datetime | None    # Arrival-Date of the original, naive UTC
    date: datetime | None       # the report's Date header, naive UTC

    @property
    def is_complaint(self) -> bool:
        return self.feedback_type in COMPLAINT_TYPES


def is_arf(message: Message) -> bool:
    """Whether a parsed message holds a feedback-report part."""
    return find_report(message, ("message/feedback-report",)) is not None


def parse_arf(data: bytes | Message) -> ComplaintReport:
    """Read one ARF report; a FeedbackError names what is missing when it is not one."""
    return guarded("complaint report", lambda: from_message(*load(data)))


def from_message(message: Message, raw: bytes) -> ComplaintReport:
    """The report in a parsed message (`raw`: its bytes, for the content hash)."""
    report = find_report(message, ("message/feedback-report",))
    if report is None:
        kind = message.get_content_type()
        detail = (f"{kind}; report-type={message.get_param('report-type')}"
                  if kind == "multipart/report" else kind)
        raise FeedbackError(f"not a complaint report: no message/feedback-report part (the "
                            f"message is {detail})")
    part = child(report, ("message/feedback-report",))
    assert part is not None
    blocks = field_blocks(part)
    fields = blocks[0] if blocks else Message()
    for extra in blocks[1:]:  # one block by the RFC; a stray blank line splits it
        for name, value in extra.items():
            fields[name] = value
    feedback_type = (field(fields, "Feedback-Type") or "").lower()
    if not feedback_type:
        raise FeedbackError("the feedback report has no Feedback-Type")
    headers = original_headers(report)
    original = message_id_of(field(headers, "Message-ID")) if headers is not None else None
    if original is None:
        raise FeedbackError("no original message id: neither a message/rfc822 nor a "
                            "text/rfc822-headers part with a Message-ID")
    rcpt = address_of(field(fields, "Original-Rcpt-To"))
    if rcpt is None and headers is not None:
        rcpt = address_of(field(headers, "To"))
    return ComplaintReport(
        report_id=report_identity(message, raw),
        feedback_type=feedback_type.split()[0],
        original_message_id=original,
        message_id=overture_id(original),
        recipient=rcpt,
        user_agent=field(fields, "User-Agent"),
        reporting_mta=typed_value(field(fields, "Reporting-MTA")),
        source_ip=field(fields, "Source-IP"),
        arrival=parse_date(field(fields, "Arrival-Date") or field(fields, "Received-Date")),
        date=parse_date(field(message, "Date")),
    )


__all__ = ["COMPLAINT_TYPES", "ComplaintReport", "is_arf", "parse_arf"]
