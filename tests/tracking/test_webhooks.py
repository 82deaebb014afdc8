"""Provider webhooks on a real server: delivery receipts and bounces stored exactly once,
unknown messages refused, unauthenticated requests refused and storing nothing, hard
bounces and complaints suppressing the address.

The messages come from a live SMS campaign sent through the fake provider: `text`
through its Twilio shape, `relay` through its generic JSON shape (provider `gateway`).
Two customers of the hand-countable workspace have a phone and SMS consent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.kit import Harness
from overture.channels.identity import message_id
from overture.data import events
from overture.data.messages import message_log
from overture.data.suppressions import SUPPRESSIONS
from overture.data.workspace import Workspace
from overture.tracking.webhooks import HookError, parse_fcm, parse_http, twilio_signature
from support.http_provider import FakeProvider
from support.server import ServerProcess

#: Ana (1) and Eve (5): the customers of tests/support/workspace.py with a phone and
#: sms_optin true
PHONES = {"1": "+33600000001", "5": "+33600000005"}
TWILIO_TOKEN = "tw-auth-token"
GATEWAY_SECRET = "gw-hook-secret"
FCM_SECRET = "fcm-hook-secret"
ENV = {"WH_TWILIO_TOKEN": TWILIO_TOKEN, "WH_GATEWAY_SECRET": GATEWAY_SECRET,
       "WH_FCM_SECRET": FCM_SECRET}
#: the Harness workspace's `[tracking] base_url`: the public URL Twilio would call
PUBLIC_URL = "http://127.0.0.1:8000"
UNKNOWN = "00000000-0000-3000-8000-000000000000"

CONFIG = """
[channels]
sms = "twilio"

[providers.twilio]
type = "twilio"
base_url = "{url}"
account_sid = "AC0123"
from = "+15550000000"
auth_token_env = "WH_TWILIO_TOKEN"

[providers.gateway]
type = "http"
url = "{url}/send"
channels = ["sms"]

[providers.firebase]
type = "fcm"
base_url = "{url}"
project_id = "demo"
access_token_env = "WH_FCM_TOKEN"
webhook_secret_env = "WH_FCM_SECRET"

[providers.quiet]
type = "http"
url = "{url}/send"

[providers.unset]
type = "http"
url = "{url}/send"
webhook_secret_env = "WH_NOT_SET_ANYWHERE"
"""
DOCUMENT = {"name": "texts", "activities": [
    {"id": "all", "type": "build_audience"},
    {"id": "text", "type": "sms", "inputs": ["all"], "confirm": False,
     "body": "Hi {{ first_name }}"},
    {"id": "relay", "type": "sms", "inputs": ["all"], "confirm": False,
     "provider": "gateway", "body": "Hello again {{ first_name }}"}]}


@dataclass
class Sent:
    root: Path
    server: ServerProcess
    run_id: str
    log: dict[tuple[str, str], dict[str, Any]]  # (activity, profile key) -> log row

    def mid(self, activity: str, key: str) -> str:
        return str(self.log[(activity, key)]["message_id"])

    def sid(self, key: str) -> str:
        return str(self.log[("text", key)]["provider_id"])


def send_texts(tmp_path: Path, fake: FakeProvider) -> Sent:
    """Send the campaign live, read the message log with the server stopped, then start
    the server again with the gateway's webhook secret configured.

    The secret is added only after sending: `[providers.gateway]` is built for sending
    by channels/http.py, which refuses settings it does not know.
    """
    harness = Harness(tmp_path)
    root = harness.ws.root
    config = root / "overture.toml"
    text = config.read_text()
    assert f'base_url = "{PUBLIC_URL}"' in text
    config.write_text(text + CONFIG.format(url=fake.url))
    harness.close()
    server = ServerProcess(root, env=ENV).start()
    try:
        assert server.call("POST", "/api/campaigns", {"document": DOCUMENT}).status == 201
        assert server.call("POST", "/api/campaigns/texts/publish").status == 200
        (run_id,) = [r["id"] for r in server.call("GET", "/api/runs").body["runs"]]
        server.wait_for(lambda: server.run_status(run_id)["status"] == "done", what="sending")
        assert server.stop() == 0
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()
    ws = Workspace.open(root)
    try:
        table = message_log(ws.data)
        assert table is not None
        rows = table.to_pyarrow().to_pylist()
    finally:
        ws.close()
    # the plan holds every profile; the others are excluded (no phone, no consent)
    log = {(r["activity_id"], r["profile_key"]): r for r in rows if r["status"] != "excluded"}
    assert sorted(log) == [(a, k) for a in ("relay", "text") for k in sorted(PHONES)]
    for (activity, key), row in log.items():
        assert row["message_id"] == str(message_id(run_id, activity, key))
        assert row["status"] == "sent" and row["address"] == PHONES[key]
        assert row["provider"] == ("twilio" if activity == "text" else "gateway")
    assert all(log[("text", k)]["provider_id"].startswith("SM") for k in PHONES)
    shapes = sorted((r.shape, r.key) for r in fake.delivered)
    assert shapes == sorted([("http", log[("relay", k)]["message_id"]) for k in PHONES]
                            + [("twilio", log[("text", k)]["message_id"]) for k in PHONES])
    config.write_text(config.read_text().replace(
        "[providers.gateway]\n",
        '[providers.gateway]\nwebhook_secret_env = "WH_GATEWAY_SECRET"\n'))
    server.start()
    return Sent(root, server, run_id, log)


def post(server: ServerProcess, path: str, body: bytes | str | dict[str, Any],
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    if isinstance(body, dict):
        body = json.dumps(body)
    data = body.encode() if isinstance(body, str) else body
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", path, body=data, headers=headers or {})
        answer = conn.getresponse()
        raw = answer.read()
        got = {k.lower(): v for k, v in answer.getheaders()}
        return answer.status, got, json.loads(raw) if raw else None
    finally:
        conn.close()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def stored(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The events and the suppressions, read with the server stopped."""
    ws = Workspace.open(root)
    try:
        table = events.events(ws.data)
        rows = [] if table is None else table.to_pyarrow().to_pylist()
        suppressed = ws.data.con.table(SUPPRESSIONS).to_pyarrow().to_pylist() \
            if ws.data.has_table(SUPPRESSIONS) else []
        return rows, suppressed
    finally:
        ws.close()


