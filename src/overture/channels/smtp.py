"""The `smtp` provider: email through an SMTP server (spec §8).

```toml
[providers.mail]
type = "smtp"
host = "smtp.example.com"
port = 587                    # default: 587 for starttls, 465 for tls, 25 for none
security = "starttls"         # none | starttls | tls
username_env = "SMTP_USER"    # both or neither: AUTH only when both are given
password_env = "SMTP_PASSWORD"
concurrency = 4               # connections, 1..64
rate = 200                    # messages per second (enforced by the caller), or absent
timeout = 30                  # seconds, for connecting and for every command
helo = "mta.example.com"      # the name given in EHLO; default: this machine's FQDN
verify = true                 # TLS certificate verification; false for local test servers
ca_file = "certs/ca.pem"      # trusted certificates, relative to the workspace
```

`send` is called from up to `concurrency` threads at once. Connections are pooled: at
most `concurrency` are open, each opened on first need (connect, STARTTLS, EHLO, AUTH)
and reused for any number of messages. Every message is its own transaction
(MAIL FROM = the From address, one RCPT TO, DATA), so the server's reply to DATA,
which usually names its queue id, becomes the provider id.

Nothing raises for a delivery problem; the answer is classified (see `send`). A pooled
connection the server closed while it was idle (servers time idle clients out) fails at
MAIL FROM, before anything was delivered: the message is then tried once more on a fresh
connection instead of failing.
"""

from __future__ import annotations

import contextlib
import copy
import email.policy
import io
import math
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from overture.channels.providers import (
    OutgoingMessage,
    ProviderConfigError,
    ProviderSettings,
    RawEmail,
    SendResult,
    register,
)

SECURITY_MODES = ("none", "starttls", "tls")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
MAX_CONCURRENCY = 64
PROVIDER_ID_LENGTH = 200
SETTINGS = frozenset({
    "type", "host", "port", "security", "username_env", "password_env", "concurrency",
    "rate", "timeout", "helo", "verify", "ca_file",
})


