"""A real SMTP server for tests: aiosmtpd on loopback, with faults to inject.

    with SmtpServer() as server:
        ...send to 127.0.0.1:server.port...
        assert server.count == 1
        assert server.messages[0]["Subject"] == "Hello"

Every accepted message is kept as a `Received` (envelope sender, recipients, raw bytes,
and whether it came over TLS / which login sent it). Connections are counted by the
server: a connection counts from its first EHLO/HELO until it closes (aiosmtpd's own
start-up probe sends none, so it is not counted).

Faults, all optional and changeable while the server runs:

- `fail_rcpt = {"x@example.com": (550, "5.1.1 no such user")}`: RCPT TO for that address
  is answered with that reply; `fail_times = {"x@example.com": 2}` limits it to the first
  two attempts (then the address is accepted);
- `drop_after = N`: a connection is closed by the server right after its N-th message
  is accepted (the client learns it at its next command);
- `hangup_rcpt = {"x@example.com"}`: the server reads the DATA of a message to that
  address, then drops the connection without answering (and keeps nothing);
- `users = {"ana": "s3cret"}`: AUTH required (PLAIN/LOGIN), with these credentials;
- `tls = "starttls" | "tls"` with `cert = self_signed_certificate(tmp_path)`: STARTTLS
  required, or implicit TLS from the first byte.
"""

from __future__ import annotations

import asyncio
import email.policy
import json
import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now (aiosmtpd cannot bind port 0 and report it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def smtp_provider_config(smtp_port: int, tracking_base_url: str | None = None, *,
                         tracking: Mapping[str, object] | None = None,
                         **provider: object) -> str:
    """The overture.toml lines that send the `email` channel through provider `mail`: the
    SMTP server on the loopback at `smtp_port` (an `SmtpServer`), without TLS.

    `provider` adds keys to `[providers.mail]` (`concurrency=4`). `tracking_base_url`
    writes a `[tracking]` section (which `retail_workspace` puts in place of the default
    one), and `tracking` more keys of it (`{"machine_window_seconds": 0}`). Values are
    written as JSON, which for strings, numbers and booleans is TOML.
    """
    if tracking and tracking_base_url is None:
        raise ValueError("tracking keys need a tracking_base_url")
    lines = ["[channels]", 'email = "mail"', "", "[providers.mail]", 'type = "smtp"',
             f"host = {json.dumps(LOOPBACK)}", f"port = {smtp_port}", 'security = "none"',
             *(f"{key} = {json.dumps(value)}" for key, value in provider.items())]
    if tracking_base_url is not None:
        lines += ["", "[tracking]", f"base_url = {json.dumps(tracking_base_url)}",
                  *(f"{key} = {json.dumps(value)}" for key, value in (tracking or {}).items())]
    return "\n".join(lines) + "\n"


def self_signed_certificate(directory: Path, name: str = LOOPBACK) -> tuple[Path, Path]:
    """(certificate, key) PEM files of a fresh self-signed certificate for `name`.

    The certificate names `name` as an IP address or DNS name (subjectAltName), so a
    client that trusts it (as its `ca_file`) also passes the host name check.
    Made with the cryptography package when installed, else the `openssl` command.
    """
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _cryptography_certificate(cert, key, name)
    except ImportError:
        _openssl_certificate(cert, key, name)
    return cert, key


def _is_ip(name: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
    except OSError:
        return False
    return True


def _openssl_certificate(cert: Path, key: Path, name: str) -> None:
    san = f"IP:{name}" if _is_ip(name) else f"DNS:{name}"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)


def _cryptography_certificate(cert: Path, key: Path, name: str) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    alt = (x509.IPAddress(ipaddress.ip_address(name)) if _is_ip(name) else x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256()))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


class Received(NamedTuple):
    """One accepted message, as the server saw it."""

    envelope_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool = False
    login: str | None = None


