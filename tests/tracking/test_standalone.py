"""`overture tracking serve` on its own, against a PostgreSQL data plane; refused on
DuckDB with the reason."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from engine.kit import OVERTURE, Harness
from overture.channels.outbox import OutboxReader, email_part, outbox_directory
from overture.data import events
from overture.data.workspace import Workspace
from overture.tracking.endpoints import PIXEL
from support.server import free_port

MAIL = """
- {id: all, type: build_audience}
- {id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "Hi", html: '<p>Hello</p><a href="https://shop.example/x">x</a>', confirm: false}
"""


def test_duckdb_is_refused_with_the_reason(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.close()
    done = subprocess.run([str(OVERTURE), "-w", str(harness.ws.root), "tracking", "serve",
                           "--port", str(free_port())], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1
    assert "needs a PostgreSQL data plane" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("postgres-tracking")
def test_tracking_alone_records_opens_and_clicks_in_postgres(tmp_path: Path,
                                                             postgres_url: str) -> None:
    harness = Harness(tmp_path, data_url=postgres_url)
    port = free_port()
    harness.ws.config = {**harness.ws.config,
                         "tracking": {"base_url": f"http://127.0.0.1:{port}",
                                      "machine_window_seconds": 0}}
    config = harness.ws.root / "overture.toml"
    config.write_text(config.read_text().replace(
        'base_url = "http://127.0.0.1:8000"',
        f'base_url = "http://127.0.0.1:{port}"\nmachine_window_seconds = 0'))
    result = harness.run(MAIL, name="alone", mode="live")
    assert result["status"] == "done"
    root = harness.ws.root
    harness.close()
    reader = OutboxReader(outbox_directory(root / ".overture"))
    htmls = [email_part(e.email(), "html") or "" for e in reader.messages(channel="email")]
    pixel = htmls[0].split('<img src="')[1].split('"')[0]
    click = htmls[1].split('href="')[1].split('"')[0]
    process = subprocess.Popen([str(OVERTURE), "-w", str(root), "tracking", "serve",
                                "--port", str(port)], env=os.environ.copy(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # ready when it answers
            try:
                with urllib.request.urlopen(pixel, timeout=5) as answer:
                    assert answer.read() == PIXEL
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "tracking did not start"
                time.sleep(0.05)
        opener = urllib.request.build_opener(_NoRedirect())
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(click, timeout=5)
        assert caught.value.code == 302
        assert caught.value.headers["Location"] == "https://shop.example/x"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    ws = Workspace.open(root)
    try:
        table = events.events(ws.data)
        assert table is not None
        types = sorted(r["type"] for r in table.to_pyarrow().to_pylist())
        assert types == ["click", "open"]
    finally:
        ws.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
