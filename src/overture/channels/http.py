"""HTTP providers for SMS and push: `type = "http"`, `"twilio"` and `"fcm"` (spec §8).

All three share one transport (`HttpTransport`): persistent keep-alive connections
(`http.client`) to one origin, at most `concurrency` of them kept, each used by one
thread at a time. A kept connection the server closed between two requests is retried
once, transparently, on a fresh one; every request carries the message id as its
idempotency key, so a provider that honours it never delivers a message twice.

`http`, the generic JSON webhook, POSTs to `url`::

    POST /send HTTP/1.1
    Content-Type: application/json
    Idempotency-Key: 5f0c7d0e-8a9b-3c4d-9e8f-0a1b2c3d4e5f
    Authorization: Bearer xyz            (the value of `auth_header_env`, if set;
                                          under the name `header_name`)

    {"message_id": "5f0c7d0e-8a9b-3c4d-9e8f-0a1b2c3d4e5f", "channel": "sms",
     "to": "+33600000000", "body": "…", "title": null, "data": {},
     "category": "marketing", "campaign": "spring-sale", "run_id": "…",
     "activity_id": "vip_sms"}

`title` is null and `data` is `{}` for an SMS; for a push they carry the push's title
(or null) and its data (string values). Any 2xx answer means sent; the provider id is
the `id` of a JSON object answer, else the message id.

`twilio` POSTs the Twilio Messages API's form (`To`, `From` or `MessagingServiceSid`,
`Body`) to `{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json` with HTTP
Basic authentication (`account_sid`, `auth_token_env`) and the header
`I-Twilio-Idempotency-Token`; the provider id is the answer's `sid`. SMS only.

`fcm` POSTs an FCM HTTP v1 message (`token`, `notification` with `title` and `body`,
`data` with the message id added as `message_id`) to
`{base_url}/v1/projects/{project_id}/messages:send` with `Authorization: Bearer` and
the token read from `access_token_env`; the provider id is the answer's `name`. Push
only. The access token is taken as is from the environment: minting OAuth tokens from
a service-account key (they last an hour) is left out, so a long run needs something
outside Overture to refresh the variable, or a token that lasts.

`send` never raises for a delivery problem. 2xx is sent; 408, 425, 429 and any 5xx
are transient failures, with `retry_after` from a `Retry-After` header (seconds or an
HTTP date); timeouts and connection errors are transient too (that connection is
dropped, the next send opens a new one). Any other status (other 4xx, 3xx: redirects
are not followed) is a permanent failure whose error holds the status and a short
excerpt of the answer: `400 Bad Request: invalid number`.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import math
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from overture.channels.providers import (
    OutgoingMessage,
    ProviderConfigError,
    ProviderSettings,
    SendResult,
    register,
)

USER_AGENT = "Overture"
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256
MAX_ANSWER_BYTES = 1 << 20          # a larger answer is cut and its connection dropped
EXCERPT_CHARS = 200
TRANSIENT_STATUSES = frozenset({408, 425, 429})   # and every 5xx
TWILIO_BASE_URL = "https://api.twilio.com"
FCM_BASE_URL = "https://fcm.googleapis.com"

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

# Errors that mean a kept connection was closed by the server while idle.
_STALE_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                 ConnectionAbortedError)


# ---- answers ----
def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delay-seconds or an HTTP date), or None.

    A date in the past gives 0; a value that is neither form gives None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:            # RFC 9110 dates are GMT
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


@dataclass(frozen=True)
class HttpResponse:
    """An answer, read in full (or cut at MAX_ANSWER_BYTES)."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def excerpt(self) -> str:
        """One line (≤ EXCERPT_CHARS): the error message of a JSON answer, else its text."""
        data = self.json()
        text: str | None = None
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(data.get("message"), str):          # Twilio
                text = data["message"]
            elif isinstance(error, dict) and isinstance(error.get("message"), str):   # FCM
                text = error["message"]
            elif isinstance(error, str):
                text = error
        if text is None:
            text = self.body.decode("utf-8", errors="replace")
        text = " ".join(text.split())
        if len(text) > EXCERPT_CHARS:
            text = text[:EXCERPT_CHARS - 1] + "…"
        return text


