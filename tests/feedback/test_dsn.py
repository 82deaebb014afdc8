"""Delivery status notifications (RFC 3464) as Postfix and Exim write them: parsed into
a DeliveryReport, hard told from soft, and malformed ones refused with what is missing."""

from __future__ import annotations

import base64
import email
import email.policy
import uuid
from datetime import datetime
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from feedback.mta import DATE, Rcpt, dsn, original, report_id
from overture.errors import OvertureError
from overture.feedback import FeedbackError
from overture.feedback.dsn import DeliveryReport, RecipientStatus, parse_dsn

MID = "0b6e4b0c-5d43-3a8e-9b71-52c2e0a1f00d"
ORIGINAL = original(f"<{MID}@shop.example>")
REPORT_ID = "20270301091500.4F2A81C0042@mx.shop.example"
UNKNOWN_USER = ("550 5.1.1 <ana@example.com>: Recipient address rejected: User unknown in "
                "virtual mailbox table")


def test_a_postfix_hard_bounce_with_the_original_message() -> None:
    report = parse_dsn(dsn(ORIGINAL, [Rcpt("ana@example.com")]))
    assert report == DeliveryReport(
        report_id=REPORT_ID,
        original_message_id=f"{MID}@shop.example",
        message_id=MID,
        envelope_id=None,
        reporting_mta="mx.shop.example",
        date=datetime(2027, 3, 1, 9, 15),  # 10:15 +0100, as naive UTC
        recipients=(RecipientStatus(
            recipient="ana@example.com", action="failed", status="5.1.1",
            diagnostic=UNKNOWN_USER, last_attempt=datetime(2027, 3, 1, 9, 14, 59),
            remote_mta="mx.remote.example"),),
    )
    assert report.recipients[0].kind == "hard"


def test_only_the_headers_of_the_original_are_enough() -> None:
    report = parse_dsn(dsn(ORIGINAL, [Rcpt("ana@example.com")], headers_only=True))
    assert (report.message_id, report.original_message_id) == (MID, f"{MID}@shop.example")


@pytest.mark.parametrize(("action", "status", "kind"), [
    ("failed", "5.1.1", "hard"),       # no such user
    ("failed", "5.7.1", "hard"),       # refused by policy, for good
    ("failed", "4.2.2", "soft"),       # mailbox full until the MTA gave up
    ("delayed", "4.4.1", "soft"),      # still trying
    ("delayed", "5.0.0", "soft"),      # a delay is never final
    ("delivered", "2.0.0", None),
    ("relayed", "2.0.0", None),
    ("expanded", "2.0.0", None),
])
def test_hard_and_soft_bounces(action: str, status: str, kind: str | None) -> None:
    report = parse_dsn(dsn(ORIGINAL, [Rcpt("ana@example.com", action, status)]))
    rcpt = report.recipients[0]
    assert (rcpt.action, rcpt.status, rcpt.kind) == (action, status, kind)


def test_an_exim_bounce_with_several_recipients() -> None:
    report = parse_dsn(dsn(ORIGINAL, [
        Rcpt("ana@example.com"),
        Rcpt("Old.Ana@Example.com", "delayed", "4.4.7",
             "X-Postfix; connect to mx.example.com: Connection timed out", None),
    ], mta="exim", headers_only=True))
    assert report.reporting_mta == "mx.shop.example"
    assert [(r.recipient, r.kind, r.diagnostic, r.last_attempt) for r in report.recipients] == [
        ("ana@example.com", "hard", UNKNOWN_USER, datetime(2027, 3, 1, 9, 14, 59)),
        ("Old.Ana@Example.com", "soft", "connect to mx.example.com: Connection timed out",
         None)]


def test_the_status_may_carry_a_comment_and_falls_back_on_the_diagnostic() -> None:
    report = parse_dsn(dsn(ORIGINAL, [Rcpt("ana@example.com",
                                           status="5.1.1 (bad destination mailbox address)")]))
    assert report.recipients[0].status == "5.1.1"
    # RFC 3464 requires Status; an MTA that leaves it out still says it in the diagnostic
    report = parse_dsn(dsn(ORIGINAL, [Rcpt("ana@example.com", status=None)]))
    assert (report.recipients[0].status, report.recipients[0].kind) == ("5.1.1", "hard")


def test_the_original_envelope_id_names_the_message_without_an_attached_original() -> None:
    report = parse_dsn(dsn(None, [Rcpt("ana@example.com")], envelope_id=MID))
    assert (report.message_id, report.envelope_id, report.original_message_id) == (
        MID, MID, MID)
    # xtext-encoded, with a domain: still found
    report = parse_dsn(dsn(None, [Rcpt("ana@example.com")],
                           envelope_id=f"{MID}+40shop.example"))
    assert (report.message_id, report.envelope_id) == (MID, f"{MID}@shop.example")
    # the attached original wins over an envelope id that is not Overture's
    report = parse_dsn(dsn(ORIGINAL, [Rcpt("ana@example.com")], envelope_id="Q123"))
    assert (report.message_id, report.original_message_id) == (MID, f"{MID}@shop.example")


