"""Issue 5 end to end, with real servers: a live email to 5,000+ profiles through
aiosmtpd; opens and clicks of known subsets through the tracking endpoints over HTTP;
hard and soft bounces as DSN messages; every figure of `overture report` equals the
count known here, and the retargeting audience of non-openers is exactly the set
expected."""

from __future__ import annotations

import http.client
import json
import random
import re
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from engine.kit import OVERTURE
from overture.data.workspace import Workspace
from support.retail import customers, emailable, retail_workspace
from support.server import ServerProcess, free_port
from support.smtp import SmtpServer, smtp_provider_config

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_tracking")]

CUSTOMERS = 7_600
LINKS = ("https://shop.example/spring", "https://shop.example/vip")
PROMO = {"name": "promo", "target": "customers", "activities": [
    {"id": "everyone", "type": "build_audience"},
    {"id": "mail", "type": "email", "inputs": ["everyone"], "confirm": False,
     "from": "Shop <news@shop.example>", "subject": "Spring, {{ first_name }}",
     "html": f'<p>Hi {{{{ first_name }}}}</p><a href="{LINKS[0]}">Sale</a> '
             f'<a href="{LINKS[1]}">VIP</a>'}]}
REMINDER = """\
name: reminder
target: customers
activities:
  - id: not_opened
    type: build_audience
    rule:
      all:
        - {engagement: {event: sent, campaign: promo, activity: mail}}
        - {not: {engagement: {event: opened, campaign: promo, activity: mail}}}
  - {id: done, type: end, inputs: [not_opened]}
"""


