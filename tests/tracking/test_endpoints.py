"""The tracking endpoints on a real server: opens, clicks and unsubscribes recorded;
forged or altered tokens record nothing, still get the pixel, and never redirect."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from typing import Any

import pytest

from engine.kit import Harness
from overture.channels.outbox import OutboxReader, email_part, outbox_directory
from overture.data import events
from overture.data.suppressions import UNSUBSCRIBES
from overture.data.workspace import Workspace
from overture.tracking.endpoints import PIXEL
from support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tracking")]

LINKS = ("https://shop.example/sale?utm=spring", "https://shop.example/vip")
DOCUMENT = {"name": "tracked", "activities": [
    {"id": "all", "type": "build_audience"},
    {"id": "mail", "type": "email", "inputs": ["all"], "confirm": False,
     "from": "Shop <news@shop.example>", "subject": "Hi {{ first_name }}",
     "html": f'<p>Hello {{{{ first_name }}}}</p><a href="{LINKS[0]}">Sale</a> '
             f'<a href="{LINKS[1]}">VIP</a>'}]}
EMAILABLE = 6


def get(server: ServerProcess, path: str, method: str = "GET",
        headers: dict[str, str] | None = None, body: str | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def tokens(root: Path) -> dict[str, dict[str, Any]]:
    """Per message id: its pixel path and click paths, from the mail as sent."""
    reader = OutboxReader(outbox_directory(root / ".overture"))
    out = {}
    for entry in reader.messages(channel="email"):
        html = email_part(entry.email(), "html") or ""
        paths = re.findall(r'href="https?://[^/"]+(/c/[^"]+)"', html)
        pixel = re.search(r'src="https?://[^/"]+(/o/[^"]+)"', html)
        assert pixel is not None and len(paths) == 2
        out[entry.summary_json()["message_id"]] = {"pixel": pixel.group(1), "clicks": paths}
    return out


def test_opens_clicks_unsubscribes_and_forged_tokens(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    root = harness.ws.root
    config = root / "overture.toml"
    config.write_text(config.read_text().replace(
        "[tracking]\n", "[tracking]\nmachine_window_seconds = 0\n"))
    harness.close()
    server = ServerProcess(root).start()
    try:
        assert server.call("POST", "/api/campaigns", {"document": DOCUMENT}).status == 201
        assert server.call("POST", "/api/campaigns/tracked/publish").status == 200
        (run_id,) = [r["id"] for r in server.call("GET", "/api/runs").body["runs"]]
        server.wait_for(lambda: server.run_status(run_id)["status"] == "done", what="sending")
        sent = tokens(root)
        assert len(sent) == EMAILABLE
        mids = sorted(sent)
        opener, clicker, scanner, leaver = mids[:4]

        status, headers, body = get(server, sent[opener]["pixel"])
        assert (status, headers["content-type"], body) == (200, "image/gif", PIXEL)
        get(server, sent[opener]["pixel"])  # a second open of the same message
        status, headers, _ = get(server, sent[clicker]["clicks"][1])
        assert (status, headers["location"]) == (302, LINKS[1])
        get(server, sent[scanner]["pixel"], headers={"User-Agent": "GoogleImageProxy"})

        # forged and altered tokens: the pixel all the same, nothing recorded, no redirect
        pixel = sent[opener]["pixel"]
        forged = [pixel[:-8] + "AAAA.gif", "/o/not-a-token.gif",
                  pixel.replace("/o/", "/o/x")]
        for path in forged:
            assert get(server, path)[0::2] == (200, PIXEL)
        click = sent[clicker]["clicks"][0]
        kid, kind, hexid, index, sig = click[len("/c/"):].split(".")
        for altered in (f"/c/{kid}.{kind}.{hexid}.1.{sig}",     # another link's index
                        f"/c/{kid}.{kind}.{mids[5].replace('-', '')}.{index}.{sig}",
                        f"/c/{kid}.o.{hexid}.{sig}", "/c/garbage"):
            status, headers, _ = get(server, altered)
            assert status == 404 and "location" not in {k.lower() for k in headers}

        status, _, page = get(server, "/u/" + _unsubscribe_token(root, leaver))
        assert status == 200 and b"<form method='post'" in page
        status, _, page = get(server, "/u/" + _unsubscribe_token(root, leaver), "POST",
                              {"Content-Type": "application/x-www-form-urlencoded"},
                              "List-Unsubscribe=One-Click")
        assert status == 200 and b"unsubscribed" in page
        assert server.stop() == 0  # the sink appends what is queued
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()
    ws = Workspace.open(root)
    try:
        table = events.events(ws.data)
        assert table is not None
        rows = table.order_by("at").to_pyarrow().to_pylist()
        got = sorted((r["message_id"], r["type"], r["machine"], r["link"], r["url"])
                     for r in rows)
        assert got == sorted([
            (opener, "open", False, None, None), (opener, "open", False, None, None),
            (clicker, "click", False, 1, LINKS[1]), (scanner, "open", True, None, None),
            (leaver, "unsubscribe", False, None, None)])
        unsubscribed = ws.data.con.table(UNSUBSCRIBES).to_pyarrow().to_pylist()
        assert len(unsubscribed) == 1 and unsubscribed[0]["channel"] == "email"
    finally:
        ws.close()


def _unsubscribe_token(root: Path, message_id: str) -> str:
    reader = OutboxReader(outbox_directory(root / ".overture"))
    for entry in reader.messages(channel="email"):
        if entry.summary_json()["message_id"] == message_id:
            header = str(entry.email()["List-Unsubscribe"])
            return header.strip("<>").rsplit("/u/", 1)[1]
    raise AssertionError(message_id)
