"""Readiness of a server's parts (in process, on DuckDB/SQLite and on PostgreSQL), and
the log formats line by line. The real server's /metrics, /health and JSON logs are
tested in tests/server/test_operations.py."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from overture.data.workspace import SharedWorkspace
from overture.engine.clock import ManualClock
from overture.observability import logs
from overture.server.state import ServerState
from support.workspace import make_workspace


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedWorkspace]:
    """A workspace on DuckDB and SQLite, or with both planes on PostgreSQL."""
    url = str(request.getfixturevalue("postgres_url")) if request.param == "postgres" \
        else None
    make_workspace(tmp_path / "ws", data_url=url, control_url=url).close()
    ws = SharedWorkspace.hold(tmp_path / "ws")
    try:
        yield ws
    finally:
        ws.close()


def test_readiness_says_which_part_is_not_running(workspace: SharedWorkspace) -> None:
    state = ServerState(workspace, ManualClock(datetime(2027, 3, 1, tzinfo=UTC)), workers=2,
                        tick=0.05)
    embedded = workspace.data_url.startswith("duckdb")
    status, body = state.readiness()  # built, not started: no scheduler, no sink thread
    assert status == 503 and body["status"] == "not ready"
    checks = body["checks"]
    assert checks["control_plane"] == {**checks["control_plane"], "ok": True,
                                       "detail": "sqlite" if embedded else "postgresql"}
    assert checks["data_plane"] == {**checks["data_plane"], "ok": True,
                                    "detail": "duckdb" if embedded else "postgres"}
    assert body["problems"] == ["scheduler: scheduler thread not running",
                                "tracking: event sink thread not running"]
    state.start()
    try:
        status, body = state.readiness()
        assert (status, body["problems"]) == (200, []), body
        assert body["checks"]["workers"]["detail"] == "2 workers: 0 executing, 0 queued"
    finally:
        state.stop()
    status, body = state.readiness()
    assert status == 503
    assert "shutdown: stopping: not taking work" in body["problems"]
    assert "workers: shutting down: no new run is taken" in body["problems"]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The process's logging sent to a buffer, and put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, threading.excepthook)
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "alembic")
    loggers = {n: (logging.getLogger(n).level, logging.getLogger(n).propagate,
                   list(logging.getLogger(n).handlers)) for n in names}
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    threading.excepthook = saved[2]
    logging.captureWarnings(False)
    for name, (level, propagate, handlers) in loggers.items():
        named = logging.getLogger(name)
        named.setLevel(level)
        named.propagate = propagate
        named.handlers = handlers


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_context(captured: io.StringIO) -> None:
    logs.configure("json", "info", stream=captured)
    with logs.log_context(run="7bc614056875", campaign="spring-sale", mode="live"):
        logs.run_event("7bc614056875", "sent 480, failed 2", "info", "vip_mail")
        logging.getLogger("overture.workers").warning("slow provider")
    logs.run_event("0123456789ab", "live run started")
    logs.run_event("0123456789ab", "a traceback", "debug")  # below the level: not written
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000",
                                             "GET", "/metrics", "1.1", 200)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("overture.server").exception("internal error")
    first, second, third, access, error = _lines(captured)
    assert {k: first[k] for k in ("level", "logger", "message", "run", "campaign", "mode",
                                  "activity")} == {
        "level": "info", "logger": "overture.run", "message": "sent 480, failed 2",
        "run": "7bc614056875", "campaign": "spring-sale", "mode": "live",
        "activity": "vip_mail"}
    assert str(first["timestamp"]).endswith("Z")
    datetime.fromisoformat(str(first["timestamp"]).replace("Z", "+00:00"))
    assert (second["logger"], second["level"], second["run"]) == \
        ("overture.workers", "warning", "7bc614056875")
    assert third["run"] == "0123456789ab" and "campaign" not in third
    assert {k: access[k] for k in ("method", "path", "status", "client")} == {
        "method": "GET", "path": "/metrics", "status": 200, "client": "127.0.0.1:5000"}
    assert error["level"] == "error" and "ValueError: boom" in str(error["exception"])


def test_warnings_and_thread_crashes_are_json_too(captured: io.StringIO) -> None:
    import warnings

    logs.configure("json", "info", stream=captured)
    warnings.warn("an old option", DeprecationWarning, stacklevel=1)

    def crash() -> None:
        raise RuntimeError("lost")

    thread = threading.Thread(target=crash, name="overture-test-crash")
    thread.start()
    thread.join()
    warned, crashed = _lines(captured)
    assert warned["logger"] == "py.warnings" and "an old option" in str(warned["message"])
    assert crashed["message"] == "uncaught exception in thread overture-test-crash"
    assert "RuntimeError: lost" in str(crashed["exception"])


def test_text_is_the_default_and_reads_as_a_line(captured: io.StringIO) -> None:
    logs.configure(stream=captured)
    with logs.log_context(run="7bc614056875", campaign="spring-sale"):
        logs.run_event("7bc614056875", "plan written", activity_id="vip_mail")
    line = captured.getvalue().strip()
    assert line.endswith(" INFO overture.run [run=7bc614056875 campaign=spring-sale "
                         "activity=vip_mail] plan written")
    with pytest.raises(ValueError, match="log format 'xml'"):
        logs.configure("xml")


def test_log_settings_come_from_the_option_then_the_server_section() -> None:
    from overture.server.serve import LogOptions, ServeOptions, ServerError, log_options

    section = {"server": {"log_format": "json", "log_level": "warning"}}
    assert log_options(ServeOptions(), {}) == LogOptions("text", "info", access_log=False)
    assert log_options(ServeOptions(), section) == LogOptions("json", "warning", True)
    assert log_options(ServeOptions(log_format="text", access_log=True), section) == \
        LogOptions("text", "warning", True)
    assert log_options(ServeOptions(), {"server": {"log_format": "json",
                                                   "access_log": False}}).access_log is False
    with pytest.raises(ServerError, match="log level 'loud'"):
        log_options(ServeOptions(log_level="loud"), {})


def test_metrics_public_lets_anyone_scrape() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from overture.server.errors import ApiError
    from overture.server.routes_ops import metrics_access

    def request(public: bool, token: str | None, header: str = "") -> Any:
        server = SimpleNamespace(metrics_public=public, metrics_token=token,
                                 users=SimpleNamespace(user_for_token=lambda _: None))
        return cast(Any, SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(
            server=server)), headers={"authorization": header} if header else {},
            cookies={}))

    metrics_access(request(True, None))  # open: nothing asked
    metrics_access(request(False, "s3cret", "Bearer s3cret"))
    for refused in (request(False, None), request(False, "s3cret", "Bearer other"),
                    request(False, None, "Bearer anything")):  # no token set: none works
        with pytest.raises(ApiError) as caught:
            metrics_access(refused)
        assert caught.value.status == 401
