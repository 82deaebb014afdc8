"""The smtp provider end to end, against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from overture.channels.identity import message_id
from overture.channels.mime import build_email
from overture.channels.providers import (
    OutgoingMessage,
    Provider,
    ProviderConfigError,
    RawEmail,
    SendResult,
    known_types,
    provider_from_config,
)
from overture.channels.render import RenderedMessage
from overture.channels.smtp import SmtpProvider
from support.smtp import SmtpServer, free_port, self_signed_certificate

ENV = {"SMTP_USER": "ana", "SMTP_PASSWORD": "s3cret", "WRONG_PASSWORD": "hunter2"}


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def providers() -> Iterator[list[SmtpProvider]]:
    built: list[SmtpProvider] = []
    yield built
    for provider in built:
        provider.close()


@pytest.fixture
def make(providers: list[SmtpProvider]) -> Any:
    def make(port: int, **settings: Any) -> SmtpProvider:
        section = {"type": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
                   "helo": "client.test", "timeout": 5, **settings}
        provider = provider_from_config("mail", section, ENV)
        assert isinstance(provider, SmtpProvider)
        providers.append(provider)
        return provider
    return make


def email(to: str = "ana@example.com", key: str | int = 1, *,
          subject: str = "Spring sale: 20 % off, café ☕") -> OutgoingMessage:
    mid = message_id("run-1", "mail", key)
    payload = build_email(
        RenderedMessage(subject=subject, html=f"<p>Bonjour {key}, <b>café</b> ☕</p>",
                        text=f"Bonjour {key}, café ☕\n.\n.leading dot line"),
        from_='"Shop" <news@shop.example>', to=to, message_id=str(mid))
    return OutgoingMessage(mid, "email", to, payload, campaign="spring")


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


# ---- delivery ----
def test_a_built_message_arrives_byte_for_byte(make: Any) -> None:
    outgoing = email()
    assert isinstance(outgoing.payload, RawEmail)  # what the delivery engine sends
    with SmtpServer() as server:
        assert make(server.port).send(outgoing).ok
        [received] = server.received
    assert received.envelope_from == "news@shop.example"
    assert received.raw.replace(b"\r\n", b"\n") == outgoing.payload.data.replace(b"\r\n", b"\n")


def test_message_arrives_with_headers_and_body_intact(make: Any) -> None:
    built = email()
    assert isinstance(built.payload, RawEmail)
    payload = built.payload.parsed()
    payload["Bcc"] = "hidden@example.com"      # never transmitted, as smtplib does
    outgoing = dataclasses.replace(built, payload=payload)
    with SmtpServer() as server:
        result = make(server.port).send(outgoing)
        assert result == SendResult.sent("2.0.0 Ok: queued as Q000001")
        [received] = server.received
        [arrived] = server.messages
    assert received.envelope_from == "news@shop.example"      # the From header's address
    assert received.rcpt_tos == ["ana@example.com"]
    assert not received.tls and received.login is None
    sent = outgoing.payload
    for header in ("From", "To", "Subject", "Message-ID", "Date"):
        assert str(arrived[header]) == str(sent[header]), header
    assert arrived["Subject"] == "Spring sale: 20 % off, café ☕"
    assert "Bcc" not in arrived and b"hidden@example.com" not in received.raw
    assert body(arrived, "plain") == body(sent, "plain").replace("\r\n", "\n")
    assert ".\n.leading dot line" in body(arrived, "plain")    # dot-stuffing undone
    assert body(arrived, "html") == body(sent, "html").replace("\r\n", "\n")


def test_provider_id_falls_back_to_message_id_when_the_reply_is_bare(make: Any) -> None:
    class Bare(SmtpServer):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await super().handle_DATA(server, session, envelope)
            return "250"

    outgoing = email()
    with Bare() as server:
        result = make(server.port).send(outgoing)
    assert result.ok and result.provider_id == outgoing.payload["Message-ID"]


def test_200_messages_over_4_connections_arrive_exactly_once(make: Any) -> None:
    with SmtpServer() as server:
        provider = make(server.port, concurrency=4)
        messages = [email(f"p{i}@example.com", i) for i in range(200)]
        with ThreadPoolExecutor(8) as pool:        # more callers than connections
            results = list(pool.map(provider.send, messages))
        assert server.count == 200
        received = server.received
        total, peak = server.connections_total, server.connections_max
    assert all(result.ok for result in results), [r for r in results if not r.ok][:3]
    assert len({result.provider_id for result in results}) == 200
    counts = Counter(rcpt for item in received for rcpt in item.rcpt_tos)
    assert counts == Counter(f"p{i}@example.com" for i in range(200))
    assert peak <= 4
    assert total <= 4                               # connections are reused, not reopened


# ---- classification ----
def test_550_is_permanent_with_code_and_the_connection_is_kept(make: Any) -> None:
    with SmtpServer(fail_rcpt={"nobody@example.com": (550, "5.1.1 no such user")}) as server:
        provider = make(server.port)
        refused = provider.send(email("nobody@example.com"))
        accepted = provider.send(email("ana@example.com"))
        assert server.count == 1 and server.received[0].rcpt_tos == ["ana@example.com"]
        assert server.connections_total == 1        # RSET, then the same connection
    assert not refused.ok and not refused.transient
    assert refused.error is not None and refused.error.startswith("550 5.1.1 no such user")
    assert "nobody@example.com" in refused.error
    assert accepted.ok


def test_451_is_transient_and_the_retry_succeeds_on_a_new_connection(make: Any) -> None:
    with SmtpServer(fail_rcpt={"ana@example.com": (451, "4.7.1 greylisted, try later")},
                    fail_times={"ana@example.com": 1}) as server:
        provider = make(server.port)
        first = provider.send(email())
        second = provider.send(email())
        assert server.rcpt_refused == [("ana@example.com", 451)]
        assert server.count == 1
        assert server.connections_total == 2
    assert not first.ok and first.transient
    assert first.error is not None and first.error.startswith("451 4.7.1 greylisted")
    assert second.ok


def test_connection_dropped_mid_message_is_transient_then_the_next_send_reconnects(
        make: Any) -> None:
    with SmtpServer(hangup_rcpt={"ana@example.com"}) as server:
        provider = make(server.port)
        dropped = provider.send(email())                  # no exception
        server.hangup_rcpt.clear()
        again = provider.send(email())
        assert server.count == 1
        assert server.connections_total == 2
    assert not dropped.ok and dropped.transient
    assert dropped.error is not None and "127.0.0.1" in dropped.error
    assert again.ok


def test_connection_the_server_closed_while_idle_is_replaced_without_failing(
        make: Any) -> None:
    with SmtpServer(drop_after=1) as server:
        provider = make(server.port)
        results = [provider.send(email(f"p{i}@example.com", i)) for i in range(3)]
        assert server.count == 3
        assert server.connections_total == 3
    assert [result.ok for result in results] == [True, True, True]


def test_nothing_listening_is_transient(make: Any) -> None:
    result = make(free_port()).send(email())
    assert not result.ok and result.transient
    assert result.error is not None and "cannot connect to 127.0.0.1" in result.error


def test_close_quits_every_pooled_connection(make: Any) -> None:
    with SmtpServer() as server:
        provider = make(server.port, concurrency=3)
        with ThreadPoolExecutor(3) as pool:
            assert all(r.ok for r in pool.map(provider.send, [email(key=i) for i in range(30)]))
        opened = server.connections_total
        provider.close()
        assert server.quits == opened >= 1
        assert provider.send(email()).ok                    # reopens on demand
        assert server.connections_total == opened + 1


def test_what_is_not_an_email_is_refused_permanently(make: Any) -> None:
    provider = make(free_port())
    sms = OutgoingMessage(message_id("r", "a", 1), "sms", "+33600000000", {"body": "hi"})
    result = provider.send(sms)
    assert not result.ok and not result.transient and "email" in (result.error or "")
    built = email()
    assert isinstance(built.payload, RawEmail)
    no_from = dataclasses.replace(built, payload=built.payload.parsed())
    assert isinstance(no_from.payload, EmailMessage)
    del no_from.payload["From"]
    result = provider.send(no_from)
    assert not result.ok and not result.transient and "From" in (result.error or "")


# ---- authentication ----
def test_auth_with_good_credentials(make: Any) -> None:
    with SmtpServer(users={"ana": "s3cret"}) as server:
        result = make(server.port, username_env="SMTP_USER",
                      password_env="SMTP_PASSWORD").send(email())
        assert result.ok
        assert [item.login for item in server.received] == ["ana"]


def test_auth_with_a_wrong_password_is_permanent_and_says_so(make: Any) -> None:
    with SmtpServer(users={"ana": "s3cret"}) as server:
        result = make(server.port, username_env="SMTP_USER",
                      password_env="WRONG_PASSWORD").send(email())
        assert server.count == 0
    assert not result.ok and not result.transient
    assert result.error is not None
    assert "refused the credentials" in result.error and "535" in result.error
    assert "hunter2" not in result.error


def test_auth_required_but_no_credentials_is_permanent(make: Any) -> None:
    with SmtpServer(users={"ana": "s3cret"}) as server:
        result = make(server.port).send(email())
        assert server.count == 0
    assert not result.ok and not result.transient
    assert result.error is not None and result.error.startswith("530")


# ---- TLS ----
def test_starttls_with_auth_and_verify_false(make: Any, cert: tuple[Path, Path]) -> None:
    with SmtpServer(tls="starttls", cert=cert, users={"ana": "s3cret"}) as server:
        result = make(server.port, security="starttls", verify=False,
                      username_env="SMTP_USER", password_env="SMTP_PASSWORD").send(email())
        assert result.ok
        [received] = server.received
    assert received.tls and received.login == "ana"


def test_implicit_tls_with_verify_false(make: Any, cert: tuple[Path, Path]) -> None:
    with SmtpServer(tls="tls", cert=cert) as server:
        provider = make(server.port, security="tls", verify=False)
        assert provider.send(email()).ok and provider.send(email(key=2)).ok
        assert [item.tls for item in server.received] == [True, True]
        assert server.connections_total == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_self_signed_certificate_fails_verification_permanently(
        make: Any, cert: tuple[Path, Path], security: str) -> None:
    with SmtpServer(tls=security, cert=cert) as server:  # type: ignore[arg-type]
        result = make(server.port, security=security).send(email())
        assert server.count == 0
    assert not result.ok and not result.transient
    assert result.error is not None
    assert "certificate" in result.error and "ca_file" in result.error


def test_self_signed_certificate_trusted_with_ca_file(make: Any,
                                                      cert: tuple[Path, Path]) -> None:
    with SmtpServer(tls="tls", cert=cert) as server:
        result = make(server.port, security="tls", ca_file=str(cert[0])).send(email())
        assert result.ok and server.count == 1


def test_starttls_not_offered_is_permanent(make: Any) -> None:
    with SmtpServer() as server:
        result = make(server.port, security="starttls").send(email())
        assert server.count == 0
    assert not result.ok and not result.transient and "STARTTLS" in (result.error or "")


# ---- configuration ----
def test_registered_with_defaults() -> None:
    assert "smtp" in known_types()
    provider = provider_from_config("mail", {"type": "smtp", "host": "smtp.example.com"}, {})
    assert isinstance(provider, SmtpProvider) and isinstance(provider, Provider)
    assert provider.name == "mail" and provider.channels == frozenset({"email"})
    assert (provider.port, provider.security, provider.concurrency) == (587, "starttls", 4)
    assert provider.rate is None and provider.timeout == 30 and provider.verify is True
    for security, port in (("tls", 465), ("none", 25)):
        built = provider_from_config("m", {"type": "smtp", "host": "h", "security": security,
                                           "rate": 200}, {})
        assert isinstance(built, SmtpProvider)
        assert built.port == port and built.rate == 200.0 and isinstance(built.rate, float)


@pytest.mark.parametrize(("settings", "key"), [
    ({"security": "ssl"}, "`security`"),
    ({"concurrency": 0}, "`concurrency`"),
    ({"concurrency": 65}, "`concurrency`"),
    ({"concurrency": True}, "`concurrency`"),
    ({"username_env": "SMTP_USER"}, "`username_env` is given but `password_env`"),
    ({"password_env": "SMTP_PASSWORD"}, "`password_env` is given but `username_env`"),
    ({"port": "587"}, "`port`"),
    ({"port": 70000}, "`port`"),
    ({"rate": 0}, "`rate`"),
    ({"rate": "fast"}, "`rate`"),
    ({"timeout": -1}, "`timeout`"),
    ({"verify": "yes"}, "`verify`"),
    ({"helo": "my host"}, "`helo`"),
    ({"ca_file": "/nonexistent/ca.pem"}, "`ca_file`"),
    ({"ca_file": "x.pem", "verify": False}, "`ca_file`"),
    ({"hots": "typo"}, "`hots`"),
    ({"host": None}, "`host`"),
    ({"host": "smtp.example.com:587"}, "`host`"),
])
def test_configuration_errors_name_the_section_and_key(settings: dict[str, Any],
                                                       key: str) -> None:
    section: dict[str, Any] = {"type": "smtp", "host": "smtp.example.com", **settings}
    if section["host"] is None:
        del section["host"]
    with pytest.raises(ProviderConfigError) as info:
        provider_from_config("mail", section, ENV)
    assert "[providers.mail]" in str(info.value)
    assert key in str(info.value)


def test_ca_file_relative_to_the_workspace(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(cert[0].read_bytes())
    provider = provider_from_config("mail", {"type": "smtp", "host": "h",
                                             "ca_file": "certs/ca.pem"},
                                    {}, state_dir=tmp_path / ".overture")
    assert isinstance(provider, SmtpProvider)
    assert provider.ca_file == tmp_path / "certs" / "ca.pem"
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(ProviderConfigError, match="`ca_file`"):
        provider_from_config("mail", {"type": "smtp", "host": "h", "ca_file": "bad.pem"},
                             {}, state_dir=tmp_path / ".overture")