def stop(server: ServerProcess) -> None:
    if server.process is not None and server.process.poll() is None:
        assert server.stop() == 0


@pytest.mark.slow
@pytest.mark.xdist_group("tracking")
def test_generic_json_events_stored_once_unknown_refused_secrets_required(
        tmp_path: Path) -> None:
    with FakeProvider() as fake:
        sent = send_texts(tmp_path, fake)
    server = sent.server
    ana, eve = sent.mid("relay", "1"), sent.mid("relay", "5")
    twilio_ana = sent.mid("text", "1")
    at = "2027-03-01T10:00:00+01:00"
    batch = {"events": [
        {"id": "g-1", "message_id": ana, "type": "delivered", "at": at},
        {"id": "g-2", "message_id": eve, "type": "bounce", "bounce_type": "hard",
         "detail": "550 unknown number"},
        {"id": "g-3", "message_id": UNKNOWN, "type": "delivered"},
        # sent by twilio, not by this provider: unknown to it
        {"id": "g-4", "message_id": twilio_ana, "type": "delivered"}]}
    try:
        # no secret, a wrong one, another provider's: 401, nothing stored
        for headers in ({"Content-Type": "application/json"}, bearer("wrong"),
                        bearer(FCM_SECRET), {"Authorization": GATEWAY_SECRET}):
            status, got, body = post(server, "/hooks/gateway", batch, headers)
            assert (status, body["error"]["code"]) == (401, "unauthorized"), body
            assert got["www-authenticate"] == "Bearer"
        # a provider without webhook_secret_env, or whose variable is not set: 403
        for name in ("quiet", "unset"):
            status, _, body = post(server, f"/hooks/{name}", batch, bearer(GATEWAY_SECRET))
            assert (status, body["error"]["code"]) == (403, "not_configured"), body
        assert "WH_NOT_SET_ANYWHERE" in post(server, "/hooks/unset", batch,
                                             bearer("x"))[2]["error"]["message"]
        for name in ("nobody", "outbox"):
            assert post(server, f"/hooks/{name}", batch, bearer(GATEWAY_SECRET))[0] == 404

        status, _, body = post(server, "/hooks/gateway", batch, bearer(GATEWAY_SECRET))
        assert status == 200, body
        assert body == {"accepted": 2, "duplicates": 0,
                        "unknown": sorted([UNKNOWN, twilio_ana]), "ignored": 0,
                        "suppressed": 1}
        # the provider retries: the same events are duplicates, nothing is added
        status, _, body = post(server, "/hooks/gateway", batch, bearer(GATEWAY_SECRET))
        assert (status, body["accepted"], body["duplicates"], body["suppressed"]) == \
            (200, 0, 2, 0)
        # one event alone, not in a list
        status, _, body = post(server, "/hooks/gateway",
                               {"id": "g-5", "message_id": ana, "type": "complaint"},
                               bearer(GATEWAY_SECRET))
        assert (status, body["accepted"], body["suppressed"]) == (200, 1, 1), body
        # every event unknown: 422, listing them
        status, _, body = post(server, "/hooks/gateway", {"events": [
            {"id": "g-6", "message_id": UNKNOWN, "type": "bounce"},
            {"id": "g-7", "message_id": twilio_ana, "type": "failed"}]},
            bearer(GATEWAY_SECRET))
        assert status == 422
        assert (body["accepted"], body["duplicates"], body["unknown"]) == \
            (0, 0, sorted([UNKNOWN, twilio_ana]))
        assert body["error"]["code"] == "unknown_messages"
        # payloads that are not the documented shape: 400, nothing of them stored
        for bad in ({"events": [{"id": "g-8", "message_id": ana, "type": "opened"}]},
                    {"events": [{"message_id": ana, "type": "delivered"}]},
                    {"events": [{"id": "g-9", "message_id": ana, "type": "bounce",
                                 "bounce_type": "medium"}]},
                    {"events": [{"id": "g-10", "message_id": ana, "type": "delivered"},
                                {"id": "g-11", "message_id": ana, "type": "delivered",
                                 "at": "yesterday"}]},
                    "not json", {"events": []}):
            status, _, body = post(server, "/hooks/gateway", bad, bearer(GATEWAY_SECRET))
            assert (status, body["error"]["code"]) == (400, "bad_request"), (bad, body)
        # the fcm webhook: its own secret, and only its own messages
        receipt = {"message_id": ana, "status": "failed", "error": "UNREGISTERED"}
        assert post(server, "/hooks/firebase", receipt, bearer(GATEWAY_SECRET))[0] == 401
        status, _, body = post(server, "/hooks/firebase", receipt, bearer(FCM_SECRET))
        assert (status, body["unknown"]) == (422, [ana])
        stop(server)
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()

    rows, suppressed = stored(sent.root)
    got = sorted((r["event_id"], r["message_id"], r["type"], r["bounce_type"], r["detail"],
                  r["source"], r["machine"]) for r in rows)
    assert got == [
        ("gateway:g-1", ana, "delivered", None, None, "webhook", False),
        ("gateway:g-2", eve, "bounce", "hard", "550 unknown number", "webhook", False),
        ("gateway:g-5", ana, "complaint", None, None, "webhook", False)]
    first = next(r for r in rows if r["event_id"] == "gateway:g-1")
    assert first["at"] == datetime(2027, 3, 1, 9, 0)  # stored in UTC
    assert sorted((s["channel"], s["address"], s["reason"], s["source"])
                  for s in suppressed) == [
        ("sms", PHONES["1"], "complaint", "webhook gateway"),
        ("sms", PHONES["5"], "hard_bounce", "webhook gateway")]


