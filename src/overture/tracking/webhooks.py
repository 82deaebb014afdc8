"""Provider feedback: delivery receipts, bounces and complaints that providers POST back.

`POST /hooks/{provider}`, where `{provider}` is the NAME of a `[providers.NAME]` section
of overture.toml; the section's `type` says what the request looks like:

- `http` (the generic JSON webhook): `{"events": [EVENT, ...]}` or one EVENT, where
  EVENT is `{"id", "message_id", "type", "bounce_type", "at", "detail"}`: `id` the
  provider's event id (required, what makes a retried webhook a duplicate),
  `message_id` Overture's message id (the `Idempotency-Key` it sent), `type` one of
  `delivered`, `bounce`, `complaint`, `failed` (stored as a bounce), `bounce_type`
  `hard` or `soft` (default soft), `at` an ISO 8601 time or Unix seconds (default:
  now), `detail` free text. Authenticated by `Authorization: Bearer SECRET`.
- `fcm` (Overture's own small shape; FCM itself posts no receipts, an app server or
  a gateway does): `{"receipts": [RECEIPT, ...]}` or one RECEIPT, where RECEIPT is
  `{"message_id", "status": "delivered" | "failed", "error", "at", "id"}`: `message_id`
  is the `data.message_id` of the push, `error` an FCM error code (`UNREGISTERED` and
  `SENDER_ID_MISMATCH` are hard bounces, any other a soft one), `id` defaults to
  `MESSAGE_ID:STATUS`. Authenticated by `Authorization: Bearer SECRET`.
- `twilio`: Twilio's status callback, a form with `MessageSid`, `MessageStatus` and
  `ErrorCode`; the message is found by its provider id (the `sid` Twilio answered).
  `delivered` is a delivery, `undelivered` and `failed` are bounces (hard for the
  error codes in TWILIO_HARD_ERRORS), other statuses (`queued`, `sent`, ...) are
  ignored. The event id is `SID:STATUS`. Authenticated by `X-Twilio-Signature`
  (Twilio's HMAC-SHA1 of the URL and the sorted form fields) with the auth token of
  `auth_token_env`, or with the secret of `webhook_secret_env` when the section sets it.

The shared secret of `http` and `fcm` is in the environment variable that the
section's `webhook_secret_env` names. A provider without one (or whose variable is
unset or empty in the server's environment) has no webhook: 403, nothing is read.
Missing or wrong credentials: 401 (a Bearer provider) or 403 (a bad Twilio signature).

Events are stored before answering (`events.append`, not the tracking sink), so the
answer is exact: 200 `{"accepted", "duplicates", "unknown", "ignored", "suppressed"}`.
Event ids are stored as `PROVIDER:ID`. A provider only reports on its own messages:
a message id (or Twilio sid) that is not in the message log *for that provider* is
unknown, its events are refused and listed in `unknown`; when no event of the request
is known the answer is 422 (with the same counts and an `error`). A hard bounce or a
complaint first suppresses the message's address on its channel (reason `hard_bounce`
or `complaint`), for events not stored before only: a retried webhook does not undo
a suppression someone lifted meanwhile.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from overture.channels.settings import tracking_base_url
from overture.data import events
from overture.data.messages import message_log
from overture.data.plane import DataPlane
from overture.data.suppressions import CHANNELS as SUPPRESSIBLE
from overture.data.suppressions import add_suppressions
from overture.observability import metrics

logger = logging.getLogger("overture.tracking")

#: provider types that have a webhook
HOOK_TYPES = ("http", "twilio", "fcm")
#: a larger request is refused (413) without being read further
MAX_BODY = 1 << 20
#: events in one request
MAX_EVENTS = 1000
MAX_ID_CHARS = 200
MAX_DETAIL_CHARS = 500
#: `type` values of the generic JSON shape; `failed` is stored as a bounce
HTTP_TYPES = ("delivered", "bounce", "complaint", "failed")
BOUNCE_TYPES = ("hard", "soft")
FCM_STATUSES = ("delivered", "failed")
#: Twilio error codes that mean the number will never receive: invalid 'To' number
#: (21211), not a mobile number (21614), unknown handset (30005), landline or
#: unreachable carrier (30006); any other error of an undelivered message is soft
TWILIO_HARD_ERRORS = frozenset({"21211", "21614", "30005", "30006"})
TWILIO_BOUNCES = ("undelivered", "failed")
#: FCM error codes that mean the device token is dead
FCM_HARD_ERRORS = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})


class HookError(Exception):
    """A request refused before anything is stored: its status and JSON error."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message}},
                            status_code=self.status, headers=self.headers)


