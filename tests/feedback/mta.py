"""Bounce (RFC 3464) and complaint (RFC 5965) reports built with the `email` package the
way MTAs and feedback loops write them: Postfix and Exim bounces, an ISP's ARF report.

Every builder returns the bytes a mailbox would hold.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from overture.channels.identity import message_id
from overture.channels.outbox import META_PREFIX, OutboxReader, outbox_directory

#: Postfix's human-readable part, abridged
POSTFIX_TEXT = """This is the mail system at host mx.shop.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<{rcpt}>: host mx.remote.example[192.0.2.7] said: 550 5.1.1 <{rcpt}>:
    Recipient address rejected: User unknown (in reply to RCPT TO command)
"""
DATE = "Mon, 01 Mar 2027 10:15:00 +0100"


@dataclass(frozen=True)
class Rcpt:
    """One per-recipient block; None leaves a field out."""

    address: str | None
    action: str | None = "failed"
    status: str | None = "5.1.1"
    diagnostic: str | None = ("smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: "
                              "User unknown in virtual mailbox table")
    last_attempt: str | None = "Mon, 01 Mar 2027 10:14:59 +0100 (CET)"

    def block(self) -> Message:
        fields: list[tuple[str, str | None]] = [
            ("Final-Recipient", f"rfc822; {self.address}" if self.address else None),
            ("Original-Recipient", f"rfc822;{self.address}" if self.address else None),
            ("Action", self.action), ("Status", self.status),
            ("Remote-MTA", "dns; mx.remote.example"),
            ("Diagnostic-Code", self.diagnostic.format(rcpt=self.address)
             if self.diagnostic else None),
            ("Last-Attempt-Date", self.last_attempt)]
        return block(fields)


def report_id(value: object) -> str | None:
    """A test id for a parametrized report: its bytes hold random MIME boundaries, which
    would give every pytest-xdist worker other ids (and abort the session)."""
    return "report" if isinstance(value, bytes) else None


def block(fields: Sequence[tuple[str, str | None]]) -> Message:
    """A block of `Name: value` fields, as message/delivery-status holds them."""
    part = Message()
    for name, value in fields:
        if value is not None:
            part[name] = value
    return part


def original(message_id: str | None, to: str = "ana@example.com",
             subject: str = "Hi Ana") -> bytes:
    """A message as Overture sends it (the Message-ID given whole, brackets included)."""
    msg = EmailMessage()
    msg["From"] = "Shop <news@shop.example>"
    msg["To"] = to
    msg["Subject"] = subject
    if message_id is not None:
        msg["Message-ID"] = message_id
    msg.set_content("Hello\n")
    msg.add_alternative("<p>Hello</p>", subtype="html")
    return msg.as_bytes()


def _attach_original(outer: MIMEMultipart, data: bytes | None, headers_only: bool) -> None:
    if data is None:
        return
    parsed = email.message_from_bytes(data, policy=email.policy.compat32)
    if headers_only:
        head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii", "replace")
        outer.attach(MIMEText(head + "\n", "rfc822-headers"))
    else:
        outer.attach(MIMEMessage(parsed))


def dsn(original_message: bytes | None, recipients: Sequence[Rcpt], *,
        report_id: str | None = "<20270301091500.4F2A81C0042@mx.shop.example>",
        headers_only: bool = False, envelope_id: str | None = None,
        mta: str = "postfix", date: str | None = DATE) -> bytes:
    """A DSN as Postfix (or Exim, `mta="exim"`) writes it."""
    outer = MIMEMultipart("report", report_type="delivery-status")
    if mta == "exim":
        outer["From"] = "Mail Delivery System <Mailer-Daemon@mx.shop.example>"
        outer["Subject"] = "Mail delivery failed: returning message to sender"
        outer["X-Failed-Recipients"] = ", ".join(r.address or "" for r in recipients)
        text = ("This message was created automatically by mail delivery software.\n\n"
                "A message that you sent could not be delivered to one or more of its\n"
                "recipients. This is a permanent error.\n")
        per_message = [("Reporting-MTA", "dns; mx.shop.example"),
                       ("Original-Envelope-Id", envelope_id)]
    else:
        outer["From"] = "MAILER-DAEMON@mx.shop.example (Mail Delivery System)"
        outer["Subject"] = "Undelivered Mail Returned to Sender"
        text = POSTFIX_TEXT.format(rcpt=recipients[0].address if recipients else "")
        per_message = [("Reporting-MTA", "dns; mx.shop.example"),
                       ("X-Postfix-Queue-ID", "4F2A81C0042"),
                       ("X-Postfix-Sender", "rfc822; bounces@shop.example"),
                       ("Original-Envelope-Id", envelope_id),
                       ("Arrival-Date", "Mon,  1 Mar 2027 10:14:58 +0100 (CET)")]
    outer["To"] = "bounces@shop.example"
    outer["Auto-Submitted"] = "auto-replied"
    if date is not None:
        outer["Date"] = date
    if report_id is not None:
        outer["Message-ID"] = report_id
    outer.attach(MIMEText(text, "plain"))
    status = Message()
    status.set_type("message/delivery-status")
    status.set_payload([block(per_message), *(r.block() for r in recipients)])
    outer.attach(status)
    _attach_original(outer, original_message, headers_only)
    return outer.as_bytes()


def arf(original_message: bytes | None, *, feedback_type: str | None = "abuse",
        report_id: str | None = "<fbl-20270302-0001@fbl.isp.example>",
        rcpt: str | None = "ana@example.com", headers_only: bool = False,
        date: str | None = "Tue, 02 Mar 2027 08:00:00 +0000") -> bytes:
    """An ARF report as a feedback loop sends it."""
    outer = MIMEMultipart("report", report_type="feedback-report")
    outer["From"] = "<staff@fbl.isp.example>"
    outer["To"] = "<fbl@shop.example>"
    outer["Subject"] = "FW: Hi Ana"
    if date is not None:
        outer["Date"] = date
    if report_id is not None:
        outer["Message-ID"] = report_id
    outer.attach(MIMEText("This is an email abuse report for an email message received "
                          "from IP 192.0.2.1 on Mon, 01 Mar 2027 10:15:00 +0100.\n", "plain"))
    report = Message()
    report.set_type("message/feedback-report")
    report.set_payload([block([
        ("Feedback-Type", feedback_type), ("User-Agent", "ExampleFBL/1.0"), ("Version", "1"),
        ("Original-Mail-From", "<bounces@shop.example>"),
        ("Original-Rcpt-To", f"<{rcpt}>" if rcpt else None),
        ("Arrival-Date", "Mon, 01 Mar 2027 10:15:00 +0100"),
        ("Reporting-MTA", "dns; mx.isp.example"), ("Source-IP", "192.0.2.1"),
        ("Incidents", "1")])])
    outer.attach(report)
    _attach_original(outer, original_message, headers_only)
    return outer.as_bytes()


def sent_email(state_dir: Path, run: str, key: int, activity: str = "mail") -> bytes:
    """The message a live run sent to profile `key` through the outbox, as the recipient's
    MTA received it (the outbox's own X-Overture-* lines removed)."""
    wanted = str(message_id(run, activity, key))
    reader = OutboxReader(outbox_directory(state_dir))
    [entry] = [e for e in reader.messages(channel="email") if e.message_id == wanted]
    assert entry.mail_dir is not None and entry.key is not None
    data = mailbox.Maildir(entry.mail_dir, factory=None, create=False).get_bytes(entry.key)
    lines = data.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.startswith(META_PREFIX.encode()))


#: the live email campaign the ingestion tests bounce (the hand-countable workspace)
MAIL = """
- {id: all, type: build_audience}
- {id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "Hi {{ first_name }}", html: "<p>Hello {{ first_name }}</p>"}
"""