def test_a_message_not_sent_by_overture_has_no_message_id() -> None:
    for foreign in ("<CAFk3x=abc@mail.gmail.com>", f"<{MID.replace('-', '')}@shop.example>"):
        report = parse_dsn(dsn(original(foreign), [Rcpt("ana@example.com")]))
        assert report.message_id is None
        assert report.original_message_id == foreign.strip("<>")


def test_a_report_without_message_id_is_known_by_the_hash_of_its_bytes() -> None:
    data = dsn(ORIGINAL, [Rcpt("ana@example.com")], report_id=None)
    first, again = parse_dsn(data), parse_dsn(data)
    assert first.report_id.startswith("sha256:") and len(first.report_id) == 7 + 64
    assert first.report_id == again.report_id
    other = parse_dsn(dsn(ORIGINAL, [Rcpt("ben@example.com")], report_id=None))
    assert other.report_id != first.report_id


def test_a_forwarded_bounce_and_an_encoded_status_part_are_read() -> None:
    bounce = dsn(ORIGINAL, [Rcpt("ana@example.com")])
    forwarded = MIMEMultipart("mixed")
    forwarded["Subject"] = "Fwd: Undelivered Mail Returned to Sender"
    forwarded.attach(MIMEText("see the attached bounce\n"))
    forwarded.attach(MIMEMessage(email.message_from_bytes(bounce, policy=email.policy.compat32)))
    assert parse_dsn(forwarded.as_bytes()).recipients[0].kind == "hard"

    text = bounce.decode()
    start = text.index("Content-Type: message/delivery-status")
    body = text.index("\n\n", start) + 2
    end = text.index("\n--", body)
    encoded = (text[:start] + "Content-Type: message/delivery-status\n"
               "Content-Transfer-Encoding: base64\n\n"
               + base64.encodebytes(text[body:end].encode()).decode() + text[end:])
    report = parse_dsn(encoded.encode())
    assert (report.message_id, report.recipients[0].status) == (MID, "5.1.1")


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the message is empty"),
    (original(f"<{MID}@shop.example>"),
     "not a delivery status notification: no message/delivery-status part (the message is "
     "multipart/alternative)"),
    (b"From: someone\r\nSubject: out of office\r\n\r\nI am away.\r\n",
     "not a delivery status notification: no message/delivery-status part (the message is "
     "text/plain)"),
    (dsn(ORIGINAL, [Rcpt(None)]), "recipient 1 of the delivery status: no Final-Recipient"),
    (dsn(ORIGINAL, [Rcpt("ana@example.com", action=None)]),
     "recipient ana@example.com: no Action (failed, delayed, delivered, relayed or expanded)"),
    (dsn(ORIGINAL, [Rcpt("ana@example.com", action="bounced")]),
     "recipient ana@example.com: unknown Action 'bounced' (failed, delayed, delivered, "
     "relayed or expanded)"),
    (dsn(ORIGINAL, [Rcpt("ana@example.com", status="permanent", diagnostic=None)]),
     "recipient ana@example.com: Status 'permanent' is not a status code like 5.1.1 or 4.2.2"),
    (dsn(ORIGINAL, [Rcpt("ana@example.com", status=None, diagnostic="smtp; user unknown")]),
     "recipient ana@example.com: no Status (a code like 5.1.1 or 4.2.2)"),
    (dsn(ORIGINAL, []),
     "the delivery status has no per-recipient fields (Final-Recipient, Action, Status)"),
    (dsn(None, [Rcpt("ana@example.com")]),
     "no original message id: neither a message/rfc822 nor a text/rfc822-headers part with "
     "a Message-ID, nor an Original-Envelope-Id"),
    (dsn(original(None), [Rcpt("ana@example.com")], headers_only=True),
     "no original message id: neither a message/rfc822 nor a text/rfc822-headers part with "
     "a Message-ID, nor an Original-Envelope-Id"),
], ids=report_id)
def test_malformed_reports_say_what_is_missing(data: bytes, message: str) -> None:
    with pytest.raises(FeedbackError) as caught:
        parse_dsn(data)
    assert str(caught.value) == message
    assert isinstance(caught.value, OvertureError)  # the CLI prints it, no traceback


def test_a_complaint_report_is_not_a_dsn() -> None:
    from feedback.mta import arf

    with pytest.raises(FeedbackError, match=r"no message/delivery-status part \(the message "
                                            r"is multipart/report; report-type=feedback-report"):
        parse_dsn(arf(ORIGINAL))


def test_binary_junk_gives_a_feedback_error_not_a_traceback() -> None:
    junk = bytes(range(256)) * 4 + b"\r\n\r\n" + uuid.uuid4().bytes
    with pytest.raises(FeedbackError, match="not a delivery status notification"):
        parse_dsn(junk)
    header_junk = (b"Content-Type: multipart/report; report-type=delivery-status; "
                   b"boundary=\"x\"\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n"
                   b"\xff\xfe: \x00\r\n\r\n--x--\r\n")
    with pytest.raises(FeedbackError):
        parse_dsn(header_junk)


def test_the_report_date_is_naive_utc() -> None:
    report = parse_dsn(dsn(ORIGINAL, [Rcpt("ana@example.com")], date=DATE))
    assert report.date == datetime(2027, 3, 1, 9, 15)
    assert parse_dsn(dsn(ORIGINAL, [Rcpt("ana@example.com")], date="not a date")).date is None