def _bad(message: str) -> HookError:
    return HookError(400, "bad_request", message)


@dataclass(frozen=True)
class Feedback:
    """One event as a provider reported it, before its message is looked up."""

    event_id: str              # the provider's id (stored as PROVIDER:ID)
    ref: str                   # the message id, or the provider id (twilio)
    type: str                  # delivered | bounce | complaint
    at: datetime
    bounce_type: str | None = None
    detail: str | None = None


@dataclass
class Answer:
    accepted: int = 0
    duplicates: int = 0
    unknown: list[str] = field(default_factory=list)
    ignored: int = 0
    suppressed: int = 0

    @property
    def refused(self) -> bool:
        """Every event named an unknown message."""
        return bool(self.unknown) and self.accepted == 0 and self.duplicates == 0

    def response(self, provider: str) -> JSONResponse:
        body: dict[str, Any] = {"accepted": self.accepted, "duplicates": self.duplicates,
                                "unknown": self.unknown, "ignored": self.ignored,
                                "suppressed": self.suppressed}
        if not self.refused:
            return JSONResponse(body)
        body["error"] = {"code": "unknown_messages", "message": (
            f"no message sent through provider {provider!r} has these ids: "
            f"{', '.join(self.unknown[:20])}{' …' if len(self.unknown) > 20 else ''}; "
            "nothing was stored")}
        return JSONResponse(body, status_code=422)


# ---------------------------------------------------------------------------------------
# configuration and authentication
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hook:
    name: str
    type: str
    secret: str


def hook_of(config: Mapping[str, Any], env: Mapping[str, str], name: str) -> Hook:
    """The webhook of `[providers.NAME]`: 404 without such a provider, 403 without a secret."""
    sections = config.get("providers") or {}
    section = sections.get(name) if isinstance(sections, Mapping) else None
    if not isinstance(section, Mapping):
        raise HookError(404, "not_found", f"no provider {name!r} in overture.toml")
    kind = section.get("type")
    if kind not in HOOK_TYPES:
        raise HookError(404, "not_found", f"provider {name!r} (type {kind!r}) has no webhook; "
                                          f"types with one: {', '.join(HOOK_TYPES)}")
    keys = ["webhook_secret_env"] + (["auth_token_env"] if kind == "twilio" else [])
    key = next((k for k in keys if section.get(k)), None)
    if key is None:
        raise HookError(403, "not_configured", f"the webhook of provider {name!r} is off: "
                        "set `webhook_secret_env` in its section (the environment variable "
                        "holding the shared secret)")
    variable = str(section[key])
    secret = env.get(variable, "")
    if not secret.strip():
        raise HookError(403, "not_configured", f"the webhook of provider {name!r} is off: the "
                        f"environment variable {variable} (named by `{key}`) is not set or "
                        "empty where the server runs")
    return Hook(name=name, type=str(kind), secret=secret.strip())