def _reply_text(reply: bytes | str) -> str:
    """A server reply as one line of text."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _smtp_error(code: int, reply: bytes | str) -> str:
    return f"{code} {_reply_text(reply)}".strip()


class _Stale(Exception):
    """A pooled connection that turned out closed at MAIL FROM: nothing was sent."""


@dataclass(frozen=True)
class _Envelope:
    sender: str
    recipient: str
    data: bytes
    international: bool            # needs SMTPUTF8
    message_id: str | None

    @classmethod
    def of(cls, message: OutgoingMessage) -> _Envelope:
        payload = message.payload
        if message.channel == "email" and isinstance(payload, RawEmail):
            return cls._of_raw(message, payload)
        if message.channel != "email" or not isinstance(payload, EmailMessage):
            raise ValueError(f"the smtp provider sends email, not {message.channel}")
        sender = _from_address(payload)
        recipient = message.to.strip()
        if not recipient or any(c in recipient for c in "\r\n<>"):
            raise ValueError(f"not a recipient address: {message.to!r}")
        international = not (sender.isascii() and recipient.isascii())
        flat = payload
        if "Bcc" in payload or "Resent-Bcc" in payload:   # as smtplib.send_message does
            flat = copy.copy(payload)
            del flat["Bcc"]
            del flat["Resent-Bcc"]
        with io.BytesIO() as out:
            if international:
                policy = payload.policy
                utf8 = (policy.clone(utf8=True) if isinstance(policy, EmailPolicy)
                        else email.policy.SMTPUTF8)
                generator = BytesGenerator(out, policy=utf8)
            else:
                generator = BytesGenerator(out)
            generator.flatten(flat, linesep="\r\n")
            data = out.getvalue()
        header = payload.get("Message-ID")
        message_id = str(header).strip() if header is not None else ""
        return cls(sender=sender, recipient=recipient, data=data, international=international,
                   message_id=message_id or None)


    @classmethod
    def _of_raw(cls, message: OutgoingMessage, payload: RawEmail) -> _Envelope:
        """A message built as bytes by the delivery engine: sent as it is."""
        found = [address for _, address in getaddresses([payload.get("From") or ""])
                 if address]
        sender = found[0] if found else ""
        if not sender or "@" not in sender or any(c in sender for c in "\r\n<> "):
            raise ValueError(f"the From header has no usable address: {payload.get('From')!r}")
        recipient = message.to.strip()
        if not recipient or any(c in recipient for c in "\r\n<>"):
            raise ValueError(f"not a recipient address: {message.to!r}")
        international = not (sender.isascii() and recipient.isascii())
        return cls(sender=sender, recipient=recipient, data=payload.data,
                   international=international, message_id=payload.get("Message-ID"))


def _from_address(payload: EmailMessage) -> str:
    """The envelope sender: the address of the From header."""
    header = payload.get("From")
    if header is None:
        raise ValueError("the message has no From header (the envelope sender comes from it)")
    addresses = getattr(header, "addresses", None)
    if addresses:
        spec = str(addresses[0].addr_spec)
    else:
        found = [address for _, address in getaddresses([str(header)]) if address]
        spec = found[0] if found else ""
    if not spec or "@" not in spec or any(c in spec for c in "\r\n<> "):
        raise ValueError(f"the From header has no usable address: {str(header)!r}")
    return spec


class _Connection:
    """One pooled SMTP session."""

    def __init__(self, smtp: smtplib.SMTP, generation: int) -> None:
        self.smtp = smtp
        self.generation = generation
        self.reused = False


@register("smtp")
class SmtpProvider:
    """Sends email through one SMTP server over a pool of at most `concurrency` connections.

    `send` answers (never raises for a delivery problem):

    - accepted: `sent`, provider id = the server's reply to DATA (its queue id), else the
      Message-ID;
    - a 4xx reply (at connect, EHLO, AUTH, MAIL, RCPT or DATA), a dropped connection,
      a refused or reset connection, a timeout, any other socket error: transient; the
      connection is dropped;
    - a 5xx reply to MAIL, RCPT or DATA: permanent, the error is `"<code> <text> (...)"`;
      the connection is kept after a RSET;
    - credentials refused (535 and any other 5xx to AUTH), STARTTLS or AUTH not offered,
      a certificate that does not verify, a 5xx greeting or EHLO: permanent.
    """

    channels: frozenset[str] = frozenset({"email"})

    def __init__(self, name: str, *, host: str, port: int | None = None,
                 security: str = "starttls", username: str | None = None,
                 password: str | None = None, concurrency: int = 4,
                 rate: float | None = None, timeout: float = 30.0, helo: str | None = None,
                 verify: bool = True, ca_file: Path | None = None) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        self.name = name
        self.host = host
        self.security = security
        self.port = DEFAULT_PORTS[security] if port is None else port
        self.concurrency = concurrency
        self.rate = rate
        self.timeout = timeout
        self.helo = helo
        self.verify = verify
        self.ca_file = ca_file
        self._username = username
        self._password = password
        self._context = None if security == "none" else self._tls_context()
        self._cond = threading.Condition()
        self._idle: list[_Connection] = []    # most recently used last
        self._open = 0                        # connections open or being opened
        self._generation = 0                  # bumped by close(): older connections quit
        self._local_hostname: str | None = helo

    def __repr__(self) -> str:
        return (f"SmtpProvider({self.name!r}, {self.host}:{self.port}, "
                f"security={self.security}, concurrency={self.concurrency})")

    # ---- configuration ----
    @classmethod
    def from_config(cls, name: str, settings: ProviderSettings) -> SmtpProvider:
        where = settings.where
        unknown = sorted(set(settings.section) - SETTINGS)
        if unknown:
            raise ProviderConfigError(
                f"{where}: unknown setting `{unknown[0]}` for type \"smtp\"; settings: "
                f"{', '.join(sorted(SETTINGS - {'type'}))}")

        host = settings.require("host")
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
            raise ProviderConfigError(f"{where}: `host` must be a host name or address")
        if host.count(":") == 1:
            raise ProviderConfigError(
                f"{where}: `host` is a name or address alone; give the port with `port`")

        security = settings.get("security", "starttls")
        if security not in SECURITY_MODES:
            raise ProviderConfigError(
                f"{where}: `security` must be one of {', '.join(SECURITY_MODES)} "
                f"(got {security!r})")

        port = settings.get("port")
        if port is not None and (not _is_int(port) or not 1 <= port <= 65535):
            raise ProviderConfigError(
                f"{where}: `port` must be a whole number from 1 to 65535 (got {port!r})")

        username = settings.secret("username", required=False)
        password = settings.secret("password", required=False)
        if (username is None) != (password is None):
            given, missing = (("username", "password") if password is None
                              else ("password", "username"))
            raise ProviderConfigError(
                f"{where}: `{given}_env` is given but `{missing}_env` is not: "
                "authentication needs both (or neither, to send without AUTH)")

        concurrency = settings.get("concurrency", 4)
        if not _is_int(concurrency) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ProviderConfigError(
                f"{where}: `concurrency` must be a whole number of connections from 1 to "
                f"{MAX_CONCURRENCY} (got {concurrency!r})")

        rate = settings.get("rate")
        if rate is not None and not _is_positive_number(rate):
            raise ProviderConfigError(
                f"{where}: `rate` must be a positive number of messages per second "
                f"(got {rate!r}); leave it out for no limit")

        timeout = settings.get("timeout", 30)
        if not _is_positive_number(timeout):
            raise ProviderConfigError(
                f"{where}: `timeout` must be a positive number of seconds (got {timeout!r})")

        helo = settings.get("helo")
        if helo is not None and (not isinstance(helo, str) or not helo
                                 or not helo.isascii() or any(c.isspace() for c in helo)):
            raise ProviderConfigError(
                f"{where}: `helo` must be a host name without spaces (got {helo!r})")

        verify = settings.get("verify", True)
        if not isinstance(verify, bool):
            raise ProviderConfigError(
                f"{where}: `verify` must be true or false (got {verify!r})")

        ca_file = settings.get("ca_file")
        ca_path: Path | None = None
        if ca_file is not None:
            if not isinstance(ca_file, str) or not ca_file:
                raise ProviderConfigError(f"{where}: `ca_file` must be a file path")
            if security == "none":
                raise ProviderConfigError(
                    f"{where}: `ca_file` is given but `security = \"none\"` uses no TLS")
            if not verify:
                raise ProviderConfigError(
                    f"{where}: `ca_file` is given but `verify = false` checks no certificate")
            ca_path = Path(ca_file).expanduser()
            if not ca_path.is_absolute() and settings.state_dir is not None:
                ca_path = settings.state_dir.parent / ca_path   # relative to the workspace
            if not ca_path.is_file():
                raise ProviderConfigError(f"{where}: `ca_file` {ca_path} is not a file")

        try:
            return cls(name, host=host.strip(), port=port, security=security,
                       username=username, password=password, concurrency=concurrency,
                       rate=None if rate is None else float(rate), timeout=float(timeout),
                       helo=helo, verify=verify, ca_file=ca_path)
        except (ssl.SSLError, OSError) as error:      # from loading ca_file
            raise ProviderConfigError(
                f"{where}: `ca_file` {ca_path} holds no usable certificate: {error}") from None

    def _tls_context(self) -> ssl.SSLContext:
        cafile = None if self.ca_file is None else str(self.ca_file)
        context = ssl.create_default_context(cafile=cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    # ---- sending ----
    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            envelope = _Envelope.of(message)
        except ValueError as error:
            return SendResult.failed(str(error))
        while True:
            try:
                connection = self._acquire()
            except Exception as error:
                result = self._connect_failure(error)
                if result is None:
                    raise
                return result
            try:
                result, keep = self._transact(connection, envelope)
            except _Stale:
                self._discard(connection)
                continue           # the idle connection had been closed: try another
            except (smtplib.SMTPException, OSError) as error:
                self._discard(connection)
                return self._session_failure(error)
            except BaseException:
                self._discard(connection)
                raise
            if keep:
                self._release(connection)
            else:
                self._discard(connection, polite=True)
            return result

    def _transact(self, connection: _Connection,
                  envelope: _Envelope) -> tuple[SendResult, bool]:
        """One MAIL/RCPT/DATA transaction; the result and whether to keep the connection."""
        smtp = connection.smtp
        options: list[str] = []
        if smtp.has_extn("size"):
            options.append(f"SIZE={len(envelope.data)}")
        if envelope.international:
            if not smtp.has_extn("smtputf8"):
                return SendResult.failed(
                    f"{self._where}: the address {envelope.recipient} or {envelope.sender} "
                    "is not ASCII and the server does not offer SMTPUTF8"), True
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        elif not envelope.data.isascii() and smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")

        reply: bytes | str
        try:
            code, reply = smtp.mail(envelope.sender, options)
        except (smtplib.SMTPServerDisconnected, OSError):
            if connection.reused:
                raise _Stale from None
            raise
        if code == 421 and connection.reused:
            raise _Stale                     # the server timed the idle connection out
        if code != 250:
            return self._refused(smtp, code, reply, f"sender <{envelope.sender}>")

        code, reply = smtp.rcpt(envelope.recipient)
        if code not in (250, 251):
            return self._refused(smtp, code, reply, f"recipient <{envelope.recipient}>")

        try:
            code, reply = smtp.data(envelope.data)
        except smtplib.SMTPDataError as error:          # DATA itself refused (not 354)
            code, reply = error.smtp_code, error.smtp_error
        if code != 250:
            return self._refused(smtp, code, reply, "message data")

        provider_id = _reply_text(reply)[:PROVIDER_ID_LENGTH] or envelope.message_id
        return SendResult.sent(provider_id=provider_id), True

    def _refused(self, smtp: smtplib.SMTP, code: int, reply: bytes | str,
                 what: str) -> tuple[SendResult, bool]:
        error = f"{_smtp_error(code, reply)} ({what} refused by {self.host})"
        if 500 <= code < 600:
            try:
                keep = smtp.rset()[0] == 250
            except (smtplib.SMTPException, OSError):
                keep = False
            return SendResult.failed(error), keep
        # 4xx, or an answer no server should give: try again later, on a new connection
        return SendResult.failed(error, transient=True), False

    def _session_failure(self, error: smtplib.SMTPException | OSError) -> SendResult:
        """A failure in the middle of a transaction: the connection is gone."""
        if isinstance(error, smtplib.SMTPResponseException):
            return SendResult.failed(
                f"{_smtp_error(error.smtp_code, error.smtp_error)} (from {self.host})",
                transient=not 500 <= error.smtp_code < 600)
        if isinstance(error, smtplib.SMTPServerDisconnected):
            return SendResult.failed(
                f"{self.host}:{self.port} closed the connection during the transaction "
                f"({error or 'disconnected'})", transient=True)
        return SendResult.failed(
            f"connection to {self.host}:{self.port} failed during the transaction: "
            f"{_describe(error)}", transient=True)

    def _connect_failure(self, error: Exception) -> SendResult | None:
        """The answer for a connection that could not be opened (None: not ours, raise)."""
        at = f"{self.host}:{self.port}"
        if isinstance(error, smtplib.SMTPAuthenticationError):
            text = _smtp_error(error.smtp_code, error.smtp_error)
            if 400 <= error.smtp_code < 500:
                return SendResult.failed(
                    f"{at} could not check the credentials now: {text}", transient=True)
            return SendResult.failed(
                f"{at} refused the credentials of {self._where} (username_env, "
                f"password_env): {text}")
        if isinstance(error, smtplib.SMTPNotSupportedError):
            return SendResult.failed(f"{at}: {error} ({self._where})")
        if isinstance(error, smtplib.SMTPResponseException):   # greeting, EHLO, STARTTLS
            text = _smtp_error(error.smtp_code, error.smtp_error)
            if 500 <= error.smtp_code < 600:
                return SendResult.failed(f"{at} refused the session: {text}")
            return SendResult.failed(f"{at} refused the session for now: {text}",
                                     transient=True)
        if isinstance(error, ssl.SSLCertVerificationError):
            return SendResult.failed(
                f"the TLS certificate of {at} does not verify ({error.verify_message}); "
                f"give the certificate of its authority with `ca_file` in {self._where}, "
                "or `verify = false` for a local test server")
        if isinstance(error, smtplib.SMTPException | OSError):
            return SendResult.failed(f"cannot connect to {at}: {_describe(error)}",
                                     transient=True)
        return None

    @property
    def _where(self) -> str:
        return f"[providers.{self.name}]"

    # ---- the pool ----
    def _acquire(self) -> _Connection:
        with self._cond:
            while True:
                if self._idle:
                    connection = self._idle.pop()
                    connection.reused = True
                    return connection
                if self._open < self.concurrency:
                    self._open += 1
                    generation = self._generation
                    break
                self._cond.wait()
        try:
            return _Connection(self._connect(), generation)
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _release(self, connection: _Connection) -> None:
        with self._cond:
            if connection.generation == self._generation:
                self._idle.append(connection)
                self._cond.notify()
                return
        self._discard(connection, polite=True)     # opened before close()

    def _discard(self, connection: _Connection, *, polite: bool = False) -> None:
        _close(connection.smtp, polite=polite)
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def _connect(self) -> smtplib.SMTP:
        """A new session: connected, TLS as configured, greeted, authenticated."""
        local_hostname = self._local_name()
        smtp: smtplib.SMTP
        # connects and reads the greeting (SMTPConnectError unless 220); the host given
        # here is also the name TLS checks the certificate against
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, local_hostname=local_hostname,
                                    timeout=self.timeout, context=self._context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=local_hostname,
                                timeout=self.timeout)
        try:
            smtp.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer STARTTLS (security = \"starttls\"); "
                        "use `security = \"tls\"` for a TLS port, or \"none\"")
                code, reply = smtp.starttls(context=self._context)
                if code != 220:
                    raise smtplib.SMTPResponseException(code, reply)
                smtp.ehlo()
            if self._username is not None and self._password is not None:
                if not smtp.has_extn("auth"):
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer AUTH, but username_env and "
                        "password_env are given"
                        + (" (many servers offer it only over TLS)"
                           if self.security == "none" else ""))
                try:
                    smtp.login(self._username, self._password)
                except smtplib.SMTPAuthenticationError:
                    raise
                except smtplib.SMTPException as error:
                    if type(error) is not smtplib.SMTPException:
                        raise
                    raise smtplib.SMTPNotSupportedError(   # no mechanism in common
                        f"cannot authenticate: {error} (the server offers "
                        f"{smtp.esmtp_features.get('auth', 'none')})") from None
        except BaseException:
            _close(smtp, polite=False)
            raise
        return smtp

    def _local_name(self) -> str:
        if self._local_hostname is None:
            # smtplib would look the name up again for every connection
            self._local_hostname = socket.getfqdn() or "localhost"
        return self._local_hostname

    def close(self) -> None:
        """Quit every pooled connection; connections in use quit when they come back."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._generation += 1
        for connection in idle:
            self._discard(connection, polite=True)


def _close(smtp: smtplib.SMTP, *, polite: bool) -> None:
    try:
        if polite:
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            smtp.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"timed out ({error})" if str(error) else "timed out"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


__all__ = ["DEFAULT_PORTS", "SECURITY_MODES", "SmtpProvider"]
