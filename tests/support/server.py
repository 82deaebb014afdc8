"""A real `overture serve` in a subprocess, and a small JSON client for it.

Tests start the server as users do (the CLI), talk to it over loopback HTTP, and may
kill it with SIGKILL. With `clock=` the server reads its time from a file that the test
moves (`OVERTURE_CLOCK_FILE`): days pass in milliseconds, and the clock survives a
restart of the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from overture.engine.clock import FileClock

OVERTURE = str(Path(sys.executable).parent / "overture")
READY_TIMEOUT = 60.0


class PortTaken(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class ServerProcess:
    workspace: Path
    clock_at: datetime | None = None
    tick: float = 0.05
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clock(self) -> FileClock:
        return FileClock(self.workspace / ".overture" / "test-clock")

    @property
    def log_path(self) -> Path:
        return self.workspace / ".overture" / "server-test.log"

    def start(self) -> ServerProcess:
        """Start and wait until it answers; a port taken meanwhile by another process
        (between choosing it and binding it) is chosen again."""
        for _ in range(3):
            try:
                return self._start()
            except PortTaken:
                self.port = free_port()
        return self._start()

    def _start(self) -> ServerProcess:
        env = {**os.environ, **self.env, "OVERTURE_WORKSPACE": str(self.workspace)}
        if self.clock_at is not None:
            if not self.clock.path.exists():
                self.clock.path.parent.mkdir(parents=True, exist_ok=True)
                self.clock.set(self.clock_at)
            env["OVERTURE_CLOCK_FILE"] = str(self.clock.path)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [OVERTURE, "serve", "--port", str(self.port), "--tick", str(self.tick),
             "--workers", str(self.workers)],
            cwd=self.workspace, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        info = self.workspace / ".overture" / "server.json"
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                output = self.log_path.read_text(errors="replace")
                if "address already in use" in output.lower():
                    self.log_path.write_text("")
                    raise PortTaken(self.port)
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            if info.exists():
                data = json.loads(info.read_text())
                if data.get("pid") == self.process.pid:
                    self.token = data["token"]
                    try:  # the file is written as the app starts, just before it listens
                        if self.call("GET", "/api/me").status == 200:
                            return
                    except urllib.error.URLError:
                        pass
            time.sleep(0.05)  # polling for readiness, not for a result
        raise RuntimeError("the server did not become ready:\n"
                           + self.log_path.read_text(errors="replace")[-3000:])

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             headers: dict[str, str] | None = None, cookie: str | None = None) -> Response:
        sent = {"Content-Type": "application/json", **(headers or {})}
        bearer = self.token if token is None else token
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        if cookie:
            sent["Cookie"] = cookie
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                raw, status, got = answer.read(), answer.status, dict(answer.headers)
        except urllib.error.HTTPError as exc:
            raw, status, got = exc.read(), exc.code, dict(exc.headers)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Response(status, parsed, got)

    def wait_for(self, predicate: Any, timeout: float = 60.0, what: str = "condition") -> Any:
        """Poll the server until `predicate()` returns something truthy (an observable
        state, not a delay): returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def run_status(self, run_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/api/runs/{run_id}")
        assert answer.status == 200, answer.body
        return answer.body

    def kill(self) -> None:
        """SIGKILL, like a crash: nothing is cleaned up."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM and wait for the clean shutdown; the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        return int(self.process.returncode)
