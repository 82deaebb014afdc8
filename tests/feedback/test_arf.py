"""Complaint reports (ARF, RFC 5965) as feedback loops send them; and `parse_report`,
which tells a DSN from an ARF report."""

from __future__ import annotations

from datetime import datetime

import pytest

from feedback.mta import Rcpt, arf, dsn, original, report_id
from overture.feedback import FeedbackError
from overture.feedback.arf import ComplaintReport, parse_arf
from overture.feedback.dsn import DeliveryReport
from overture.feedback.ingest import parse_report

MID = "7d2f3c8a-1e4b-3c5d-8f6a-0b1c2d3e4f50"
ORIGINAL = original(f"<{MID}@shop.example>")


def test_an_abuse_report_with_the_original_message() -> None:
    report = parse_arf(arf(ORIGINAL))
    assert report == ComplaintReport(
        report_id="fbl-20270302-0001@fbl.isp.example",
        feedback_type="abuse",
        original_message_id=f"{MID}@shop.example",
        message_id=MID,
        recipient="ana@example.com",
        user_agent="ExampleFBL/1.0",
        reporting_mta="mx.isp.example",
        source_ip="192.0.2.1",
        arrival=datetime(2027, 3, 1, 9, 15),
        date=datetime(2027, 3, 2, 8, 0),
    )
    assert report.is_complaint


def test_headers_only_and_a_redacted_recipient() -> None:
    # providers often redact Original-Rcpt-To: the original's To names the recipient then
    report = parse_arf(arf(original(f"<{MID}@shop.example>", to="Ana <ana@example.com>"),
                           rcpt=None, headers_only=True))
    assert (report.message_id, report.recipient) == (MID, "ana@example.com")


@pytest.mark.parametrize(("feedback_type", "complaint"), [
    ("abuse", True), ("fraud", True), ("virus", True), ("other", True),
    ("not-spam", False), ("auth-failure", False), ("Abuse", True)])
def test_which_feedback_types_are_complaints(feedback_type: str, complaint: bool) -> None:
    report = parse_arf(arf(ORIGINAL, feedback_type=feedback_type))
    assert report.feedback_type == feedback_type.lower()
    assert report.is_complaint is complaint


def test_a_complaint_about_a_message_overture_did_not_send() -> None:
    report = parse_arf(arf(original("<20270301.abc@other.example>")))
    assert (report.message_id, report.original_message_id) == (
        None, "20270301.abc@other.example")


@pytest.mark.parametrize(("data", "message"), [
    (arf(ORIGINAL, feedback_type=None), "the feedback report has no Feedback-Type"),
    (arf(None), "no original message id: neither a message/rfc822 nor a text/rfc822-headers "
                "part with a Message-ID"),
    (arf(original(None), headers_only=True),
     "no original message id: neither a message/rfc822 nor a text/rfc822-headers part with a "
     "Message-ID"),
    (ORIGINAL, "not a complaint report: no message/feedback-report part (the message is "
               "multipart/alternative)"),
    (dsn(ORIGINAL, [Rcpt("ana@example.com")]),
     "not a complaint report: no message/feedback-report part (the message is "
     "multipart/report; report-type=delivery-status)"),
], ids=report_id)
def test_malformed_reports_say_what_is_missing(data: bytes, message: str) -> None:
    with pytest.raises(FeedbackError) as caught:
        parse_arf(data)
    assert str(caught.value) == message


def test_parse_report_tells_a_bounce_from_a_complaint() -> None:
    assert isinstance(parse_report(dsn(ORIGINAL, [Rcpt("ana@example.com")])), DeliveryReport)
    assert isinstance(parse_report(arf(ORIGINAL)), ComplaintReport)
    with pytest.raises(FeedbackError) as caught:
        parse_report(b"From: ana@example.com\r\nSubject: Re: Hi Ana\r\n\r\nThanks!\r\n")
    assert str(caught.value) == (
        "not a bounce or complaint report: the message is text/plain, not a multipart/report "
        "with a delivery-status or feedback-report part")
    with pytest.raises(FeedbackError, match="the message is empty"):
        parse_report(b"  \r\n")
