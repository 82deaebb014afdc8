"""The server's logs: human-readable lines (the default) or one JSON object a line.

`overture serve --log-format json` (or `OVERTURE_LOG_FORMAT=json`, or `log_format` under
`[server]`) writes every record of the server, uvicorn's access log included, as

    {"timestamp": "2027-03-01T08:00:03.480Z", "level": "info", "logger": "overture.run",
     "message": "sent 480, failed 2 this time; ...", "run": "7bc614056875",
     "campaign": "spring-sale", "mode": "live", "activity": "vip_mail"}

Context comes from two places: `log_context(run=..., campaign=...)`, which a worker
holds while it executes a run (and the runner while it executes an activity), and the
`extra` of a record. Every line of a run's log (the control plane's) is also a record
of the `overture.run` logger, with the run and the activity: a log shipper sees the run
events the API shows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
#: the context fields, in the order they are written
CONTEXT = ("run", "campaign", "mode", "activity")
RUN_LOGGER = "overture.run"

_context: ContextVar[dict[str, str] | None] = ContextVar("overture_log_context", default=None)
run_logger = logging.getLogger(RUN_LOGGER)
# records of run events are made everywhere (the CLI too), shown only where a handler is
# configured (the server): without one, Python's last-resort handler would print them
run_logger.addHandler(logging.NullHandler())

_LEVEL_OF = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
             "error": logging.ERROR}


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Fields every record made in this thread (task) carries while the block runs."""
    current = dict(_context.get() or {})
    current.update({key: str(value) for key, value in fields.items() if value is not None})
    token = _context.set(current)
    try:
        yield
    finally:
        _context.reset(token)


def context() -> dict[str, str]:
    return dict(_context.get() or {})


def run_event(run_id: str, message: str, level: str = "info",
              activity_id: str | None = None) -> None:
    """A line of a run's log, as a log record of `overture.run`."""
    number = _LEVEL_OF.get(level, logging.INFO)
    if run_logger.isEnabledFor(number):
        extra: dict[str, Any] = {"run": run_id}
        if activity_id is not None:
            extra["activity"] = activity_id
        run_logger.log(number, "%s", message, extra=extra)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context of a record: the thread's, then the record's own `extra`."""
    fields: dict[str, Any] = dict(_context.get() or {})
    for name in CONTEXT:
        value = getattr(record, name, None)
        if value is not None:
            fields[name] = value
    return fields


def _access(record: logging.LogRecord) -> dict[str, Any]:
    """uvicorn's access record: (client, method, path, HTTP version, status)."""
    args = record.args
    if record.name != "uvicorn.access" or not isinstance(args, tuple) or len(args) != 5:
        return {}
    client, method, path, version, status = args
    return {"client": client, "method": method, "path": path, "http_version": version,
            "status": status}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: timestamp (UTC, ms), level, logger, message, context."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "timestamp": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_fields(record))
        entry.update(_access(record))
        entry["thread"] = record.threadName
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2027-03-01 09:00:03,480 INFO overture.run [run=… activity=…] message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        record.context = (" [" + " ".join(f"{k}={fields[k]}" for k in CONTEXT if k in fields)
                          + "]") if fields else ""
        return super().format(record)


def configure(log_format: str = "text", level: str = "info", *,
              stream: TextIO | None = None) -> logging.Handler:
    """Send every record of the process to one handler on `stream` (stderr): the root
    logger's only handler, so uvicorn's loggers (configured by us, not by uvicorn) and
    ours share it. Warnings, and exceptions that escape a thread, become records too."""
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {', '.join(FORMATS)}")
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_LEVEL_OF[level])
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True
    # uvicorn's own start-up lines repeat what the server announces
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, _LEVEL_OF[level]))
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    # Alembic says which dialect it found at every start: not news
    logging.getLogger("alembic").setLevel(max(logging.WARNING, _LEVEL_OF[level]))
    logging.captureWarnings(True)
    threading.excepthook = _thread_exception
    return handler


def _thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    info: tuple[type[BaseException], BaseException, TracebackType | None] | None = None
    if args.exc_value is not None:
        info = (args.exc_type, args.exc_value, args.exc_traceback)
    logging.getLogger("overture.server").error("uncaught exception in thread %s", name,
                                               exc_info=info)
