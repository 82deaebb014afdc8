"""Feedback from mailbox providers: delivery status notifications (bounces, RFC 3464)
and complaint reports (ARF, RFC 5965), parsed and turned into events and suppressions.

- `dsn.parse_dsn` and `arf.parse_arf` read one report (bytes) into a small dataclass;
- `ingest.ingest_reports` stores their events and feeds the suppression list;
- `ingest.import_paths` does both for .eml files, folders of them and Maildirs.

Malformed input raises `FeedbackError`, whose message names what is missing.
"""

from overture.feedback.common import FeedbackError

__all__ = ["FeedbackError"]