def signature(token: str, url: str, fields: dict[str, str]) -> str:
    """Twilio's documented algorithm, written again here: the URL, then each field's
    name and value in the order of the names; HMAC-SHA1 with the auth token; base64."""
    data = url + "".join(name + fields[name] for name in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1)
                            .digest()).decode()


def callback(sid: str, status: str, to: str, error: str | None = None) -> dict[str, str]:
    """The fields of a Twilio status callback."""
    fields = {"AccountSid": "AC0123", "ApiVersion": "2010-04-01", "From": "+15550000000",
              "MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status,
              "To": to}
    if error is not None:
        fields["ErrorCode"] = error
    return fields


def twilio_post(server: ServerProcess, fields: dict[str, str], sign: str | None,
                body: dict[str, str] | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign is not None:
        headers["X-Twilio-Signature"] = sign
    status, _, answer = post(server, "/hooks/twilio",
                             urllib.parse.urlencode(body or fields), headers)
    return status, answer


@pytest.mark.slow
@pytest.mark.xdist_group("tracking")
def test_twilio_status_callbacks_stored_when_signed_and_hard_bounces_suppressed(
        tmp_path: Path) -> None:
    with FakeProvider() as fake:
        sent = send_texts(tmp_path, fake)
    server = sent.server
    here = f"{server.url}/hooks/twilio"       # the URL as the server sees it
    public = f"{PUBLIC_URL}/hooks/twilio"     # the URL under [tracking] base_url
    delivered = callback(sent.sid("5"), "delivered", PHONES["5"])
    bounced = callback(sent.sid("1"), "undelivered", PHONES["1"], "30005")
    try:
        # refused: no signature, another token, another URL, a Bearer secret instead,
        # a body other than the one signed (each would have suppressed Eve)
        forged = callback(sent.sid("5"), "undelivered", PHONES["5"], "30006")
        for sign, body in ((None, None), (signature("other", here, forged), None),
                           (signature(TWILIO_TOKEN, "https://evil.example/hooks/twilio",
                                      forged), None),
                           (signature(TWILIO_TOKEN, here, delivered), forged)):
            status, answer = twilio_post(server, forged, sign, body)
            assert (status, answer["error"]["code"]) == (403, "forbidden"), answer
        status, _, answer = post(server, "/hooks/twilio", urllib.parse.urlencode(forged),
                                 {"Authorization": f"Bearer {TWILIO_TOKEN}"})
        assert status == 403

        status, answer = twilio_post(server, delivered,
                                     signature(TWILIO_TOKEN, here, delivered))
        assert (status, answer) == (200, {"accepted": 1, "duplicates": 0, "unknown": [],
                                          "ignored": 0, "suppressed": 0})
        # signed for the public URL, as Twilio does behind a proxy
        status, answer = twilio_post(server, bounced, signature(TWILIO_TOKEN, public, bounced))
        assert (status, answer["accepted"], answer["suppressed"]) == (200, 1, 1), answer
        status, answer = twilio_post(server, bounced, signature(TWILIO_TOKEN, public, bounced))
        assert (status, answer["accepted"], answer["duplicates"]) == (200, 0, 1), answer
        # statuses on the way (queued, sent) are acknowledged and not stored
        on_the_way = callback(sent.sid("5"), "sent", PHONES["5"])
        status, answer = twilio_post(server, on_the_way,
                                     signature(TWILIO_TOKEN, here, on_the_way))
        assert (status, answer["accepted"], answer["ignored"]) == (200, 0, 1)
        # an unknown sid, and the provider id of a message sent by another provider
        for sid in ("SM" + "0" * 32, str(sent.log[("relay", "1")]["provider_id"])):
            unknown = callback(sid, "delivered", PHONES["1"])
            status, answer = twilio_post(server, unknown,
                                         signature(TWILIO_TOKEN, here, unknown))
            assert (status, answer["unknown"]) == (422, [sid]), answer
        stop(server)
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()

    rows, suppressed = stored(sent.root)
    ana, eve = sent.mid("text", "1"), sent.mid("text", "5")
    got = sorted((r["event_id"], r["message_id"], r["type"], r["bounce_type"], r["detail"],
                  r["source"]) for r in rows)
    assert got == sorted([
        (f"twilio:{sent.sid('5')}:delivered", eve, "delivered", None, "delivered", "webhook"),
        (f"twilio:{sent.sid('1')}:undelivered", ana, "bounce", "hard",
         "undelivered, error 30005", "webhook")])
    assert [(s["channel"], s["address"], s["reason"], s["source"]) for s in suppressed] == \
        [("sms", PHONES["1"], "hard_bounce", "webhook twilio")]


# ---- the payload parsers and the signature, without a server ----

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def test_twilio_signature_matches_twilios_published_examples() -> None:
    # the vectors of twilio-python's request validator tests
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [("CallSid", "CA1234567890ABCDE"), ("Digits", "1234"), ("From", "+14158675309"),
              ("To", "+18005551212"), ("Caller", "+14158675309")]
    assert twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
                ("Digits", "1234")]
    assert twilio_signature("12345", url, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert twilio_signature("54321", url, params) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_generic_and_fcm_shapes() -> None:
    events_ = parse_http({"events": [
        {"id": 7, "message_id": "m1", "type": "failed", "detail": "no route"},
        {"id": "e2", "message_id": "m2", "type": "bounce", "at": 1_800_000_000}]}, NOW)
    assert [(e.event_id, e.ref, e.type, e.bounce_type, e.detail, e.at) for e in events_] == [
        ("7", "m1", "bounce", "soft", "failed: no route", NOW),
        ("e2", "m2", "bounce", "soft", None, datetime.fromtimestamp(1_800_000_000, UTC))]
    (one,) = parse_http({"id": "e3", "message_id": "m3", "type": "delivered",
                         "at": "2027-03-01T09:00:00"}, NOW)
    assert (one.type, one.at) == ("delivered", NOW)  # no zone: UTC
    receipts = parse_fcm({"receipts": [
        {"message_id": "p1", "status": "failed", "error": "UNREGISTERED"},
        {"message_id": "p2", "status": "failed", "error": "QUOTA_EXCEEDED"},
        {"message_id": "p3", "status": "delivered", "id": "r3"}]}, NOW)
    assert [(r.event_id, r.type, r.bounce_type, r.detail) for r in receipts] == [
        ("p1:failed", "bounce", "hard", "UNREGISTERED"),
        ("p2:failed", "bounce", "soft", "QUOTA_EXCEEDED"),
        ("r3", "delivered", None, None)]
    for bad in ({"events": "x"}, {"id": "e", "message_id": "m", "type": "delivered",
                                  "bounce_type": "hard"}, [1, 2], {"nothing": 1}):
        with pytest.raises(HookError) as caught:
            parse_http(bad, NOW)
        assert caught.value.status == 400
    with pytest.raises(HookError):
        parse_fcm({"message_id": "p", "status": "delivered", "error": "UNREGISTERED"}, NOW)
