"""Operations (issue 7): /metrics, /health, /health/ready and JSON logs, on a real server.

One `overture serve` (3 workers, JSON logs, a scrape token) sends real campaigns at
once: three emails through aiosmtpd (which refuses some addresses for good and some
once), an SMS to the outbox, an email held for an approver's confirmation; test runs
of a draft; opens, clicks and unsubscribes over HTTP; bounces as DSN messages to the
server's own SMTP receiver. Every metric is then compared with what happened, known
here from what aiosmtpd received and refused, the outbox, the runs the API lists, the
hits this test made, and (once the server has stopped) the message log read with
DuckDB directly.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import smtplib
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prometheus_client.parser import text_string_to_metric_families

from overture.auth import Role
from server.conftest import Api, add_role_users, header
from support.retail import customers, emailable, retail_workspace
from support.server import ServerProcess, free_port
from support.smtp import SmtpServer

pytestmark = pytest.mark.xdist_group("server_operations")

CUSTOMERS = 400
SCRAPE = "scrape-" + uuid.uuid4().hex
LINK = "https://shop.example/sale"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
DOC_ROW = re.compile(r"^\| `(overture_\w+)` \| (\w+) \|", re.MULTILINE)


def mail(name: str, rule: dict[str, Any] | None = None, *, confirm: bool = False
         ) -> dict[str, Any]:
    who: dict[str, Any] = {"id": "who", "type": "build_audience"}
    if rule is not None:
        who["rule"] = rule
    return {"name": name, "target": "customers", "activities": [
        who,
        {"id": "mail", "type": "email", "inputs": ["who"], "confirm": confirm,
         "from": "Shop <news@shop.example>", "subject": "Hello {{ first_name }}",
         "html": f'<p>Hi {{{{ first_name }}}}</p><a href="{LINK}">Sale</a>'},
        {"id": "done", "type": "end", "inputs": ["mail"]}]}


SMS = {"name": "ops-sms", "target": "customers", "activities": [
    {"id": "who", "type": "build_audience"},
    {"id": "text", "type": "sms", "inputs": ["who"], "confirm": False,
     "body": "Hi {{ first_name }}, the sale starts today"},
    {"id": "done", "type": "end", "inputs": ["text"]}]}
FRANCE = {"field": "country", "op": "eq", "value": "FR"}
GERMANY = {"field": "country", "op": "eq", "value": "DE"}
LIVE = {"ops-fr": mail("ops-fr", FRANCE), "ops-de": mail("ops-de", GERMANY),
        "ops-all": mail("ops-all"), "ops-sms": SMS}
HELD = mail("ops-held", FRANCE, confirm=True)
TRIAL = mail("ops-trial", GERMANY)
TYPES = {"who": "build_audience", "mail": "email", "text": "sms", "done": "end"}


@dataclass
class Ops:
    api: Api
    smtp: SmtpServer
    feedback_port: int
    rows: list[dict[str, Any]]
    permanent: set[str]
    once: set[str]

    @property
    def server(self) -> ServerProcess:
        return self.api.server


@pytest.fixture(scope="module")
def ops() -> Iterator[Ops]:
    folder = Path(tempfile.mkdtemp(prefix="overture-ops-"))
    port, feedback_port = free_port(), free_port()
    try:
        with SmtpServer() as smtp:
            root = retail_workspace(folder / "shop", CUSTOMERS, config=f"""
[channels]
email = "mail"

[providers.mail]
type = "smtp"
host = "127.0.0.1"
port = {smtp.port}
security = "none"
concurrency = 4

[delivery]
retry_base = 0.01
retry_max = 0.05

[tracking]
base_url = "http://127.0.0.1:{port}"