def result_of(response: HttpResponse, provider_id: str) -> SendResult:
    """Classify an answer: 2xx sent; 408/425/429/5xx transient; anything else permanent."""
    status = response.status
    if 200 <= status < 300:
        return SendResult.sent(provider_id)
    reason = response.reason
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    error = f"{status} {reason}".rstrip()
    excerpt = response.excerpt()
    if excerpt:
        error += f": {excerpt}"
    if status in TRANSIENT_STATUSES or 500 <= status < 600:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return SendResult.failed(error, transient=True, retry_after=retry_after)
    return SendResult.failed(error)


# ---- the transport ----
@dataclass(frozen=True)
class Origin:
    """Where requests go: scheme, host, port and a path prefix (no trailing slash)."""

    scheme: str
    host: str
    port: int
    path: str
    query: str = ""

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_url(value: Any, *, where: str, key: str) -> Origin:
    """An http(s) URL setting, checked; ProviderConfigError naming `key` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ProviderConfigError(f"{where}: `{key}` must be an http:// or https:// URL")
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https"):
        raise ProviderConfigError(
            f"{where}: `{key}` must be an http:// or https:// URL, not {value!r}")
    if not parts.hostname:
        raise ProviderConfigError(f"{where}: `{key}` has no host: {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ProviderConfigError(
            f"{where}: `{key}` must not hold a user name or password; "
            "give credentials through an `_env` setting")
    if parts.fragment:
        raise ProviderConfigError(f"{where}: `{key}` must not have a #fragment")
    try:
        port = parts.port
    except ValueError:
        raise ProviderConfigError(f"{where}: `{key}` has an invalid port: {value!r}") from None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return Origin(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), parts.query)


class HttpTransport:
    """POSTs to one origin over kept connections, safely from many threads.

    A thread takes an idle connection (or opens one), uses it for one request and gives
    it back; at most `max_idle` are kept. Errors are raised (OSError, TimeoutError,
    http.client.HTTPException) for the provider to classify; a connection that failed
    is dropped. A kept connection the server had closed is retried once on a new one.
    """

    def __init__(self, origin: Origin, *, timeout: float = DEFAULT_TIMEOUT,
                 max_idle: int = DEFAULT_CONCURRENCY,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.origin = origin
        self.timeout = timeout
        self.max_idle = max_idle
        self._ssl_context = ssl_context
        if origin.scheme == "https" and ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []
        self._busy: set[http.client.HTTPConnection] = set()
        self.opened = 0                  # connections opened so far (for tests, stats)

    def _new_connection(self) -> http.client.HTTPConnection:
        with self._lock:
            self.opened += 1
        if self.origin.scheme == "https":
            return http.client.HTTPSConnection(self.origin.host, self.origin.port,
                                               timeout=self.timeout,
                                               context=self._ssl_context)
        return http.client.HTTPConnection(self.origin.host, self.origin.port,
                                          timeout=self.timeout)

    def _acquire(self) -> http.client.HTTPConnection:
        with self._lock:
            connection = self._idle.pop() if self._idle else None
            if connection is not None:
                self._busy.add(connection)
                return connection
        return self._acquire_fresh()

    def _release(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if connection in self._busy:
                self._busy.discard(connection)
                if len(self._idle) < self.max_idle:
                    self._idle.append(connection)
                    return
        connection.close()        # closed meanwhile by close(), or too many kept

    def _discard(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._busy.discard(connection)
        connection.close()

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        """POST `body` to `path` (after the origin's path prefix); the answer in full."""
        target = self.origin.path + path
        if self.origin.query:
            target += ("&" if "?" in target else "?") + self.origin.query
        if not target.startswith("/"):
            target = "/" + target
        connection = self._acquire()
        kept = connection.sock is not None       # reused: the server may have closed it
        try:
            response = self._exchange(connection, target, body, headers)
        except _STALE_ERRORS:
            self._discard(connection)
            if not kept:
                raise
            connection = self._acquire_fresh()
            try:
                response = self._exchange(connection, target, body, headers)
            except BaseException:
                self._discard(connection)
                raise
        except BaseException:
            self._discard(connection)
            raise
        self._release(connection)
        return response

    def _acquire_fresh(self) -> http.client.HTTPConnection:
        connection = self._new_connection()
        with self._lock:
            self._busy.add(connection)
        return connection

    def _exchange(self, connection: http.client.HTTPConnection, target: str, body: bytes,
                  headers: Mapping[str, str]) -> HttpResponse:
        connection.request("POST", target, body=body, headers=dict(headers))
        answer = connection.getresponse()
        data = answer.read(MAX_ANSWER_BYTES)
        if not answer.isclosed():            # more than we read: do not reuse
            connection.close()
        answer_headers = {name.lower(): value for name, value in answer.getheaders()}
        return HttpResponse(answer.status, answer.reason or "", answer_headers, data)

    def close(self) -> None:
        """Close the kept connections; one in use is closed when its request ends."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._busy.clear()
        for connection in idle:
            connection.close()


# ---- settings ----
COMMON_KEYS = frozenset({"type", "timeout", "concurrency", "rate", "webhook_secret_env"})


def _number(settings: ProviderSettings, key: str, default: float | None) -> float | None:
    value = settings.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value <= 0:
        raise ProviderConfigError(f"{settings.where}: `{key}` must be a positive number")
    return float(value)


def _concurrency(settings: ProviderSettings) -> int:
    value = settings.get("concurrency", DEFAULT_CONCURRENCY)
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 1 <= value <= MAX_CONCURRENCY:
        raise ProviderConfigError(
            f"{settings.where}: `concurrency` must be a whole number from 1 to "
            f"{MAX_CONCURRENCY}")
    return value


def _text(settings: ProviderSettings, key: str, *, required: bool) -> str | None:
    value = settings.require(key) if required else settings.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProviderConfigError(f"{settings.where}: `{key}` must be a non-empty string")
    return value.strip()


def _header_value(settings: ProviderSettings, key: str, value: str) -> str:
    """A secret that goes into a header: one line of printable ASCII."""
    if "\r" in value or "\n" in value:
        raise ProviderConfigError(
            f"{settings.where}: the value of `{key}_env` must be a single line")
    if not value.isascii() or not value.strip().isprintable():
        raise ProviderConfigError(
            f"{settings.where}: the value of `{key}_env` must be printable ASCII")
    return value.strip()


def _check_keys(settings: ProviderSettings, known: frozenset[str]) -> None:
    allowed = COMMON_KEYS | known
    for key in settings.section:
        if key not in allowed:
            raise ProviderConfigError(
                f"{settings.where}: unknown setting `{key}`; settings of type "
                f"{settings.get('type')!r}: {', '.join(sorted(allowed - {'type'}))}")


def _payload_text(message: OutgoingMessage) -> tuple[str | None, str | None, dict[str, str]]:
    """The (body, title, data) of an SMS or push payload; body None when it has none."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    body = payload.get("body")
    title = payload.get("title")
    data = payload.get("data") or {}
    return (body if isinstance(body, str) else None,
            title if isinstance(title, str) else None,
            {str(k): str(v) for k, v in data.items()} if isinstance(data, Mapping) else {})


# ---- the providers ----
class HttpProvider:
    """What the three HTTP provider types share: settings, channel check, classification."""

    type_name: ClassVar[str] = ""
    served: ClassVar[frozenset[str]] = frozenset()
    keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, origin: Origin, *, channels: frozenset[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, concurrency: int = DEFAULT_CONCURRENCY,
                 rate: float | None = None) -> None:
        self.name = name
        self.channels: frozenset[str] = channels if channels is not None else self.served
        self.concurrency = concurrency
        self.rate = rate
        self.timeout = timeout
        self.transport = HttpTransport(origin, timeout=timeout, max_idle=concurrency)

    @staticmethod
    def _common(settings: ProviderSettings) -> dict[str, Any]:
        timeout = _number(settings, "timeout", DEFAULT_TIMEOUT)
        assert timeout is not None
        return {"timeout": timeout, "concurrency": _concurrency(settings),
                "rate": _number(settings, "rate", None)}

    # subclasses: the request of a message, and the provider id of a 2xx answer
    def build_request(self, message: OutgoingMessage, body: str, title: str | None,
                      data: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
        raise NotImplementedError

    def provider_id(self, answer: Any) -> str | None:
        return None

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.channel not in self.channels:
            return SendResult.failed(
                f"provider {self.name!r} ({self.type_name}) does not send {message.channel} "
                f"(it sends {', '.join(sorted(self.channels))})")
        body, title, data = _payload_text(message)
        if body is None:
            return SendResult.failed(f"the {message.channel} payload has no text `body`")
        path, content, headers = self.build_request(message, body, title, data)
        headers.setdefault("User-Agent", USER_AGENT)
        headers.setdefault("Accept", "application/json")
        where = str(self.transport.origin)
        try:
            response = self.transport.post(path, content, headers)
        except TimeoutError:
            return SendResult.failed(f"no answer from {where} within {self.timeout:g} s",
                                     transient=True)
        except ConnectionRefusedError:
            return SendResult.failed(f"connection refused by {where}", transient=True)
        except http.client.RemoteDisconnected:
            return SendResult.failed(f"{where} closed the connection without answering",
                                     transient=True)
        except (OSError, http.client.HTTPException) as exc:
            detail = str(exc) or type(exc).__name__
            return SendResult.failed(f"{where}: {detail}", transient=True)
        except ValueError as exc:          # a request http.client refuses to write
            return SendResult.failed(f"cannot send to {where}: {exc}")
        provider_id = None
        if 200 <= response.status < 300:
            provider_id = self.provider_id(response.json())
        return result_of(response, provider_id or str(message.message_id))

    def close(self) -> None:
        self.transport.close()


def _as_id(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@register("http")
class WebhookProvider(HttpProvider):
    """The generic JSON webhook: one POST per message to `url` (payload in the docstring)."""

    type_name = "http"
    served = frozenset({"sms", "push"})
    keys = frozenset({"url", "channels", "auth_header_env", "header_name"})

    def __init__(self, name: str, url: str, *, auth_header: str | None = None,
                 header_name: str = "Authorization", channels: frozenset[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, concurrency: int = DEFAULT_CONCURRENCY,
                 rate: float | None = None) -> None:
        origin = parse_url(url, where=f"[providers.{name}]", key="url")
        super().__init__(name, origin, channels=channels, timeout=timeout,
                         concurrency=concurrency, rate=rate)
        self.auth_header = auth_header
        self.header_name = header_name

    @classmethod
    def from_config(cls, name: str, settings: ProviderSettings) -> WebhookProvider:
        _check_keys(settings, cls.keys)
        where = settings.where
        url = settings.require("url")
        parse_url(url, where=where, key="url")
        channels = settings.get("channels", sorted(cls.served))
        if isinstance(channels, str) or not isinstance(channels, list | tuple) or not channels:
            raise ProviderConfigError(
                f"{where}: `channels` must be a list of channels, e.g. [\"sms\", \"push\"]")
        for channel in channels:
            if channel not in cls.served:
                raise ProviderConfigError(
                    f"{where}: `channels`: unknown channel {channel!r}; the http provider "
                    f"sends {', '.join(sorted(cls.served))}")
        auth = settings.secret("auth_header", required=False)
        header_name = _text(settings, "header_name", required=False) or "Authorization"
        if "header_name" in settings.section and auth is None:
            raise ProviderConfigError(
                f"{where}: `header_name` needs `auth_header_env`: the name of the environment "
                "variable that holds the header's value")
        if not _HEADER_NAME.fullmatch(header_name):
            raise ProviderConfigError(f"{where}: `header_name` is not a header name")
        return cls(name, url, auth_header=None if auth is None else
                   _header_value(settings, "auth_header", auth),
                   header_name=header_name, channels=frozenset(channels),
                   **cls._common(settings))

    def build_request(self, message: OutgoingMessage, body: str, title: str | None,
                      data: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
        key = str(message.message_id)
        document = {"message_id": key, "channel": message.channel, "to": message.to,
                    "body": body, "title": title, "data": data,
                    "category": message.category, "campaign": message.campaign,
                    "run_id": message.run_id, "activity_id": message.activity_id}
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key}
        if self.auth_header is not None:
            headers[self.header_name] = self.auth_header
        return "", json.dumps(document, ensure_ascii=False).encode("utf-8"), headers

    def provider_id(self, answer: Any) -> str | None:
        return _as_id(answer.get("id")) if isinstance(answer, dict) else None


@register("twilio")
class TwilioProvider(HttpProvider):
    """SMS through the Twilio Messages API (or anything shaped like it)."""

    type_name = "twilio"
    served = frozenset({"sms"})
    keys = frozenset({"base_url", "account_sid", "auth_token_env", "from",
                      "messaging_service_sid"})

    def __init__(self, name: str, *, account_sid: str, auth_token: str,
                 sender: str | None = None, messaging_service_sid: str | None = None,
                 base_url: str = TWILIO_BASE_URL, timeout: float = DEFAULT_TIMEOUT,
                 concurrency: int = DEFAULT_CONCURRENCY, rate: float | None = None) -> None:
        if (sender is None) == (messaging_service_sid is None):
            raise ProviderConfigError(
                f"[providers.{name}]: give either `from` or `messaging_service_sid`")
        origin = parse_url(base_url, where=f"[providers.{name}]", key="base_url")
        super().__init__(name, origin, timeout=timeout, concurrency=concurrency, rate=rate)
        self.account_sid = account_sid
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._authorization = f"Basic {credentials}"
        self.path = f"/2010-04-01/Accounts/{urllib.parse.quote(account_sid, safe='')}" \
                    "/Messages.json"

    @classmethod
    def from_config(cls, name: str, settings: ProviderSettings) -> TwilioProvider:
        _check_keys(settings, cls.keys)
        account_sid = _text(settings, "account_sid", required=True)
        assert account_sid is not None
        sender = _text(settings, "from", required=False)
        service = _text(settings, "messaging_service_sid", required=False)
        if sender is None and service is None:
            raise ProviderConfigError(
                f"{settings.where}: `from` (the sending number) or `messaging_service_sid` "
                "is required")
        if sender is not None and service is not None:
            raise ProviderConfigError(
                f"{settings.where}: give `from` or `messaging_service_sid`, not both")
        token = settings.secret("auth_token")
        assert token is not None
        base_url = settings.get("base_url", TWILIO_BASE_URL)
        parse_url(base_url, where=settings.where, key="base_url")
        return cls(name, account_sid=account_sid,
                   auth_token=_header_value(settings, "auth_token", token),
                   sender=sender, messaging_service_sid=service, base_url=base_url,
                   **cls._common(settings))

    def build_request(self, message: OutgoingMessage, body: str, title: str | None,
                      data: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
        form = {"To": message.to, "Body": body}
        if self.sender is not None:
            form["From"] = self.sender
        else:
            assert self.messaging_service_sid is not None
            form["MessagingServiceSid"] = self.messaging_service_sid
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                   "Authorization": self._authorization,
                   "I-Twilio-Idempotency-Token": str(message.message_id)}
        return self.path, urllib.parse.urlencode(form).encode("ascii"), headers

    def provider_id(self, answer: Any) -> str | None:
        return _as_id(answer.get("sid")) if isinstance(answer, dict) else None


@register("fcm")
class FcmProvider(HttpProvider):
    """Push through Firebase Cloud Messaging's HTTP v1 API, with a static access token."""

    type_name = "fcm"
    served = frozenset({"push"})
    keys = frozenset({"base_url", "project_id", "access_token_env"})

    def __init__(self, name: str, *, project_id: str, access_token: str,
                 base_url: str = FCM_BASE_URL, timeout: float = DEFAULT_TIMEOUT,
                 concurrency: int = DEFAULT_CONCURRENCY, rate: float | None = None) -> None:
        origin = parse_url(base_url, where=f"[providers.{name}]", key="base_url")
        super().__init__(name, origin, timeout=timeout, concurrency=concurrency, rate=rate)
        self.project_id = project_id
        self._authorization = f"Bearer {access_token}"
        self.path = f"/v1/projects/{urllib.parse.quote(project_id, safe='')}/messages:send"

    @classmethod
    def from_config(cls, name: str, settings: ProviderSettings) -> FcmProvider:
        _check_keys(settings, cls.keys)
        project_id = _text(settings, "project_id", required=True)
        assert project_id is not None
        token = settings.secret("access_token")
        assert token is not None
        base_url = settings.get("base_url", FCM_BASE_URL)
        parse_url(base_url, where=settings.where, key="base_url")
        return cls(name, project_id=project_id,
                   access_token=_header_value(settings, "access_token", token),
                   base_url=base_url, **cls._common(settings))

    def build_request(self, message: OutgoingMessage, body: str, title: str | None,
                      data: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
        notification = {"body": body} if title is None else {"title": title, "body": body}
        document = {"message": {"token": message.to, "notification": notification,
                                "data": {**data, "message_id": str(message.message_id)}}}
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Authorization": self._authorization}
        return self.path, json.dumps(document, ensure_ascii=False).encode("utf-8"), headers

    def provider_id(self, answer: Any) -> str | None:
        return _as_id(answer.get("name")) if isinstance(answer, dict) else None