class _Protocol(SMTP):
    """aiosmtpd's SMTP session, counted by its server and aware of implicit TLS."""

    def __init__(self, owner: SmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.counted = False
        self.tls = False
        self.messages = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if transport.get_extra_info("ssl_object") is not None:
            self.tls = True          # implicit TLS, or the transport STARTTLS made
        self.owner._live.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.owner._live.discard(self)
        if self.counted:
            self.owner._connection_closed()
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, owner: SmtpServer, **kwargs: Any) -> None:
        super().__init__(owner, **kwargs)
        self.owner = owner

    def factory(self) -> SMTP:
        with warnings.catch_warnings():      # AUTH without TLS: wanted in a test
            warnings.simplefilter("ignore")
            return _Protocol(self.owner, self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """An aiosmtpd server on a free loopback port; a context manager.

    `received` holds what arrived, raw; `messages` the same parsed (policy.default).
    """

    def __init__(self, host: str = LOOPBACK, *,
                 users: dict[str, str] | None = None,
                 tls: Literal["starttls", "tls"] | None = None,
                 cert: tuple[Path, Path] | None = None,
                 fail_rcpt: dict[str, tuple[int, str]] | None = None,
                 fail_times: dict[str, int] | None = None,
                 drop_after: int | None = None,
                 hangup_rcpt: Iterable[str] = ()) -> None:
        if tls is not None and cert is None:
            raise ValueError("tls needs cert=(certificate, key): see self_signed_certificate")
        self.host = host
        self.port = 0
        self.users = users
        self.tls = tls
        self.cert = cert
        self.fail_rcpt: dict[str, tuple[int, str]] = dict(fail_rcpt or {})
        self.fail_times: dict[str, int] = dict(fail_times or {})
        self.drop_after = drop_after
        self.hangup_rcpt: set[str] = set(hangup_rcpt)
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.rcpt_refused: list[tuple[str, int]] = []   # (address, code) answered
        self.connections_total = 0
        self.connections_open = 0
        self.connections_max = 0
        self.quits = 0
        self._queue_ids = 0
        self._controller: _Controller | None = None
        self._live: set[_Protocol] = set()     # open sessions (the server's thread only)

    # ---- life ----
    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {"server_hostname": "smtp.test", "ready_timeout": 10.0}
        if self.tls is not None:
            assert self.cert is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
            if self.tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
        if self.users is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.tls == "starttls")
        for _ in range(5):           # the free port may be taken before we bind it
            self.port = free_port(self.host)
            controller = _Controller(self, hostname=self.host, port=self.port, **kwargs)
            try:
                controller.start()
            except OSError:
                continue
            self._controller = controller
            return self
        raise RuntimeError("could not bind a free port for the SMTP server")

    def stop(self) -> None:
        """Stop listening and cut the sessions still open (a client's pool, say)."""
        if self._controller is not None:
            self._controller.loop.call_soon_threadsafe(self._cut_sessions)
            self._controller.stop()
            self._controller = None

    def _cut_sessions(self) -> None:
        for protocol in list(self._live):
            if protocol.transport is not None:
                protocol.transport.abort()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # ---- what arrived ----
    @property
    def count(self) -> int:
        with self._lock:
            return len(self.received)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            raws = [item.raw for item in self.received]
        parser = BytesParser(policy=email.policy.default)
        # CRLF as stored on disk (LF), so that get_content() gives "\n" line ends
        return [cast(EmailMessage, parser.parsebytes(raw.replace(b"\r\n", b"\n")))
                for raw in raws]

    # ---- aiosmtpd hooks (on the server's thread) ----
    def _connection_closed(self) -> None:
        with self._lock:
            self.connections_open -= 1

    def _count_connection(self, server: _Protocol) -> None:
        if not server.counted:
            server.counted = True
            with self._lock:
                self.connections_total += 1
                self.connections_open += 1
                self.connections_max = max(self.connections_max, self.connections_open)

    async def handle_EHLO(self, server: _Protocol, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        self._count_connection(server)
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server: _Protocol, session: Session, envelope: Envelope,
                          hostname: str) -> str:
        self._count_connection(server)
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_QUIT(self, server: _Protocol, session: Session,
                          envelope: Envelope) -> str:
        with self._lock:
            self.quits += 1
        return "221 Bye"

    async def handle_RCPT(self, server: _Protocol, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        with self._lock:
            failure = self.fail_rcpt.get(address)
            if failure is not None and address in self.fail_times:
                if self.fail_times[address] <= 0:
                    failure = None
                else:
                    self.fail_times[address] -= 1
            if failure is not None:
                self.rcpt_refused.append((address, failure[0]))
        if failure is not None:
            return f"{failure[0]} {failure[1]}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: _Protocol, session: Session,
                          envelope: Envelope) -> str:
        if self.hangup_rcpt & set(envelope.rcpt_tos):
            assert server.transport is not None
            server.transport.abort()                 # no answer, nothing kept
            await server.loop.create_future()        # cancelled as the connection goes
        raw = envelope.original_content or b""
        auth = session.auth_data
        login = auth.login if isinstance(auth, LoginPassword) else None
        with self._lock:
            self._queue_ids += 1
            queue_id = f"Q{self._queue_ids:06d}"
            self.received.append(Received(
                str(envelope.mail_from), list(envelope.rcpt_tos), bytes(raw), server.tls,
                login.decode() if isinstance(login, bytes) else login))
        server.messages += 1
        if self.drop_after is not None and server.messages >= self.drop_after:
            transport = server.transport
            assert transport is not None
            server.loop.call_soon(transport.close)   # after the 250 below is written
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            login = auth_data.login.decode()
            if self.users.get(login) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)