[feedback]
smtp_port = {feedback_port}
""")
            rows = customers(root)
            addresses = sorted(set(emailable(rows).values()))
            permanent, once = set(addresses[:3]), set(addresses[3:5])
            smtp.fail_rcpt = {a: (550, "5.1.1 no such user") for a in permanent}
            smtp.fail_rcpt.update({a: (451, "4.3.0 try again later") for a in once})
            smtp.fail_times = {a: 1 for a in once}
            tokens = add_role_users(root)
            server = ServerProcess(root, port=port, workers=3, env={
                "OVERTURE_LOG_FORMAT": "json", "OVERTURE_METRICS_TOKEN": SCRAPE}).start()
            api = Api(server=server, root=root, pristine=root, tokens=tokens)
            try:
                yield Ops(api, smtp, feedback_port, rows, permanent, once)
            finally:
                if server.process is not None and server.process.poll() is None:
                    code = server.stop()
                    assert code == 0, server.log_path.read_text(errors="replace")[-3000:]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scrape(server: ServerProcess, token: str = SCRAPE) -> Samples:
    answer = server.call("GET", "/metrics", token=token)
    assert answer.status == 200, answer.body
    assert (header(answer, "Content-Type") or "").startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.body):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name and v}


def test_health_answers_without_login_and_says_what_runs(ops: Ops) -> None:
    live = ops.server.call("GET", "/health", token="")
    assert (live.status, live.body) == (200, {"status": "ok"})
    ready = ops.server.call("GET", "/health/ready", token="")
    assert ready.status == 200, ready.body
    assert ready.body["status"] == "ready" and ready.body["problems"] == []
    checks = ready.body["checks"]
    assert set(checks) == {"control_plane", "data_plane", "scheduler", "workers",
                           "tracking", "feedback_smtp", "shutdown"}
    assert all(check["ok"] for check in checks.values())
    assert checks["control_plane"]["detail"] == "sqlite"
    assert checks["data_plane"]["detail"] == "duckdb"
    assert checks["workers"]["detail"].startswith("3 workers")


def test_metrics_need_the_scrape_token_or_a_user(ops: Ops) -> None:
    for token in ("", "wrong", "Bearer", SCRAPE + "x"):
        answer = ops.server.call("GET", "/metrics", token=token)
        assert answer.status == 401, (token, answer.status)
        assert header(answer, "WWW-Authenticate") == "Bearer"
    assert value(scrape(ops.server), "overture_build_info", version="0.1.0",
                 python=_python()) == 1
    for role in Role:  # any user may read them, as a viewer reads runs
        assert value(scrape(ops.server, ops.api.tokens[role]), "overture_worker_threads") == 3
    # docs/operations.md lists every series with its type
    body = ops.server.call("GET", "/metrics", token=SCRAPE).body
    served = dict(re.findall(r"^# TYPE (overture_\w+) (\w+)$", body, re.MULTILINE))
    assert dict(DOC_ROW.findall(OPERATIONS.read_text())) == served
    # as Prometheus asks: OpenMetrics
    answer = ops.server.call("GET", "/metrics", token=SCRAPE, headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    assert answer.status == 200
    assert (header(answer, "Content-Type") or "").startswith("application/openmetrics-text")
    assert answer.body.rstrip().endswith("# EOF")
    # the scrape token opens /metrics only
    assert ops.server.call("GET", "/api/me", token=SCRAPE).status == 401
    assert ops.server.call("GET", "/api/runs", token=SCRAPE).status == 401


def _python() -> str:
    import platform

    return platform.python_version()


def _wait_runs(api: Api, ids: list[str], *statuses: str) -> dict[str, dict[str, Any]]:
    out = {}
    for run in ids:
        try:
            out[run] = api.wait_run(run, *statuses, timeout=300)
        except AssertionError as exc:  # say where it stands, and what the server said
            log = api.ok("GET", f"/api/runs/{run}/log")
            tail = api.server.log_path.read_text(errors="replace").splitlines()[-60:]
            raise AssertionError(f"{exc}: {api.server.run_status(run)}\n{log}\n"
                                 + "\n".join(tail)) from None
    return out


def _received(smtp: SmtpServer) -> dict[str, dict[str, Any]]:
    """Every email received, by message id: its tracking paths."""
    out = {}
    for arrived in smtp.received:
        message = BytesParser(policy=policy.compat32).parsebytes(arrived.raw)
        html = next(part for part in message.walk()
                    if part.get_content_type() == "text/html")
        body = html.get_payload(decode=True).decode()
        mid = str(message["Message-ID"]).strip("<>").split("@")[0]
        pixel = re.search(r'src="http://[^/]+(/o/[^"]+)"', body)
        assert pixel is not None
        out[mid] = {"message": message, "to": arrived.rcpt_tos[0], "pixel": pixel.group(1),
                    "click": re.findall(r'href="http://[^/]+(/c/[^"]+)"', body)[0],
                    "unsubscribe": re.sub(r"^http://[^/]+", "", str(
                        message["List-Unsubscribe"]).split(",")[0].strip().strip("<>"))}
    return out


def _hit(server: ServerProcess, method: str, path: str) -> int:
    """A tracking link followed as a mail client does (a redirect is not followed)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        body = "List-Unsubscribe=One-Click" if method == "POST" else None
        conn.request(method, path, body=body, headers={
            "User-Agent": "Mozilla/5.0 (test)",
            "Content-Type": "application/x-www-form-urlencoded"})
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def _dsn(original: Any, recipient: str) -> bytes:
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
    return (
        "From: MAILER-DAEMON@mx.example\r\nTo: news@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{uuid.uuid4().hex}@mx.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n"
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
        f"\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--B--\r\n"
    ).encode()


