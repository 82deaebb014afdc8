"""A live run of the newsletter sample campaign to over 10,000 generated profiles through
a real SMTP server (aiosmtpd), driven by the `overture` command.

The expected recipients are computed here from the generated table with this file's
own code; every received message is parsed with the `email` package.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser
from pathlib import Path

import pytest

from engine.kit import OVERTURE
from overture.channels.identity import message_id
from support.retail import customers, emailable, retail_workspace
from support.smtp import SmtpServer, smtp_provider_config

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_smtp")]

CUSTOMERS = 17_000


def test_newsletter_reaches_each_expected_recipient_exactly_once(tmp_path: Path) -> None:
    with SmtpServer() as server:
        root = retail_workspace(tmp_path / "ws", CUSTOMERS, config=smtp_provider_config(
            server.port, "https://t.shop.example", concurrency=4))
        rows = customers(root)
        expected = emailable(rows)
        assert len(expected) >= 10_000
        done = subprocess.run(
            [str(OVERTURE), "-w", str(root), "run", str(root / "campaigns" / "newsletter.yaml"),
             "--live", "--json"], capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        result = json.loads(done.stdout)
        received = list(server.received)

    run = result["run"]
    entry = result["activities"]["newsletter"]
    assert entry["status"] == "done" and entry["ports"] == {"out": len(expected)}
    assert sum(entry["excluded"].values()) == CUSTOMERS - len(expected)

    # the envelope: each expected profile once (households share addresses: a multiset)
    assert all(len(r.rcpt_tos) == 1 for r in received)
    assert Counter(r.rcpt_tos[0] for r in received) == Counter(expected.values())

    by_id = {str(message_id(run, "newsletter", key)): key for key in expected}
    seen: set[int] = set()
    by_key = {row["customer_id"]: row for row in rows}
    for arrived in received:
        # the email package's legacy API: eight times faster than policy.default
        message = BytesParser(policy=policy.compat32).parsebytes(arrived.raw)
        local = str(message["Message-ID"]).strip("<>").split("@")[0]
        key = by_id[local]  # a message for a profile that should not get one: KeyError
        assert key not in seen
        seen.add(key)
        row = by_key[key]
        assert message["To"] == expected[key]
        subject = str(make_header(decode_header(message["Subject"])))
        assert subject.startswith(f"{row['first_name']}, ")
        if row["language"] == "fr":
            assert subject == f"{row['first_name']}, les nouveautés de March"
        assert message.get_content_type() == "multipart/alternative"
        plain, html_part = message.get_payload()
        assert (plain.get_content_type(), html_part.get_content_type()) == (
            "text/plain", "text/html")
        text = plain.get_payload(decode=True).decode("utf-8")
        html = html_part.get_payload(decode=True).decode("utf-8")
        assert f"Hello {row['first_name']}," in html or f"Bonjour {row['first_name']}," in html
        assert f"{row['customer_id']}" in html and f"{row['customer_id']}" in text
        unsubscribe = str(message["List-Unsubscribe"])
        assert unsubscribe.startswith("<https://t.shop.example/u/") and unsubscribe.endswith(">")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert seen == set(expected)
