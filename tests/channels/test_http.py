"""The HTTP providers (`http`, `twilio`, `fcm`) against a real local server (spec §8)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from overture.channels.http import (
    FcmProvider,
    HttpProvider,
    TwilioProvider,
    WebhookProvider,
    parse_retry_after,
)
from overture.channels.identity import message_id
from overture.channels.providers import (
    OutgoingMessage,
    Provider,
    ProviderConfigError,
    SendResult,
    known_types,
    provider_from_config,
    providers_for_workspace,
)
from support.http_provider import FakeProvider, basic_auth

ENV = {"GW_AUTH": "Bearer s3cret", "TW_TOKEN": "tw-token", "FCM_TOKEN": "ya29.token",
       "WRONG": "Bearer wrong", "API_KEY": "k-123"}
FAKE_SCRIPT = Path(__file__).parents[1] / "support" / "http_provider.py"


def sms(n: int = 0, body: str = "Spring sale: 20% off", to: str = "+33600000001"
        ) -> OutgoingMessage:
    return OutgoingMessage(message_id("run-1", "vip_sms", n), "sms", to, {"body": body},
                           campaign="spring-sale", run_id="run-1", activity_id="vip_sms")


def push(n: int = 0, title: str | None = "Spring sale") -> OutgoingMessage:
    payload = {"title": title, "body": "20% off today", "data": {"url": "https://shop/x"}}
    return OutgoingMessage(message_id("run-1", "vip_push", n), "push", f"device-token-{n}",
                           payload, campaign="spring-sale", run_id="run-1",
                           activity_id="vip_push")


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeProvider]:
    options = getattr(request, "param", {})
    with FakeProvider(**options) as server:
        yield server


def build(section: dict[str, Any], env: dict[str, str] = ENV) -> HttpProvider:
    provider = provider_from_config("gw", section, env)
    assert isinstance(provider, HttpProvider)
    return provider


def webhook(fake: FakeProvider, **settings: Any) -> HttpProvider:
    return build({"type": "http", "url": f"{fake.url}/send", **settings})


def twilio(fake: FakeProvider, **settings: Any) -> HttpProvider:
    section = {"type": "twilio", "base_url": fake.url, "account_sid": "AC123",
               "auth_token_env": "TW_TOKEN", **settings}
    if "messaging_service_sid" not in section:
        section.setdefault("from", "+15550001111")
    return build(section)


def fcm(fake: FakeProvider, **settings: Any) -> HttpProvider:
    return build({"type": "fcm", "base_url": fake.url, "project_id": "demo-app",
                  "access_token_env": "FCM_TOKEN", **settings})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- the three shapes ----
@pytest.mark.parametrize("fake", [{"auth": "Bearer s3cret"}], indirect=True)
def test_webhook_posts_the_documented_json(fake: FakeProvider) -> None:
    with closing(webhook(fake, auth_header_env="GW_AUTH")) as provider:
        text, notification = sms(1), push(2)
        assert provider.send(text) == SendResult.sent("fake-1")
        assert provider.send(notification) == SendResult.sent("fake-2")
    first, second = fake.requests
    assert first.path == "/send" and first.method == "POST"
    assert first.header("Idempotency-Key") == str(text.message_id)
    assert first.header("Authorization") == "Bearer s3cret"
    assert first.header("Content-Type").startswith("application/json")
    assert json.loads(first.body) == {
        "message_id": str(text.message_id), "channel": "sms", "to": "+33600000001",
        "body": "Spring sale: 20% off", "title": None, "data": {},
        "category": "marketing", "campaign": "spring-sale", "run_id": "run-1",
        "activity_id": "vip_sms"}
    assert second.fields["channel"] == "push" and second.fields["to"] == "device-token-2"
    assert second.fields["title"] == "Spring sale"
    assert second.fields["data"] == {"url": "https://shop/x"}
    assert second.header("Idempotency-Key") == str(notification.message_id)


@pytest.mark.parametrize("fake", [{"auth": "k-123", "auth_header": "X-Api-Key"}], indirect=True)
def test_webhook_header_name_and_channels(fake: FakeProvider) -> None:
    with closing(webhook(fake, auth_header_env="API_KEY", header_name="X-Api-Key",
                         channels=["sms"])) as provider:
        assert provider.channels == frozenset({"sms"})
        assert provider.send(sms()).ok
        refused = provider.send(push())
    assert not refused.ok and not refused.transient
    assert "does not send push" in (refused.error or "")
    assert len(fake.requests) == 1
    assert fake.requests[0].header("Authorization") is None


def test_webhook_without_auth_sends_no_authorization(fake: FakeProvider) -> None:
    with closing(webhook(fake)) as provider:
        assert provider.send(sms()).ok
    assert fake.requests[0].header("Authorization") is None


@pytest.mark.parametrize("fake", [{"reply": (202, "accepted, thanks")}], indirect=True)
def test_a_2xx_answer_that_is_not_the_json_expected_is_still_sent(fake: FakeProvider) -> None:
    message = sms()
    with closing(webhook(fake)) as provider, closing(fcm(fake)) as push_provider:
        assert provider.send(message) == SendResult.sent(str(message.message_id))
        other = push()
        assert push_provider.send(other) == SendResult.sent(str(other.message_id))
    assert len(fake.delivered) == 2


@pytest.mark.parametrize("fake", [{"reply": (204, "")}], indirect=True)
def test_204_no_content_is_sent_and_the_connection_kept(fake: FakeProvider) -> None:
    with closing(webhook(fake)) as provider:
        assert all(provider.send(sms(n)).ok for n in range(3))
    assert fake.connections == 1


@pytest.mark.parametrize("fake", [{"auth": basic_auth("AC123", "tw-token")}], indirect=True)
def test_twilio_shape(fake: FakeProvider) -> None:
    message = sms(3, body="Hello é")
    with closing(twilio(fake)) as provider:
        result = provider.send(message)
        refused = provider.send(push())
    assert result.ok and result.provider_id and result.provider_id.startswith("SM")
    (request,) = fake.requests
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.header("Content-Type").startswith("application/x-www-form-urlencoded")
    assert request.header("Authorization") == basic_auth("AC123", "tw-token")
    assert request.header("I-Twilio-Idempotency-Token") == str(message.message_id)
    assert request.fields == {"To": "+33600000001", "From": "+15550001111", "Body": "Hello é"}
    assert json.loads(fake._answers[str(message.message_id)])["sid"] == result.provider_id
    assert not refused.ok and not refused.transient and "does not send push" in refused.error


def test_twilio_messaging_service(fake: FakeProvider) -> None:
    with closing(twilio(fake, messaging_service_sid="MG42")) as provider:
        assert provider.send(sms()).ok
    assert fake.requests[0].fields == {"To": "+33600000001", "MessagingServiceSid": "MG42",
                                       "Body": "Spring sale: 20% off"}


@pytest.mark.parametrize("fake", [{"auth": "Bearer ya29.token"}], indirect=True)
def test_fcm_shape(fake: FakeProvider) -> None:
    message, untitled = push(4), push(5, title=None)
    with closing(fcm(fake)) as provider:
        assert provider.send(message) == SendResult.sent("projects/demo-app/messages/1")
        assert provider.send(untitled).ok
        refused = provider.send(sms())
    first, second = fake.requests
    assert first.path == "/v1/projects/demo-app/messages:send"
    assert first.header("Authorization") == "Bearer ya29.token"
    assert first.fields == {"message": {
        "token": "device-token-4",
        "notification": {"title": "Spring sale", "body": "20% off today"},
        "data": {"url": "https://shop/x", "message_id": str(message.message_id)}}}
    assert second.fields["message"]["notification"] == {"body": "20% off today"}
    assert not refused.ok and not refused.transient and "does not send sms" in refused.error


def test_a_payload_without_body_is_a_permanent_failure(fake: FakeProvider) -> None:
    message = OutgoingMessage(message_id("r", "a", 1), "sms", "+1555000", {"text": "x"})
    with closing(webhook(fake)) as provider:
        result = provider.send(message)
    assert not result.ok and not result.transient and "body" in (result.error or "")
    assert fake.requests == []


# ---- classification ----
@pytest.mark.parametrize("fake", [{"fail_first": {None: [429]}, "retry_after": "7"}],
                         indirect=True)
def test_429_is_transient_with_retry_after_seconds(fake: FakeProvider) -> None:
    with closing(webhook(fake)) as provider:
        result = provider.send(sms())
        assert provider.send(sms()).ok         # the retry goes through
    assert not result.ok and result.transient
    assert result.retry_after == 7.0
    assert result.error == "429 Too Many Requests: injected 429"
    assert len(fake.delivered) == 1


def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(parsedate_to_datetime("Wed, 21 Oct 2037 07:28:00 GMT"), usegmt=True)
    with FakeProvider(fail_first={None: [503]}, retry_after=when) as fake, \
            closing(twilio(fake)) as provider:
        started = time.time()
        result = provider.send(sms())
    assert result.transient and result.retry_after is not None
    expected = parsedate_to_datetime(when).timestamp() - started
    assert expected - 5 <= result.retry_after <= expected


def test_parse_retry_after() -> None:
    now = parsedate_to_datetime("Wed, 21 Oct 2015 07:27:30 GMT").timestamp()
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    for garbage in (None, "", "soon", "nan", "Wed, 21 Oct 2015"):
        assert parse_retry_after(garbage, now=now) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_5xx_is_transient_without_retry_after(status: int) -> None:
    with FakeProvider(fail_first={None: [status]}) as fake, closing(fcm(fake)) as provider:
        result = provider.send(push())
    assert not result.ok and result.transient and result.retry_after is None
    assert result.error is not None and result.error.startswith(f"{status} ")
    assert fake.delivered == []


def test_400_is_permanent_with_the_status_and_the_message() -> None:
    faults = {None: [(400, "invalid number"), (400, "The 'To' number is not valid"),
                     (404, "Requested entity was not found."), (400, "x" * 1000)]}
    with FakeProvider(fail_first=faults) as fake, closing(webhook(fake)) as hook, \
            closing(twilio(fake)) as tw, closing(fcm(fake)) as fc:
        first = hook.send(sms(1))
        second = tw.send(sms(2))
        third = fc.send(push(3))
        long = hook.send(sms(4))
    assert first == SendResult.failed("400 Bad Request: invalid number")
    assert second == SendResult.failed("400 Bad Request: The 'To' number is not valid")
    assert third == SendResult.failed("404 Not Found: Requested entity was not found.")
    assert not long.transient and long.error is not None
    assert long.error.startswith("400 Bad Request: xxx")
    assert len(long.error) <= len("400 Bad Request: ") + 200
    assert fake.delivered == []


@pytest.mark.parametrize("fake", [{"auth": "Bearer s3cret"}], indirect=True)
def test_401_is_permanent(fake: FakeProvider) -> None:
    with closing(webhook(fake, auth_header_env="WRONG")) as provider:
        result = provider.send(sms())
    assert not result.ok and not result.transient
    assert result.error == "401 Unauthorized: unauthorized"
    assert fake.delivered == [] and len(fake.requests) == 1


def test_connection_refused_is_transient() -> None:
    provider = build({"type": "http", "url": f"http://127.0.0.1:{free_port()}/send"})
    with closing(provider):
        result = provider.send(sms())
    assert not result.ok and result.transient
    assert "connection refused" in (result.error or "")


def test_no_answer_within_the_timeout_is_transient() -> None:
    with socket.socket() as silent:       # listens, never accepts: the request hangs
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        provider = build({"type": "http", "url": f"http://127.0.0.1:{port}/", "timeout": 0.2})
        with closing(provider):
            result = provider.send(sms())
    assert not result.ok and result.transient
    assert result.error == f"no answer from http://127.0.0.1:{port} within 0.2 s"


# ---- connections ----
def test_connections_are_kept_alive_and_closed_by_close(fake: FakeProvider) -> None:
    provider = webhook(fake)
    assert all(provider.send(sms(n)).ok for n in range(5))
    assert fake.connections == 1
    provider.close()
    assert provider.send(sms(9)).ok          # usable again: a new connection
    assert fake.connections == 2
    provider.close()


@pytest.mark.parametrize("fake", [{"close_keepalive_after": 1}], indirect=True)
def test_keepalive_connections_closed_by_the_server_are_retried_transparently(
        fake: FakeProvider) -> None:
    with closing(twilio(fake)) as provider:
        results = [provider.send(sms(n)) for n in range(5)]
    assert all(result.ok for result in results), results
    assert len(fake.delivered) == 5 and len(fake.requests) == 5
    assert fake.connections == 5
    assert provider.transport.opened == 5


def test_a_stale_connection_is_retried_once_only() -> None:
    again = sms(2)
    key = str(again.message_id)
    with FakeProvider(fail_first={key: ["drop", "drop"]}) as fake, \
            closing(webhook(fake)) as provider:
        assert provider.send(sms(1)).ok                   # leaves a kept connection
        result = provider.send(again)                     # kept: dropped; fresh: dropped
        assert [r.key for r in fake.requests].count(key) == 2
        assert provider.send(again).ok
    assert not result.ok and result.transient
    assert "closed the connection without answering" in (result.error or "")
    assert fake.delivered_keys() == [str(sms(1).message_id), key]


@pytest.mark.parametrize("fake", [{"fail_first": {None: ["drop"]}}], indirect=True)
def test_a_fresh_connection_closed_without_answer_is_not_retried(fake: FakeProvider) -> None:
    with closing(fcm(fake)) as provider:
        result = provider.send(push())
    assert result.transient and len(fake.requests) == 1 and fake.delivered == []


# ---- idempotency ----
def test_the_same_message_twice_is_delivered_once(fake: FakeProvider) -> None:
    message = sms(7)
    with closing(webhook(fake)) as provider:
        first, second = provider.send(message), provider.send(message)
    assert first.ok and second == first
    assert fake.delivered_keys() == [str(message.message_id)]
    assert fake.duplicates_refused == 1 and len(fake.requests) == 2


def test_a_lost_answer_then_a_retry_delivers_once() -> None:
    message = push(8)
    with FakeProvider(fail_first={str(message.message_id): ["lost"]}) as fake, \
            closing(fcm(fake)) as provider:
        lost = provider.send(message)
        retried = provider.send(message)
    assert lost.transient and retried == SendResult.sent("projects/demo-app/messages/1")
    assert len(fake.delivered) == 1 and fake.duplicates_refused == 1


@pytest.mark.parametrize("fake", [{"fail_every_nth": (3, 503)}], indirect=True)
def test_fail_every_nth(fake: FakeProvider) -> None:
    with closing(webhook(fake)) as provider:
        results = [provider.send(sms(n)) for n in range(6)]
    assert [r.ok for r in results] == [True, True, False, True, True, False]
    assert all(r.transient for r in results if not r.ok)


def test_500_messages_with_concurrency_8_are_each_delivered_once(fake: FakeProvider) -> None:
    messages = [sms(n, to=f"+3360000{n:04d}") for n in range(500)]
    with closing(webhook(fake, concurrency=8)) as provider, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(provider.send, messages))
    assert all(result.ok for result in results)
    assert sorted(fake.delivered_keys()) == sorted(str(m.message_id) for m in messages)
    assert fake.duplicates_refused == 0
    assert fake.connections <= 8 and provider.transport.opened <= 8
    assert len({result.provider_id for result in results}) == 500


@pytest.mark.parametrize(
    "fake", [{"fail_plan": {"503": 0.2, "429": 0.1, "lost": 0.1}, "seed": 7}], indirect=True)
def test_faults_and_retries_still_deliver_exactly_once(fake: FakeProvider) -> None:
    messages = [push(n) for n in range(200)]

    def deliver(message: OutgoingMessage) -> int:
        for attempt in range(1, 30):
            result = provider.send(message)
            if result.ok:
                return attempt
            assert result.transient, result
        raise AssertionError(f"{message.message_id} never delivered")

    with closing(fcm(fake, concurrency=8)) as provider, ThreadPoolExecutor(8) as pool:
        attempts = list(pool.map(deliver, messages))
    assert sorted(fake.delivered_keys()) == sorted(str(m.message_id) for m in messages)
    assert sum(attempts) > len(messages)                   # faults did happen
    assert fake.duplicates_refused > 0                     # and some answers were lost
    assert len({r.fields["message"]["data"]["message_id"] for r in fake.delivered}) == 200


# ---- configuration ----
def test_the_types_are_registered_and_are_providers(fake: FakeProvider) -> None:
    assert {"http", "twilio", "fcm"} <= set(known_types())
    for make, kind in ((webhook, WebhookProvider), (twilio, TwilioProvider), (fcm, FcmProvider)):
        with closing(make(fake)) as provider:
            assert isinstance(provider, kind) and isinstance(provider, Provider)
            assert provider.concurrency == 8 and provider.rate is None
    with closing(webhook(fake, concurrency=3, rate=50, timeout=2.5)) as provider:
        assert (provider.concurrency, provider.rate, provider.timeout) == (3, 50.0, 2.5)


def test_overture_toml_with_http_providers(tmp_path: Path, fake: FakeProvider) -> None:
    config = tomllib.loads(f"""