def test_metrics_equal_what_happened(ops: Ops) -> None:
    api, server = ops.api, ops.server
    for document in (*LIVE.values(), HELD, TRIAL):
        api.ok("POST", "/api/campaigns", {"document": document}, status=201)
    trials = [api.ok("POST", "/api/campaigns/ops-trial/test-runs", {}, status=202)["run"]
              for _ in range(2)]
    for name in (*LIVE, "ops-held"):  # published together: the three workers send at once
        api.ok("POST", f"/api/campaigns/{name}/publish", role=Role.APPROVER)
    runs = {r["campaign"]: r["id"] for r in api.ok("GET", "/api/runs?limit=100")["runs"]
            if r["mode"] == "live"}
    assert set(runs) == {*LIVE, "ops-held"}
    _wait_runs(api, [runs[name] for name in LIVE] + trials)

    # the held campaign waits for an approver: a queue the gauges show
    _wait_runs(api, [runs["ops-held"]], "waiting")
    held = scrape(server)
    assert value(held, "overture_runs", mode="live", status="waiting") == 1
    assert value(held, "overture_activity_runs_waiting", waiting_for="confirmation") == 1
    assert value(held, "overture_runs", mode="live", status="pending") == 0
    api.ok("POST", f"/api/runs/{runs['ops-held']}/activities/mail/confirm",
           role=Role.APPROVER)
    _wait_runs(api, [runs["ops-held"]])

    # what arrived: each email once; the refused addresses as refused
    by_key = {row["customer_id"]: row for row in ops.rows}
    expected: Counter[str] = Counter()  # address -> messages meant for it
    for rule in (FRANCE, GERMANY, None, FRANCE):  # ops-fr, ops-de, ops-all, ops-held
        audience = emailable([by_key[k] for k in _audience(by_key, rule)])
        expected.update(audience.values())
    failed = sum(n for address, n in expected.items() if address in ops.permanent)
    sent = sum(expected.values()) - failed
    assert len(ops.smtp.received) == sent
    retried = [a for a, code in ops.smtp.rcpt_refused if 400 <= code < 500]
    assert len(retried) == len(ops.once) == 2
    sms_sent = len({json.loads(line)["message_id"] for line in
                    (api.root / ".overture" / "outbox" / "sms.jsonl").read_text().splitlines()})
    assert sms_sent > 0

    # opens (some twice), clicks, unsubscribes over HTTP; hard bounces to the receiver
    received = _received(ops.smtp)
    mids = sorted(received)
    openers, clickers, leavers, bounced = mids[:7], mids[7:11], mids[11:13], mids[13:16]
    for m in openers + openers[:2]:
        assert _hit(server, "GET", received[m]["pixel"]) == 200
    for m in clickers:
        assert _hit(server, "GET", received[m]["click"]) == 302
    for m in leavers:
        assert _hit(server, "POST", received[m]["unsubscribe"]) == 200
    with smtplib.SMTP("127.0.0.1", ops.feedback_port, timeout=30) as client:
        for m in bounced:
            client.sendmail("MAILER-DAEMON@mx.example", ["bounces@shop.example"],
                            _dsn(received[m]["message"], received[m]["to"]))
    events = {("open", "tracking"): 9, ("click", "tracking"): 4,
              ("unsubscribe", "tracking"): 2, ("bounce", "dsn"): 3}

    def counted(samples: Samples) -> dict[tuple[str, str], float]:
        return {(dict(k)["kind"], dict(k)["source"]): v
                for k, v in series(samples, "overture_tracking_events_total").items()}

    deadline = time.monotonic() + 60
    while counted(samples := scrape(server)) != events and time.monotonic() < deadline:
        time.sleep(0.1)  # the sink appends every 0.2 s, the SMTP receiver as reports come
    assert counted(samples) == events, server.log_path.read_text(errors="replace")[-4000:]

    # messages
    messages = {(dict(k)["channel"], dict(k)["status"]): v
                for k, v in series(samples, "overture_messages_total").items()}
    excluded_email = sum(len(_audience(by_key, rule)) for rule in
                         (FRANCE, GERMANY, None, FRANCE)) - sum(expected.values())
    excluded_sms = CUSTOMERS - sms_sent
    assert messages == {("email", "sent"): sent, ("email", "failed"): failed,
                        ("email", "excluded"): excluded_email, ("sms", "sent"): sms_sent,
                        ("sms", "excluded"): excluded_sms}
    # retries: the two refused once, and any other transient error a loaded machine
    # causes (a timeout), as the run logs record them one by one
    retry_lines = [e["message"] for name in ("ops-fr", "ops-de", "ops-all", "ops-held")
                   for e in api.ok("GET", f"/api/runs/{runs[name]}/log")["log"]
                   if e["message"].startswith("retry ")]
    retries = len(retry_lines)
    assert sum("4.3.0 try again later" in line for line in retry_lines) == 2
    assert value(samples, "overture_message_retries_total", channel="email") == retries, \
        retry_lines
    by_reason = series(samples, "overture_messages_excluded_total")
    assert sum(v for k, v in by_reason.items() if ("channel", "email") in k) == excluded_email
    assert sum(v for k, v in by_reason.items() if ("channel", "sms") in k) == excluded_sms
    attempts = value(samples, "overture_provider_request_duration_seconds_count",
                     channel="email", provider="mail")
    assert attempts == sent + failed + retries
    assert value(samples, "overture_delivery_queue_messages", channel="email") == 0
    assert value(samples, "overture_tracking_hits_total", result="stored") == 15
    assert value(samples, "overture_tracking_queue_events") == 0

    # runs: as the API lists them
    listed = api.ok("GET", "/api/runs?limit=100")["runs"]
    started = Counter((r["mode"], r["trigger"] or "none") for r in listed)
    finished = Counter((r["mode"], r["status"]) for r in listed)
    assert {(dict(k)["mode"], dict(k)["trigger"]): v for k, v in
            series(samples, "overture_runs_started_total").items()} == started
    assert {(dict(k)["mode"], dict(k)["status"]): v for k, v in
            series(samples, "overture_runs_finished_total").items()} == finished
    assert finished == {("live", "done"): 5, ("test", "done"): 2}
    assert all(value(samples, "overture_runs", mode=mode, status=status) == 0
               for mode in ("test", "live") for status in ("pending", "running", "waiting"))
    assert value(samples, "overture_runs_executing") == 0
    assert value(samples, "overture_runs_queued") == 0

    # activities: one observation per activity executed, by type
    executed: Counter[tuple[str, str]] = Counter()
    for run in listed:
        detail = api.ok("GET", f"/api/runs/{run['id']}")
        for activity, state in detail["activities"].items():
            assert state["status"] == "done", (run["campaign"], activity, state)
            executed[(TYPES[activity], run["mode"])] += 1
    observed = {(dict(k)["type"], dict(k)["mode"]): v for k, v in
                series(samples, "overture_activity_duration_seconds_count").items()
                if ("status", "done") in k}
    assert observed == executed
    assert not [k for k in series(samples, "overture_activity_duration_seconds_count")
                if ("status", "done") not in k]

    # the scheduler keeps passing
    assert value(samples, "overture_scheduler_ticks_total", result="ok") > 0
    assert time.time() - value(samples, "overture_scheduler_last_tick_timestamp_seconds") < 30

    # after a clean stop, the message log (read with DuckDB, not Overture) agrees
    assert server.stop() == 0
    con = duckdb.connect(str(api.root / ".overture" / "data.duckdb"), read_only=True)
    try:
        logged = Counter({(channel, status): n for channel, status, n in con.execute(
            "SELECT channel, status, count(*) FROM overture_messages GROUP BY ALL").fetchall()})
        reasons = Counter({(channel, reason): n for channel, reason, n in con.execute(
            "SELECT channel, reason, count(*) FROM overture_messages "
            "WHERE status = 'excluded' GROUP BY ALL").fetchall()})
    finally:
        con.close()
    assert logged == Counter(messages)
    assert reasons == Counter({(dict(k)["channel"], dict(k)["reason"]): v
                               for k, v in by_reason.items()})

    # every line the server wrote is a JSON object; run events carry their run
    lines = [line for line in server.log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert all({"timestamp", "level", "logger", "message"} <= set(e) for e in entries)
    for name, run_id in runs.items():
        mine = [e for e in entries if e.get("run") == run_id]
        assert mine and all(e["campaign"] == name and e["mode"] == "live"
                            for e in mine if e["logger"] == "overture.run"
                            and "campaign" in e)
        channel = "text" if name == "ops-sms" else "mail"
        assert any(e["logger"] == "overture.run" and e.get("activity") == channel
                   and e["message"].startswith("sent ") and e.get("campaign") == name
                   for e in mine), name
    sending = {e["thread"] for e in entries if e["logger"] == "overture.run"
               and str(e["message"]).startswith("sent ")}
    assert len(sending) >= 2 and all(t.startswith("overture-worker") for t in sending)
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert any(e["path"] == "/metrics" and e["status"] == 200 for e in access)


def _audience(by_key: dict[int, dict[str, Any]], rule: dict[str, Any] | None) -> list[int]:
    return [k for k, row in by_key.items() if rule is None or row[rule["field"]] == rule["value"]]
