"""The `outbox` provider: messages stored on this machine, nothing sent anywhere.

The demo's default (spec §8). Email goes into a Maildir at `.overture/outbox/mail/`
(readable by any mail client), one file per message named by its message id; SMS and
push are appended as JSON lines to `.overture/outbox/sms.jsonl` and `push.jsonl`.

Storing is idempotent by message id, as the spec asks of providers that honour
idempotency keys: a message id already stored is not stored again, also after a crash.
For email the file name is the id and the file appears by an atomic `link`, so a
crash leaves either the whole message or nothing (a stray file in `tmp/`, ignored).
For JSON lines the index of stored ids is the file itself, read on the first send;
a line torn by a crash is skipped, and readers keep the first line of an id.
"""

from __future__ import annotations

import contextlib
import json
import mailbox
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import IO, Any

from overture.channels.providers import (
    CHANNELS,
    OutgoingMessage,
    ProviderConfigError,
    ProviderSettings,
    RawEmail,
    SendResult,
    register,
)
from overture.errors import OvertureError

OUTBOX_DIR = "outbox"
MAIL_DIR = "mail"
META_PREFIX = "X-Overture-"


class OutboxError(OvertureError):
    """A message the outbox does not hold, or an id prefix that matches several."""


def outbox_directory(state_dir: Path) -> Path:
    """Where a workspace's outbox lives: `.overture/outbox/`."""
    return state_dir / OUTBOX_DIR


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _header_safe(value: object) -> str:
    return " ".join(str(value).split())


@register("outbox")
class OutboxProvider:
    """Stores every channel's messages in a folder; `send` never fails transiently."""

    channels: frozenset[str] = frozenset(CHANNELS)
    concurrency: int = 1
    rate: float | None = None

    def __init__(self, directory: Path, name: str = "outbox") -> None:
        self.name = name
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._seen: dict[str, set[str]] = {}          # channel -> stored ids, loaded lazily
        self._files: dict[str, IO[bytes]] = {}
        self._maildir: mailbox.Maildir | None = None

    @classmethod
    def from_config(cls, name: str, settings: ProviderSettings) -> OutboxProvider:
        if settings.state_dir is None:
            raise ProviderConfigError(
                f"{settings.where}: the outbox needs a workspace (its .overture/ folder)")
        return cls(outbox_directory(settings.state_dir), name=name)

    # ---- sending ----
    def send(self, message: OutgoingMessage) -> SendResult:
        key = str(message.message_id)
        with self._lock:
            seen = self._seen_ids(message.channel)
            if key in seen:
                return SendResult.sent(provider_id=key)
            if message.channel == "email":
                self._store_email(key, message)
            else:
                self._append_line(key, message)
            seen.add(key)
        return SendResult.sent(provider_id=key)

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()

    # ---- email: a Maildir ----
    @property
    def mail_dir(self) -> Path:
        return self.directory / MAIL_DIR

    def _mailbox(self) -> mailbox.Maildir:
        if self._maildir is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._maildir = mailbox.Maildir(self.mail_dir, factory=None, create=True)
        return self._maildir

    def _store_email(self, key: str, message: OutgoingMessage) -> None:
        self._mailbox()
        meta = [(header, value) for header, value in (
            ("Message-Id", key), ("Channel", "email"), ("To", message.to),
            ("Category", message.category), ("Campaign", message.campaign),
            ("Run", message.run_id), ("Activity", message.activity_id),
            ("Stored-At", _now())) if value is not None]
        if isinstance(message.payload, RawEmail):
            # prepended as they are: no parsing of the message (the engine's fast path)
            lines = "".join(f"{META_PREFIX}{header}: {_header_safe(value)}\r\n"
                            for header, value in meta)
            data = lines.encode("utf-8") + message.payload.data
        else:
            assert isinstance(message.payload, EmailMessage)
            stored = BytesParser(policy=policy.default).parsebytes(message.payload.as_bytes())
            for header, value in meta:
                del stored[META_PREFIX + header]
                stored[META_PREFIX + header] = _header_safe(value)
            data = stored.as_bytes()
        temporary = self.mail_dir / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex}"
        final = self.mail_dir / "new" / key
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
            with contextlib.suppress(FileExistsError):   # stored by another process meanwhile
                os.link(temporary, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    # ---- SMS and push: JSON lines ----
    def jsonl_path(self, channel: str) -> Path:
        return self.directory / f"{channel}.jsonl"

    def _append_line(self, key: str, message: OutgoingMessage) -> None:
        handle = self._files.get(message.channel)
        if handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.jsonl_path(message.channel)
            handle = open(path, "ab")  # noqa: SIM115 - kept open until close()
            self._files[message.channel] = handle
            if handle.tell() > 0:
                with open(path, "rb") as existing:
                    existing.seek(-1, os.SEEK_END)
                    if existing.read(1) != b"\n":   # a line torn by a crash: end it
                        handle.write(b"\n")
        record = {"message_id": key, "channel": message.channel, "to": message.to,
                  "stored_at": _now(), "category": message.category,
                  "campaign": message.campaign, "run_id": message.run_id,
                  "activity_id": message.activity_id, "payload": message.payload}
        line = json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":"))
        handle.write(line.encode("utf-8") + b"\n")
        handle.flush()

    # ---- the index of stored ids ----
    def _seen_ids(self, channel: str) -> set[str]:
        seen = self._seen.get(channel)
        if seen is None:
            if channel == "email":
                seen = set()
                for folder in ("new", "cur"):
                    path = self.mail_dir / folder
                    if path.is_dir():
                        seen.update(name.split(":", 1)[0] for name in os.listdir(path))
            else:
                seen = {record["message_id"]
                        for record in _read_jsonl(self.jsonl_path(channel))}
            self._seen[channel] = seen
        return seen


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, first line of each id kept, torn lines skipped."""
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    ids: set[str] = set()
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(record, dict) or "message_id" not in record:
                continue
            if record["message_id"] in ids:
                continue
            ids.add(record["message_id"])
            records.append(record)
    return records


# ---- reading the outbox back ----
@dataclass
class OutboxEntry:
    message_id: str
    channel: str
    to: str
    stored_at: str
    summary: str               # the subject of an email, the start of an SMS or push
    category: str | None = None
    campaign: str | None = None
    run_id: str | None = None
    activity_id: str | None = None
    payload: dict[str, Any] | None = None     # SMS and push
    mail_dir: Path | None = None              # email: the Maildir holding it
    key: str | None = None                    # email: its key in that Maildir

    def email(self) -> EmailMessage:
        """The stored email, parsed (with the outbox's X-Overture-* headers)."""
        if self.mail_dir is None or self.key is None:
            raise OutboxError(f"message {self.message_id} is not an email")
        data = mailbox.Maildir(self.mail_dir, factory=None, create=False).get_bytes(self.key)
        parsed = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def summary_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "channel": self.channel, "to": self.to,
                "stored_at": self.stored_at, "summary": self.summary,
                "category": self.category, "campaign": self.campaign, "run_id": self.run_id,
                "activity_id": self.activity_id}

    def detail_json(self) -> dict[str, Any]:
        """Everything: the payload of an SMS or push; headers, text and HTML of an email."""
        data = self.summary_json()
        if self.channel == "email":
            message = self.email()
            data["headers"] = [[name, str(value)] for name, value in message.items()]
            data["text"] = email_part(message, "plain")
            data["html"] = email_part(message, "html")
        else:
            data["payload"] = self.payload
        return data