def overture(root: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run([str(OVERTURE), "-w", str(root), *args], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout)


def hit(port: int, method: str, path: str, agent: str = "Mozilla/5.0 (test)"
        ) -> tuple[int, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = "List-Unsubscribe=One-Click" if method == "POST" else None
        conn.request(method, path, body=body, headers={
            "User-Agent": agent, "Content-Type": "application/x-www-form-urlencoded"})
        answer = conn.getresponse()
        answer.read()
        return answer.status, answer.getheader("Location")
    finally:
        conn.close()


def dsn(original: Any, recipient: str, status: str) -> bytes:
    """A delivery status notification as an MTA writes it (RFC 3464), with an id of its
    own (households share addresses: two bounces to one address are two reports)."""
    action = "failed" if status.startswith("5") else "delayed"
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
    return (
        "From: MAILER-DAEMON@mx.example\r\nTo: news@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{uuid.uuid4().hex}@mx.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system at host mx.example.\r\n"
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status} mailbox problem\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}\r\n--B--\r\n").encode()


def test_report_figures_and_retargeting_equal_what_happened(tmp_path: Path) -> None:
    port = free_port()
    rng = random.Random(2027)
    with SmtpServer() as smtp:
        root = retail_workspace(tmp_path / "ws", CUSTOMERS, config=smtp_provider_config(
            smtp.port, f"http://127.0.0.1:{port}", tracking={"machine_window_seconds": 0},
            concurrency=4))
        expected = emailable(customers(root))
        assert len(expected) >= 5_000
        server = ServerProcess(root, port=port).start()
        try:
            assert server.call("POST", "/api/campaigns", {"document": PROMO}).status == 201
            assert server.call("POST", "/api/campaigns/promo/publish").status == 200
            (run_id,) = [r["id"] for r in server.call("GET", "/api/runs").body["runs"]]
            done = server.wait_for(
                lambda: (s := server.run_status(run_id))["status"] in ("done", "failed",
                                                                       "paused") and s,
                timeout=600, what="the promo to be sent")
            assert done["status"] == "done", done
            sent: dict[str, dict[str, Any]] = {}
            for arrived in smtp.received:
                message = BytesParser(policy=policy.compat32).parsebytes(arrived.raw)
                html_part = message.get_payload()[1].get_payload(decode=True).decode()
                mid = str(message["Message-ID"]).strip("<>").split("@")[0]
                sent[mid] = {"message": message, "to": arrived.rcpt_tos[0],
                             "pixel": re.search(r'src="http://[^/]+(/o/[^"]+)"',
                                                html_part).group(1),  # type: ignore[union-attr]
                             "clicks": re.findall(r'href="http://[^/]+(/c/[^"]+)"',
                                                  html_part),
                             "unsubscribe": re.sub(r"^http://[^/]+", "", str(
                                 message["List-Unsubscribe"]).strip("<>"))}
            assert len(sent) == len(expected)

            mids = sorted(sent)
            rng.shuffle(mids)
            openers, machine, rest = mids[:1500], mids[1500:1700], mids[1700:]
            twice = openers[:300]
            clickers = openers[300:900]
            both_links, click_twice = clickers[:150], clickers[150:200]
            leavers = openers[900:940]
            hard, soft = rest[:120], rest[120:180]
            requests = [("GET", sent[m]["pixel"], None) for m in openers + twice]
            requests += [("GET", sent[m]["pixel"], "GoogleImageProxy") for m in machine]
            requests += [("GET", sent[m]["clicks"][0], None) for m in clickers + click_twice]
            requests += [("GET", sent[m]["clicks"][1], None) for m in both_links]
            requests += [("POST", sent[m]["unsubscribe"], None) for m in leavers]
            rng.shuffle(requests)
            with ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(
                    lambda r: hit(server.port, r[0], r[1], r[2] or "Mozilla/5.0 (test)"),
                    requests))
            redirects = [loc for status, loc in answers if status == 302]
            assert len(redirects) == 650 + 150
            assert sorted(set(redirects)) == sorted(LINKS)
            assert all(status in (200, 302) for status, _ in answers)
            assert server.stop() == 0  # the tracking sink appends what is queued
        finally:
            if server.process is not None and server.process.poll() is None:
                server.kill()

    bounces = tmp_path / "bounces"
    bounces.mkdir()
    for i, mid in enumerate(hard + soft):
        status = "5.1.1" if mid in hard else "4.2.2"
        (bounces / f"{i}.eml").write_bytes(dsn(sent[mid]["message"], sent[mid]["to"], status))
    imported = overture(root, "feedback", "import", str(bounces), "--json")
    assert imported["bounces"] == {"hard": 120, "soft": 60}
    assert (imported["unknown"], imported["duplicates"], imported["unreadable"]) == (0, 0, [])
    again = overture(root, "feedback", "import", str(bounces), "--json")
    assert again["duplicates"] == 180  # the same mailbox read twice stores nothing twice

    report = overture(root, "report", "promo", "--format", "json")
    totals = report["totals"]
    assert totals["targeted"] == CUSTOMERS
    assert totals["sent"] == len(expected)
    assert (totals["pending"], totals["errors"], totals["delivered"]) == (0, 0, 0)
    assert sum(totals["excluded"].values()) == CUSTOMERS - len(expected)
    assert totals["bounces"] == {"hard": 120, "soft": 60}
    assert totals["opens"] == {"total": 1800, "unique": 1500, "machine": 200}
    assert totals["clicks"] == {"total": 800, "unique": 600, "machine": 0}
    assert totals["unsubscribes"] == 40
    assert totals["complaints"] == 0
    assert totals["ctr_basis"] == "sent"  # no delivery receipts through SMTP
    assert totals["ctr"] == round(600 / len(expected), 4)  # the report rounds ratios to 4
    assert totals["ctor"] == round(600 / 1500, 4)
    links = {link["url"]: link for link in report["activities"]["mail"]["links"]}
    assert (links[LINKS[0]]["clicks"], links[LINKS[0]]["unique"]) == (650, 600)
    assert (links[LINKS[1]]["clicks"], links[LINKS[1]]["unique"]) == (150, 150)

    # retargeting: sent the promo and did not open it (machine opens do not count)
    (root / "campaigns" / "reminder.yaml").write_text(REMINDER, encoding="utf-8")
    result = overture(root, "run", str(root / "campaigns" / "reminder.yaml"), "--test",
                      "--json")
    key_of = {mid: key for key, mid in _message_ids(run_id, expected).items()}
    not_opened = {key_of[m] for m in sent if m not in set(openers)}
    assert result["activities"]["not_opened"]["ports"] == {"out": len(not_opened)}
    ws = Workspace.open(root)
    try:
        table = ws.control.activity_runs(result["run"])["not_opened"].tables["out"]
        got = {r["customer_id"] for r in ws.data.table_any(table).to_pyarrow().to_pylist()}
    finally:
        ws.close()
    assert got == not_opened


def _message_ids(run_id: str, expected: dict[int, str]) -> dict[int, str]:
    from overture.channels.identity import message_id

    return {key: str(message_id(run_id, "mail", key)) for key in expected}
