"""Running the server: hold the workspace, recover, schedule, serve, shut down cleanly.

The workspace is held with an exclusive lock on `.overture/server.lock`, so a second
server on the same workspace refuses to start; `.overture/server.json` tells the CLI
where the server listens and gives it a token of the first admin (the file is readable
by its owner only: whoever can read the workspace's files holds it anyway).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overture.auth import Role
from overture.data.workspace import SharedWorkspace
from overture.engine.clock import Clock, clock_from_env
from overture.errors import OvertureError
from overture.observability import logs
from overture.store.users import UserRepository

LOCK_NAME = "server.lock"
INFO_NAME = "server.json"
CLI_TOKEN = "local-cli"
logger = logging.getLogger("overture.server")


class ServerError(OvertureError):
    pass


@contextlib.contextmanager
def hold_workspace(state_dir: Path) -> Iterator[None]:
    path = state_dir / LOCK_NAME
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ServerError(f"another server holds this workspace ({path}); stop it first, "
                          "or point the CLI at it with OVERTURE_URL") from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def server_info(state_dir: Path) -> dict[str, Any] | None:
    """The running server of a workspace, or None when none holds it."""
    path = state_dir / INFO_NAME
    lock = state_dir / LOCK_NAME
    if not path.exists() or not lock.exists():
        return None
    with lock.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: a server is running
        else:
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None  # a stale file from a server that died
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _write_info(state_dir: Path, url: str, token: str) -> None:
    path = state_dir / INFO_NAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"url": url, "pid": os.getpid(), "token": token}, handle)
    os.replace(tmp, path)


def _cli_token(users: UserRepository) -> str:
    """A fresh token of the first enabled admin for the local CLI; older ones revoked."""
    admins = [u for u in users.list_users() if u.role == Role.ADMIN and u.enabled]
    if not admins:
        raise ServerError("no enabled admin: add one with `overture users add NAME --role "
                          "admin`")
    admin = admins[0]
    for token in users.list_tokens(admin.username):
        if token.name == CLI_TOKEN and token.revoked_at is None:
            users.revoke_token(token.id)
    _, secret = users.create_token(admin.username, CLI_TOKEN)
    return secret


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    tick: float = 1.0
    #: None: `[server] log_format`, else text (the CLI reads OVERTURE_LOG_FORMAT first)
    log_format: str | None = None
    #: None: `[server] log_level`, else info
    log_level: str | None = None
    #: uvicorn's access log; None: `[server] access_log`, else on with JSON logs only
    access_log: bool | None = None


@dataclass(frozen=True)
class LogOptions:
    log_format: str
    level: str
    access_log: bool


def log_options(options: ServeOptions, config: dict[str, Any]) -> LogOptions:
    """The options as given, else as `[server]` sets them, else the defaults."""
    from overture.server.state import server_settings

    settings = server_settings(config)
    log_format = str(options.log_format or settings.get("log_format") or "text").lower()
    level = str(options.log_level or settings.get("log_level") or "info").lower()
    access = options.access_log
    if access is None:
        access = bool(settings.get("access_log", log_format == "json"))
    if log_format not in logs.FORMATS:
        raise ServerError(f"log format {log_format!r}: expected one of "
                          f"{', '.join(logs.FORMATS)}")
    if level not in logs.LEVELS:
        raise ServerError(f"log level {level!r}: expected one of {', '.join(logs.LEVELS)}")
    return LogOptions(log_format, level, access)


def serve(root: Path, options: ServeOptions, clock: Clock | None = None,
          announce: Any = print) -> None:
    """Run until SIGTERM or SIGINT; returns after a clean shutdown."""
    import uvicorn
    from fastapi import FastAPI

    from overture.server.app import create_app
    from overture.server.state import ServerState
    from overture.store.users import ensure_first_admin

    ws = SharedWorkspace.hold(root)
    logging_ = log_options(options, ws.config)
    logs.configure(logging_.log_format, logging_.level)
    if logging_.log_format == "json":  # every line a JSON object: announcements too
        announce = logger.info
    with hold_workspace(ws.state_dir):
        password = ensure_first_admin(ws.control)
        if password is not None:
            announce(f"first admin: admin / {password} (shown once)")
        state = ServerState(ws, clock or clock_from_env(), workers=options.workers,
                            tick=options.tick)
        url = f"http://{options.host}:{options.port}"
        token = _cli_token(state.users)
        app = create_app(state)

        # started before uvicorn: a part that cannot start (a port taken by the SMTP
        # receiver, say) is a clean error here, not a traceback from the app's startup
        state.start()

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            _write_info(ws.state_dir, url, token)
            announce(f"Overture serving {ws.root} at {url} (API docs: {url}/api/docs)")
            try:
                yield
            finally:
                announce("shutting down: finishing the messages in flight")
                (ws.state_dir / INFO_NAME).unlink(missing_ok=True)
                state.stop()
                announce("stopped cleanly")

        app.router.lifespan_context = lifespan
        from overture.tracking.endpoints import TrackingApp

        # logging is ours (logs.configure): uvicorn's loggers write through our handler
        config = uvicorn.Config(TrackingApp(app, state.tracker), host=options.host,
                                port=options.port, log_config=None, log_level=None,
                                access_log=logging_.access_log, lifespan="on")
        # uvicorn handles SIGTERM (a graceful shutdown), then raises it again for the
        # handler it found: a quiet one makes the clean shutdown exit with status 0
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: None)
        try:
            uvicorn.Server(config).run()
        finally:
            state.stop()  # a second stop after the lifespan's changes nothing
            ws.close()