def email_part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def _payload_summary(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    parts = [str(payload[key]) for key in ("title", "body", "text", "message")
             if payload.get(key)]
    return " — ".join(parts[:2])


class OutboxReader:
    """Lists and shows what an outbox holds; newest first."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _emails(self) -> list[OutboxEntry]:
        path = self.directory / MAIL_DIR
        if not (path / "new").is_dir():
            return []
        box = mailbox.Maildir(path, factory=None, create=False)
        entries = []
        parser = BytesParser(policy=policy.default)
        for key in box.iterkeys():
            with box.get_file(key) as handle:
                headers = parser.parse(handle, headersonly=True)   # type: ignore[arg-type]

            def meta(name: str, headers: Any = headers) -> str | None:
                value = headers.get(META_PREFIX + name)
                return None if value is None else str(value)

            entries.append(OutboxEntry(
                message_id=meta("Message-Id") or key, channel="email",
                to=meta("To") or str(headers.get("To", "")), stored_at=meta("Stored-At") or "",
                summary=str(headers.get("Subject", "")), category=meta("Category"),
                campaign=meta("Campaign"), run_id=meta("Run"), activity_id=meta("Activity"),
                mail_dir=path, key=key))
        return entries

    def _lines(self, channel: str) -> list[OutboxEntry]:
        return [OutboxEntry(message_id=str(r["message_id"]), channel=channel,
                            to=str(r.get("to", "")), stored_at=str(r.get("stored_at", "")),
                            summary=_payload_summary(r.get("payload")),
                            category=r.get("category"), campaign=r.get("campaign"),
                            run_id=r.get("run_id"), activity_id=r.get("activity_id"),
                            payload=r.get("payload"))
                for r in _read_jsonl(self.directory / f"{channel}.jsonl")]

    def messages(self, *, channel: str | None = None, campaign: str | None = None,
                 run: str | None = None, limit: int | None = None) -> list[OutboxEntry]:
        """Stored messages, newest first, filtered by channel, campaign and run."""
        if channel is not None and channel not in CHANNELS:
            raise OutboxError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}")
        found: list[tuple[str, int, OutboxEntry]] = []
        for name in CHANNELS:
            if channel not in (None, name):
                continue
            entries = self._emails() if name == "email" else self._lines(name)
            found.extend((entry.stored_at, index, entry) for index, entry in enumerate(entries))
        found.sort(key=lambda item: (item[0], item[1]), reverse=True)
        result = [entry for _, _, entry in found
                  if (campaign is None or entry.campaign == campaign)
                  and (run is None or (entry.run_id or "").startswith(run))]
        return result if limit is None else result[:max(limit, 0)]

    def get(self, prefix: str) -> OutboxEntry:
        """The message whose id starts with `prefix` (a `<uuid@domain>` is accepted too)."""
        wanted = prefix.strip().strip("<>").split("@", 1)[0].lower()
        if not wanted:
            raise OutboxError("give a message id (or the start of one)")
        matches = [entry for entry in self.messages()
                   if entry.message_id.lower().startswith(wanted)]
        if not matches:
            raise OutboxError(f"no message {prefix!r} in the outbox {self.directory} "
                              "(`overture outbox list` shows what it holds)")
        if len(matches) > 1:
            ids = ", ".join(entry.message_id for entry in matches[:5])
            raise OutboxError(f"{prefix!r} matches {len(matches)} messages ({ids}"
                              f"{', …' if len(matches) > 5 else ''}); give more of the id")
        return matches[0]