def check_bearer(hook: Hook, authorization: str | None) -> None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HookError(401, "unauthorized", "send the provider's webhook secret as "
                        "`Authorization: Bearer SECRET`", {"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(token.strip().encode(), hook.secret.encode()):
        raise HookError(401, "unauthorized", "wrong webhook secret",
                        {"WWW-Authenticate": "Bearer"})


def twilio_signature(key: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed with the auth token, of
    the full URL followed by every POST field's name and value, sorted by name."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """The URL as given, without its port, and with the scheme's default port: Twilio has
    signed both forms over the years, and its libraries accept both."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(parts.scheme)
    out = [url, parts._replace(netloc=host).geturl()]
    if parts.port is None and default is not None:
        out.append(parts._replace(netloc=f"{host}:{default}").geturl())
    return list(dict.fromkeys(out))


def check_twilio(hook: Hook, signature: str | None, urls: list[str],
                 params: list[tuple[str, str]]) -> None:
    if not signature:
        raise HookError(403, "forbidden", "no X-Twilio-Signature header")
    for url in urls:
        for variant in url_variants(url):
            expected = twilio_signature(hook.secret, variant, params)
            if hmac.compare_digest(expected.encode(), signature.strip().encode()):
                return
    raise HookError(403, "forbidden", "the X-Twilio-Signature does not match this request "
                    "(signed with another auth token, or for another URL than "
                    f"{urls[0]})")


# ---------------------------------------------------------------------------------------
# payloads
# ---------------------------------------------------------------------------------------

def _text(item: Mapping[str, Any], key: str, where: str, *, required: bool,
          limit: int = MAX_ID_CHARS) -> str | None:
    value = item.get(key)
    if value is None:
        if required:
            raise _bad(f"{where}: `{key}` is required")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{where}: `{key}` must be a non-empty string")
    if len(value) > limit:
        raise _bad(f"{where}: `{key}` is longer than {limit} characters")
    return value.strip()


def _detail(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _bad(f"{where}: `{key}` must be a string")
    return str(value)[:MAX_DETAIL_CHARS] or None


def parse_time(value: Any, where: str, now: datetime) -> datetime:
    """ISO 8601 (a time without a zone is UTC) or Unix seconds; `now` when absent."""
    if value is None:
        return now
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise _bad(f"{where}: `at` is not a time")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise _bad(f"{where}: `at` is out of range") from None
    if not isinstance(value, str):
        raise _bad(f"{where}: `at` must be an ISO 8601 time or Unix seconds")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _bad(f"{where}: `at` is not an ISO 8601 time: {value[:40]!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _items(document: Any, key: str, single: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The objects of `{key: [...]}` or of one object holding `single`, with where each is."""
    if isinstance(document, Mapping) and key in document:
        listed = document[key]
        if not isinstance(listed, list):
            raise _bad(f"`{key}` must be a list")
        if not listed:
            raise _bad(f"`{key}` is empty")
        if len(listed) > MAX_EVENTS:
            raise _bad(f"{len(listed)} {key} in one request; at most {MAX_EVENTS}")
        out = []
        for index, item in enumerate(listed):
            if not isinstance(item, Mapping):
                raise _bad(f"{key}[{index}] must be an object")
            out.append((f"{key}[{index}]", item))
        return out
    if isinstance(document, Mapping) and single in document:
        return [("the event", document)]
    raise _bad(f"expected {{\"{key}\": [...]}} or one object with `{single}`")


def parse_http(document: Any, now: datetime) -> list[Feedback]:
    """The generic JSON shape (see the module)."""
    out = []
    for where, item in _items(document, "events", "message_id"):
        event_id = _text(item, "id", where, required=True)
        message_id = _text(item, "message_id", where, required=True)
        kind = item.get("type")
        if kind not in HTTP_TYPES:
            raise _bad(f"{where}: `type` must be one of {', '.join(HTTP_TYPES)}, "
                       f"not {kind!r}")
        bounce_type = item.get("bounce_type")
        if bounce_type is not None and bounce_type not in BOUNCE_TYPES:
            raise _bad(f"{where}: `bounce_type` must be hard or soft, not {bounce_type!r}")
        if bounce_type is not None and kind not in ("bounce", "failed"):
            raise _bad(f"{where}: `bounce_type` goes with a bounce or a failure, not {kind!r}")
        detail = _detail(item, "detail", where)
        if kind == "failed":
            detail = f"failed: {detail}" if detail else "failed"
        assert event_id is not None and message_id is not None
        bounce = kind in ("bounce", "failed")
        out.append(Feedback(event_id=event_id, ref=message_id,
                            type="bounce" if bounce else str(kind),
                            at=parse_time(item.get("at"), where, now),
                            bounce_type=(bounce_type or "soft") if bounce else None,
                            detail=detail))
    return out


def parse_fcm(document: Any, now: datetime) -> list[Feedback]:
    """Overture's FCM-style receipt shape (see the module)."""
    out = []
    for where, item in _items(document, "receipts", "message_id"):
        message_id = _text(item, "message_id", where, required=True)
        status = item.get("status")
        if status not in FCM_STATUSES:
            raise _bad(f"{where}: `status` must be delivered or failed, not {status!r}")
        error = _text(item, "error", where, required=False)
        if error is not None and status != "failed":
            raise _bad(f"{where}: `error` goes with status failed")
        assert message_id is not None
        event_id = _text(item, "id", where, required=False) or f"{message_id}:{status}"
        failed = status == "failed"
        out.append(Feedback(
            event_id=event_id, ref=message_id, type="bounce" if failed else "delivered",
            at=parse_time(item.get("at"), where, now),
            bounce_type=("hard" if (error or "").upper() in FCM_HARD_ERRORS else "soft")
            if failed else None,
            detail=(error or "failed") if failed else None))
    return out


def parse_twilio(params: list[tuple[str, str]], now: datetime) -> tuple[list[Feedback], int]:
    """A Twilio status callback: the event, or none and 1 ignored for another status."""
    fields = dict(params)
    sid = (fields.get("MessageSid") or fields.get("SmsSid") or "").strip()
    status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").strip()
    if not sid or not status:
        raise _bad("a Twilio status callback has `MessageSid` and `MessageStatus`")
    if len(sid) > MAX_ID_CHARS:
        raise _bad("`MessageSid` is too long")
    if status == "delivered":
        return [Feedback(event_id=f"{sid}:{status}", ref=sid, type="delivered", at=now,
                         detail="delivered")], 0
    if status in TWILIO_BOUNCES:
        code = (fields.get("ErrorCode") or "").strip()
        detail = f"{status}, error {code}" if code else status
        message = (fields.get("ErrorMessage") or "").strip()
        if message:
            detail += f": {message}"
        return [Feedback(event_id=f"{sid}:{status}", ref=sid, type="bounce", at=now,
                         bounce_type="hard" if code in TWILIO_HARD_ERRORS else "soft",
                         detail=detail[:MAX_DETAIL_CHARS])], 0
    return [], 1


# ---------------------------------------------------------------------------------------
# storing
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    message_id: str
    channel: str
    address: str | None


def find_messages(plane: DataPlane, provider: str, refs: list[str],
                  by: str) -> dict[str, Sent]:
    """The messages of `provider` whose `by` column (message_id, provider_id) is in refs."""
    log = message_log(plane)
    if log is None or not refs:
        return {}
    column = log[by]
    found = log.filter(column.isin(sorted(set(refs))) & (log.provider == provider)).select(
        ref=column, message_id=log.message_id, channel=log.channel, address=log.address)
    out: dict[str, Sent] = {}
    for row in found.to_pyarrow().to_pylist():
        out.setdefault(row["ref"], Sent(row["message_id"], row["channel"], row["address"]))
    return out


def stored_event_ids(plane: DataPlane, ids: list[str]) -> set[str]:
    table = events.events(plane)
    if table is None or not ids:
        return set()
    found = table.filter(table.event_id.isin(sorted(set(ids)))).select("event_id")
    return {row["event_id"] for row in found.to_pyarrow().to_pylist()}


class Receiver:
    """Looks messages up, suppresses, and appends events, one request at a time.

    One request at a time (a lock): with webhook event ids written only here, the ids
    found stored before the append are exactly the duplicates.
    """

    def __init__(self, plane: Callable[[], DataPlane]) -> None:
        self.plane = plane
        self._lock = threading.Lock()

    def receive(self, provider: str, feedback: list[Feedback], by: str,
                ignored: int = 0) -> Answer:
        answer = Answer(ignored=ignored)
        if not feedback:
            return answer
        plane = self.plane()
        with self._lock:
            sent = find_messages(plane, provider, [f.ref for f in feedback], by)
            answer.unknown = sorted({f.ref for f in feedback if f.ref not in sent})
            known = [f for f in feedback if f.ref in sent]
            if not known:
                return answer
            rows: list[dict[str, Any]] = [{"event_id": f"{provider}:{f.event_id}",
                     "message_id": sent[f.ref].message_id, "type": f.type, "at": f.at,
                     "machine": False, "bounce_type": f.bounce_type, "detail": f.detail,
                     "source": "webhook"} for f in known]
            before = stored_event_ids(plane, [r["event_id"] for r in rows])
            fresh: dict[str, tuple[Feedback, dict[str, Any]]] = {}
            for item, row in zip(known, rows, strict=True):
                if row["event_id"] not in before:
                    fresh.setdefault(row["event_id"], (item, row))
            answer.accepted = len(fresh)
            answer.duplicates = len(rows) - len(fresh)
            # suppress first: if appending fails the provider retries, and the events,
            # still new, suppress again (which changes nothing)
            answer.suppressed = self._suppress(
                plane, provider, [(item, sent[item.ref]) for item, _ in fresh.values()])
            if fresh:
                events.append(plane, [row for _, row in fresh.values()])
                metrics.events_stored("webhook", Counter(item.type for item, _ in
                                                         fresh.values()))
        return answer

    @staticmethod
    def _suppress(plane: DataPlane, provider: str, items: list[tuple[Feedback, Sent]]) -> int:
        groups: dict[tuple[str, str], list[str]] = {}
        for item, message in items:
            if item.type == "complaint":
                reason = "complaint"
            elif item.type == "bounce" and item.bounce_type == "hard":
                reason = "hard_bounce"
            else:
                continue
            if message.channel in SUPPRESSIBLE and message.address:
                groups.setdefault((message.channel, reason), []).append(message.address)
        added = 0
        for (channel, reason), addresses in sorted(groups.items()):
            added += add_suppressions(plane, channel, addresses, reason=reason,
                                      source=f"webhook {provider}").added
        return added


# ---------------------------------------------------------------------------------------
# the route
# ---------------------------------------------------------------------------------------

async def read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise HookError(413, "too_large", f"the request is larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HookError(413, "too_large", f"the request is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_router(config: Callable[[], Mapping[str, Any]], plane: Callable[[], DataPlane],
                   env: Callable[[], Mapping[str, str]] = lambda: os.environ) -> APIRouter:
    """`POST /hooks/{provider}`; `config` gives overture.toml's settings, `plane` the data
    plane (called in the thread that stores), `env` the environment holding secrets."""
    router = APIRouter(tags=["webhooks"])
    receiver = Receiver(plane)

    @router.post("/hooks/{provider}", include_in_schema=False)
    async def hook(provider: str, request: Request) -> Response:
        settings = config()
        now = datetime.now(UTC)
        try:
            found = hook_of(settings, env(), provider)
            if found.type != "twilio":
                check_bearer(found, request.headers.get("authorization"))
            body = await read_body(request)
            if found.type == "twilio":
                try:
                    params = urllib.parse.parse_qsl(body.decode("utf-8"),
                                                    keep_blank_values=True)
                except (UnicodeDecodeError, ValueError):
                    raise _bad("the body is not a UTF-8 form") from None
                path = request.url.path
                query = f"?{request.url.query}" if request.url.query else ""
                public = f"{tracking_base_url(dict(settings))}{path}{query}"
                check_twilio(found, request.headers.get("x-twilio-signature"),
                             list(dict.fromkeys([public, str(request.url)])), params)
                feedback, ignored = parse_twilio(params, now)
                by = "provider_id"
            else:
                try:
                    document = json.loads(body)
                except (UnicodeDecodeError, ValueError):
                    raise _bad("the body is not JSON") from None
                parse = parse_fcm if found.type == "fcm" else parse_http
                feedback, ignored, by = parse(document, now), 0, "message_id"
        except HookError as exc:
            if exc.status in (401, 403):
                logger.warning("webhook %s refused: %s", provider, exc.message)
            return exc.response()
        answer = await run_in_threadpool(receiver.receive, found.name, feedback, by, ignored)
        logger.info("webhook %s: %d accepted, %d duplicates, %d unknown, %d ignored",
                    provider, answer.accepted, answer.duplicates, len(answer.unknown),
                    answer.ignored)
        return answer.response(found.name)

    return router