[channels]
sms = "sms_gateway"
push = "firebase"

[providers.sms_gateway]
type = "http"
url = "{fake.url}/hooks/sms"
auth_header_env = "GW_AUTH"
channels = ["sms"]

[providers.firebase]
type = "fcm"
base_url = "{fake.url}"
project_id = "demo-app"
access_token_env = "FCM_TOKEN"
""")
    chosen = providers_for_workspace(config, ENV, state_dir=tmp_path)
    try:
        assert isinstance(chosen["sms"], WebhookProvider)
        assert isinstance(chosen["push"], FcmProvider)
        assert chosen["sms"].send(sms()).ok and chosen["push"].send(push()).ok
    finally:
        for provider in chosen.values():
            provider.close()
    assert [r.path for r in fake.requests] == ["/hooks/sms",
                                               "/v1/projects/demo-app/messages:send"]


URL = "https://sms.example.com/send"
TWILIO = {"type": "twilio", "account_sid": "AC1", "from": "+1555", "auth_token_env": "TW_TOKEN"}
FCM = {"type": "fcm", "project_id": "p", "access_token_env": "FCM_TOKEN"}


@pytest.mark.parametrize(("section", "named"), [
    ({"type": "http"}, "`url` is required"),
    ({"type": "http", "url": "ftp://sms.example.com/send"}, "`url` must be an http"),
    ({"type": "http", "url": "sms.example.com/send"}, "`url` must be an http"),
    ({"type": "http", "url": "https:///send"}, "`url` has no host"),
    ({"type": "http", "url": "https://ana:pw@sms.example.com/"}, "`url` must not hold"),
    ({"type": "http", "url": URL, "channels": ["sms", "fax"]}, "`channels`: unknown channel 'fax'"),
    ({"type": "http", "url": URL, "channels": ["email"]}, "`channels`: unknown channel 'email'"),
    ({"type": "http", "url": URL, "channels": "sms"}, "`channels` must be a list"),
    ({"type": "http", "url": URL, "channels": []}, "`channels` must be a list"),
    ({"type": "http", "url": URL, "header_name": "X-Key"}, "`header_name` needs `auth_header_env`"),
    ({"type": "http", "url": URL, "concurrency": 0}, "`concurrency`"),
    ({"type": "http", "url": URL, "concurrency": 257}, "`concurrency`"),
    ({"type": "http", "url": URL, "concurrency": "8"}, "`concurrency`"),
    ({"type": "http", "url": URL, "timeout": 0}, "`timeout` must be a positive number"),
    ({"type": "http", "url": URL, "rate": -5}, "`rate` must be a positive number"),
    ({"type": "http", "url": URL, "uri": URL}, "unknown setting `uri`"),
    ({"type": "http", "url": URL, "auth_header": "Bearer hunter2"}, "`auth_header_env`"),
    ({k: v for k, v in TWILIO.items() if k != "account_sid"}, "`account_sid` is required"),
    ({k: v for k, v in TWILIO.items() if k != "from"}, "`from`"),
    ({**TWILIO, "messaging_service_sid": "MG1"}, "not both"),
    ({k: v for k, v in TWILIO.items() if k != "auth_token_env"}, "`auth_token_env` is required"),
    ({**TWILIO, "auth_token": "hunter2"}, "`auth_token_env`"),
    ({**TWILIO, "base_url": "api.twilio.com"}, "`base_url` must be an http"),
    ({**TWILIO, "channels": ["sms"]}, "unknown setting `channels`"),
    ({k: v for k, v in FCM.items() if k != "project_id"}, "`project_id` is required"),
    ({k: v for k, v in FCM.items() if k != "access_token_env"}, "`access_token_env` is required"),
    ({**FCM, "access_token": "hunter2"}, "`access_token_env`"),
])
def test_configuration_errors_name_the_setting(section: dict[str, Any], named: str) -> None:
    with pytest.raises(ProviderConfigError) as info:
        provider_from_config("gw", section, ENV)
    assert named in str(info.value)
    assert "[providers.gw]" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(("value", "problem"), [("Bearer x\r\nX-Evil: 1", "a single line"),
                                               ("Bearer clé", "printable ASCII")])
def test_a_secret_that_cannot_be_a_header_is_refused(value: str, problem: str) -> None:
    with pytest.raises(ProviderConfigError, match=f"`auth_header_env` must be {problem}"):
        provider_from_config("gw", {"type": "http", "url": URL, "auth_header_env": "BAD"},
                             {"BAD": value})


def test_a_header_name_must_be_a_token() -> None:
    with pytest.raises(ProviderConfigError, match="`header_name` is not a header name"):
        provider_from_config("gw", {"type": "http", "url": URL, "auth_header_env": "API_KEY",
                                    "header_name": "X Key:"}, ENV)


# ---- the fake provider as a separate process ----
def test_the_fake_provider_runs_as_a_process_and_records_every_delivery(tmp_path: Path) -> None:
    record = tmp_path / "delivered.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(FAKE_SCRIPT), "--port", "0", "--record", str(record)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening http://127.0.0.1:"), line
        url = line.split()[1]
        provider = build({"type": "http", "url": f"{url}/send"})
        with closing(provider):
            assert all(provider.send(sms(n)).ok for n in (1, 2, 3, 2))
        with urllib.request.urlopen(f"{url}/stats", timeout=5) as answer:
            stats = json.load(answer)
        assert stats == {"requests": 4, "delivered": 3, "duplicates_refused": 1,
                         "connections": 2}     # the sender's, and this one
        process.send_signal(signal.SIGKILL)          # what a kill -9 trial does
        process.wait(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    lines = [json.loads(text) for text in record.read_text().splitlines()]
    assert [entry["key"] for entry in lines] == [str(sms(n).message_id) for n in (1, 2, 3)]
    assert lines[0]["to"] == "+33600000001" and lines[0]["channel"] == "sms"
    assert lines[0]["body"] == "Spring sale: 20% off" and lines[0]["shape"] == "http"
