"""What the DSN and ARF parsers share: the error, reading a message, its report part,
the original message's headers, Overture's message id in a Message-ID, dates.

Messages are parsed with the `email` package's compat32 policy: header values stay the
text the sender wrote (the modern policy parses them, and a malformed address or
Message-ID in a report from an unknown MTA could make it raise).
"""

from __future__ import annotations

import binascii
import email
import email.parser
import email.policy
import hashlib
import quopri
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from overture.errors import OvertureError

T = TypeVar("T")

#: parts holding the original message (RFC 3462, RFC 6532 for the `global` forms)
ORIGINAL_MESSAGE_TYPES = ("message/rfc822", "message/global")
ORIGINAL_HEADER_TYPES = ("text/rfc822-headers", "message/global-headers")
#: how much of a free-text field (a diagnostic) an event keeps
DETAIL_LIMIT = 1000

_ANGLE = re.compile(r"<([^<>]*)>")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


class FeedbackError(OvertureError):
    """A report that cannot be read, and what it lacks."""


def guarded(what: str, parse: Callable[[], T]) -> T:
    """`parse()`, with any error but a FeedbackError turned into one: reports come from
    strangers' servers, and a surprise in one must never end an import in a traceback."""
    try:
        return parse()
    except FeedbackError:
        raise
    except Exception as exc:  # the email package's own surprises on broken input
        raise FeedbackError(f"cannot read the {what}: {type(exc).__name__}: {exc}") from None


def load(data: bytes | Message) -> tuple[Message, bytes]:
    """The parsed message and its bytes (for the content hash)."""
    if isinstance(data, Message):
        raw = data.as_bytes()
        return data, raw
    if not isinstance(data, bytes | bytearray):
        raise TypeError("a report is bytes or an email.message.Message")
    if not bytes(data).strip():
        raise FeedbackError("the message is empty")
    parsed = email.message_from_bytes(bytes(data), policy=email.policy.compat32)
    return parsed, bytes(data)


def text(value: Any) -> str | None:
    """A header value as one line of text (folding and surrounding blanks removed), or
    None when absent or blank. Undecodable bytes become U+FFFD."""
    if value is None:
        return None
    raw = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    line = " ".join(raw.split())
    return line or None


def field(message: Message, name: str) -> str | None:
    return text(message.get(name))


def content_hash(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def report_identity(message: Message, raw: bytes) -> str:
    """The report's own Message-ID, else the hash of its bytes: what makes its events'
    ids stable, so that reading a mailbox twice stores nothing twice."""
    own = message_id_of(field(message, "Message-ID"))
    return own if own else content_hash(raw)


def find_report(message: Message, part_types: tuple[str, ...]) -> Message | None:
    """The outermost multipart (normally the message itself, a multipart/report) with a
    direct part of one of these types; None when there is none.

    Looking below the top level finds a report forwarded as an attachment; the first
    found is the outermost, so a bounce of a bounce reads as the outer one.
    """
    for part in message.walk():
        if not part.is_multipart() or part.get_content_maintype() != "multipart":
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and any(
                isinstance(child, Message) and child.get_content_type() in part_types
                for child in payload):
            return part
    return None


def child(report: Message, part_types: tuple[str, ...]) -> Message | None:
    """The first direct part of `report` of one of these types."""
    payload = report.get_payload()
    if not isinstance(payload, list):
        return None
    for part in payload:
        if isinstance(part, Message) and part.get_content_type() in part_types:
            return part
    return None


def _parse_blocks(raw: bytes) -> list[Message]:
    body = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    parser = email.parser.HeaderParser(policy=email.policy.compat32)
    blocks = []
    for chunk in _BLANK_LINE.split(body.strip("\n")):
        if chunk.strip():
            blocks.append(parser.parsestr(chunk.strip("\n") + "\n"))
    return blocks


def _block_text(block: Message) -> str:
    body = block.get_payload()
    head = "".join(f"{name}: {value}\n" for name, value in block.items())
    return head + (body if isinstance(body, str) else "")


def field_blocks(part: Message) -> list[Message]:
    """The blocks of `NAME: value` fields of a message/delivery-status or
    message/feedback-report part, in order, each as a Message of headers only.

    The `email` package splits message/delivery-status into blocks itself, reads other
    message/* types as one nested message (the first block its headers, the rest its
    body), and leaves an encoded part as text: all three end up the same here.
    """
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if isinstance(payload, list) and encoding in ("base64", "quoted-printable"):
        # read as fields by the `email` package before decoding: put the text back
        encoded = "\n".join(_block_text(block) for block in payload
                            if isinstance(block, Message))
        data = encoded.encode("ascii", "replace")
        decoded_text = (binascii.a2b_base64(b"".join(data.split())) if encoding == "base64"
                        else quopri.decodestring(data))
        return [block for block in _parse_blocks(decoded_text) if block.keys()]
    if isinstance(payload, list):
        blocks: list[Message] = []
        for block in payload:
            if not isinstance(block, Message):
                continue
            blocks.append(block)
            rest = block.get_payload()
            if isinstance(rest, str) and rest.strip():
                blocks.extend(_parse_blocks(rest.encode("utf-8", "surrogateescape")))
        return [block for block in blocks if block.keys()]
    decoded = part.get_payload(decode=True)
    if not isinstance(decoded, bytes):
        return []
    return [block for block in _parse_blocks(decoded) if block.keys()]


def original_headers(report: Message) -> Message | None:
    """The headers of the original message a report returns: its message/rfc822 part
    (or message/global), else its text/rfc822-headers part (or message/global-headers);
    None when the report has neither."""
    found: Message | None = None
    payload = report.get_payload()
    if not isinstance(payload, list):
        return None
    for part in payload:
        if not isinstance(part, Message):
            continue
        kind = part.get_content_type()
        headers: Message | None = None
        if kind in ORIGINAL_MESSAGE_TYPES or kind == "message/global-headers":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                headers = inner[0]
            elif isinstance(inner, str):
                headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(
                    inner)
        elif kind in ORIGINAL_HEADER_TYPES:
            decoded = part.get_payload(decode=True)
            if isinstance(decoded, bytes):
                headers = email.parser.BytesHeaderParser(
                    policy=email.policy.compat32).parsebytes(decoded)
        if headers is None:
            continue
        if field(headers, "Message-ID"):
            return headers
        found = found or headers
    return found


def message_id_of(value: str | None) -> str | None:
    """The `<…>` of a Message-ID header (without the brackets), else the value as is."""
    if not value:
        return None
    match = _ANGLE.search(value)
    inner = (match.group(1) if match else value).strip()
    return inner or None


def overture_id(value: str | None) -> str | None:
    """Overture's message id (a UUID, as the message log writes it) in a Message-ID
    (`<uuid@domain>`, with or without brackets) or an envelope id; None when the value
    holds none, i.e. the message was not sent by Overture."""
    inner = message_id_of(value)
    if not inner:
        return None
    local = inner.split("@", 1)[0].strip()
    if len(local) != 36:  # the canonical form, the only one Overture writes
        return None
    try:
        return str(uuid.UUID(local))
    except ValueError:
        return None


def xtext(value: str) -> str:
    """An RFC 3461 xtext value (`+2B` for `+`) decoded, as Original-Envelope-Id holds."""
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date as naive UTC (how every timestamp is stored); None when absent
    or unreadable, a date without zone taken as UTC."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


def detail(value: str | None) -> str | None:
    if not value:
        return None
    return value if len(value) <= DETAIL_LIMIT else value[:DETAIL_LIMIT - 1] + "…"


def typed_value(value: str | None) -> str | None:
    """`dns; mx.example.com` -> `mx.example.com` (the type before `;` dropped)."""
    if not value:
        return None
    _, sep, rest = value.partition(";")
    return (rest if sep else value).strip() or None


def address_of(value: str | None) -> str | None:
    """The address of a `Final-Recipient: rfc822; ann@example.com` field (the type
    before `;` dropped, angle brackets too)."""
    if not value:
        return None
    _, sep, rest = value.partition(";")
    address = (rest if sep else value).strip()
    match = _ANGLE.search(address)
    if match:
        address = match.group(1).strip()
    return address or None
