"""A fake SMS/push provider: a real HTTP server on 127.0.0.1 for tests and benchmarks.

It understands the three shapes Overture's HTTP providers send (routed by path):

- Twilio: `POST /2010-04-01/Accounts/{sid}/Messages.json`, a form; the idempotency key
  is the `I-Twilio-Idempotency-Token` header; answers 201 `{"sid": "SM…", …}`.
- FCM HTTP v1: `POST /v1/projects/{project}/messages:send`, JSON `{"message": …}`; the
  key is `message.data.message_id`; answers 200 `{"name": "projects/…/messages/…"}`.
- anything else POSTed: the generic JSON webhook; the key is the `Idempotency-Key`
  header (else the body's `message_id`); answers 200 `{"id": "fake-…"}`.

Like a real provider it **deduplicates by idempotency key**: a key already delivered
answers 200 with the first answer's body, is counted in `duplicates_refused` and is
not delivered again. `requests` holds every request (refused ones too), `delivered`
one entry per key. Requests without a key are each delivered.

Faults, decided in this order for each request: `auth` (the exact expected value of
the `auth_header` header; 401 otherwise), then `fail_first`, `fail_every_nth`,
`fail_plan`, then deduplication and delivery. A fault is an HTTP status (`503`,
`"429"`), a `(status, message)` pair, `"drop"` (the connection is closed without an
answer and nothing is delivered) or `"lost"` (delivered, then the connection is closed
without an answer: the answer was lost). `retry_after` is sent as the `Retry-After`
header of every injected status.

- `fail_first={key: [429, 503]}`: the first requests bearing `key` get these faults in
  order; the key `None` stands for the first requests overall, whatever their key.
- `fail_every_nth=(10, 503)`: every 10th request (10th, 20th, … in arrival order).
- `fail_plan={"429": 0.1, "503": 0.05, "lost": 0.01}`: probabilities, drawn from a
  random generator seeded with `(seed, key, attempt)`, so a given attempt of a given
  message gets the same fault whatever the order in which threads arrive.

`close_keepalive_after=N` closes each connection silently (no `Connection: close`)
after N answers, as servers do with idle keep-alive connections. `delay` adds seconds
of latency to every answer. `reply=(status, text)` answers every accepted request with
that status and body instead of the shape's JSON (still delivered).

Separate-process mode, for kill -9 trials and benchmarks::

    python tests/support/http_provider.py --port 0 --record delivered.jsonl

prints `listening http://127.0.0.1:PORT` on stdout once ready and serves until SIGTERM
or SIGINT. Each delivered message is appended to the record file as one JSON line
(flushed per line): `{"key", "shape", "channel", "to", "body", "title", "data",
"from", "path", "received_at"}`. `--resume` first reads the record file's keys so
that messages delivered before a restart of the fake are still refused as duplicates.
`GET /stats` answers `{"requests", "delivered", "duplicates_refused", "connections"}`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import random
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

Fault = int | str | tuple[int, str]

TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
FCM_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")


def basic_auth(user: str, password: str) -> str:
    """The `Authorization` value of HTTP Basic authentication (Twilio's)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


@dataclass
class Request:
    """One request received; `fields` is the parsed body (form fields or JSON)."""

    index: int                     # arrival order, from 1
    connection: int                # which TCP connection carried it, from 1
    method: str
    path: str
    headers: Message
    body: bytes
    shape: str | None = None       # "http", "twilio", "fcm"; None for a malformed request
    fields: Any = None
    key: str | None = None         # the idempotency key
    status: int | None = None      # the answer's status; None when no answer was sent
    fault: Fault | None = None
    duplicate: bool = False
    delivered: bool = False
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def message(self) -> dict[str, Any]:
        """The message in one shape for every provider: channel, to, body, title, data."""
        fields = self.fields if isinstance(self.fields, dict) else {}
        if self.shape == "twilio":
            return {"channel": "sms", "to": fields.get("To"), "body": fields.get("Body"),
                    "title": None, "data": {},
                    "from": fields.get("From") or fields.get("MessagingServiceSid")}
        if self.shape == "fcm":
            inner = fields.get("message") or {}
            notification = inner.get("notification") or {}
            return {"channel": "push", "to": inner.get("token"),
                    "body": notification.get("body"), "title": notification.get("title"),
                    "data": inner.get("data") or {}, "from": None}
        return {"channel": fields.get("channel"), "to": fields.get("to"),
                "body": fields.get("body"), "title": fields.get("title"),
                "data": fields.get("data") or {}, "from": None}

    def record(self) -> dict[str, Any]:
        return {"key": self.key, "shape": self.shape, **self.message, "path": self.path,
                "received_at": self.received_at}


def _normalize_fault(fault: Fault) -> Fault:
    if isinstance(fault, str) and fault.isdigit():
        return int(fault)
    if isinstance(fault, str) and fault not in ("drop", "lost"):
        raise ValueError(f"unknown fault {fault!r}: an HTTP status, 'drop' or 'lost'")
    return fault


class FakeProvider:
    """A threaded HTTP server playing Twilio, FCM and a generic webhook; see the module."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 auth: str | None = None, auth_header: str = "Authorization",
                 fail_plan: Mapping[str | int, float] | None = None, seed: int = 0,
                 fail_first: Mapping[str | None, Sequence[Fault]] | None = None,
                 fail_every_nth: tuple[int, Fault] | None = None,
                 retry_after: str | None = None, close_keepalive_after: int | None = None,
                 delay: float = 0.0, reply: tuple[int, str] | None = None,
                 record: str | Path | None = None, resume: bool = False) -> None:
        self.host = host
        self.auth = auth
        self.auth_header = auth_header
        self.fail_plan = [(_normalize_fault(k), float(p)) for k, p in (fail_plan or {}).items()]
        if sum(p for _, p in self.fail_plan) > 1:
            raise ValueError("fail_plan's probabilities add up to more than 1")
        self.seed = seed
        self.fail_first = {k: [_normalize_fault(f) for f in v]
                           for k, v in (fail_first or {}).items()}
        self.fail_every_nth = None if fail_every_nth is None else \
            (int(fail_every_nth[0]), _normalize_fault(fail_every_nth[1]))
        self.retry_after = retry_after
        self.close_keepalive_after = close_keepalive_after
        self.delay = delay
        self.reply = reply
        self.duplicates_refused = 0
        self._lock = threading.Condition()
        self._requests: list[Request] = []
        self._delivered: list[Request] = []
        self._answers: dict[str, bytes] = {}       # key -> the first answer's body
        self._attempts: dict[str | None, int] = {}
        self._connections = itertools.count(1)
        self._connection_count = 0
        self._open: set[socket.socket] = set()
        self._record: IO[str] | None = None
        self._resumed: set[str] = set()
        if record is not None:
            path = Path(record)
            if resume and path.exists():
                for line in path.read_text(encoding="utf-8").splitlines():
                    with contextlib.suppress(ValueError, TypeError, KeyError):
                        key = json.loads(line)["key"]
                        if key:
                            self._resumed.add(key)
                            self._answers[key] = json.dumps({"id": key}).encode()
            self._record = open(path, "a", encoding="utf-8")  # noqa: SIM115 - until stop()
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # ---- life ----
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeProvider:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.01},
                                            name=f"fake-provider-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (clients see them closed)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._record is not None:
            self._record.close()
            self._record = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what happened ----
    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def delivered(self) -> list[Request]:
        with self._lock:
            return list(self._delivered)

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted so far."""
        with self._lock:
            return self._connection_count

    def delivered_keys(self) -> list[str | None]:
        return [r.key for r in self.delivered]

    def wait_delivered(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until at least `count` messages are delivered; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._delivered) >= count, timeout)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"requests": len(self._requests), "delivered": len(self._delivered),
                    "duplicates_refused": self.duplicates_refused,
                    "connections": self._connection_count}

    # ---- deciding ----
    def _fault(self, request: Request) -> Fault | None:
        """Called under the lock, once the request is counted."""
        attempt = self._attempts[request.key] if request.key is not None else request.index
        if request.key is not None and request.key in self.fail_first:
            plan = self.fail_first[request.key]
            if attempt <= len(plan):
                return plan[attempt - 1]
        if None in self.fail_first and request.index <= len(self.fail_first[None]):
            return self.fail_first[None][request.index - 1]
        if self.fail_every_nth is not None and request.index % self.fail_every_nth[0] == 0:
            return self.fail_every_nth[1]
        if self.fail_plan:
            draw = random.Random(f"{self.seed}:{request.key}:{attempt}").random()
            for fault, probability in self.fail_plan:
                if draw < probability:
                    return fault
                draw -= probability
        return None

    def _answer(self, request: Request, number: int) -> tuple[int, bytes]:
        if self.reply is not None:
            return self.reply[0], self.reply[1].encode("utf-8")
        if request.shape == "twilio":
            sid = "SM" + uuid.uuid5(uuid.NAMESPACE_URL, request.key or str(number)).hex
            fields = request.fields
            return 201, json.dumps({"sid": sid, "status": "queued", "to": fields.get("To"),
                                    "body": fields.get("Body")}).encode()
        if request.shape == "fcm":
            project = request.path.split("/")[3]
            return 200, json.dumps({"name": f"projects/{project}/messages/{number}"}).encode()
        return 200, json.dumps({"id": f"fake-{number}"}).encode()

    def handle(self, request: Request) -> tuple[int | str, bytes, dict[str, str]]:
        """(status or "drop"/"lost", body, headers) for one parsed request; records it."""
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            request.index = len(self._requests) + 1
            self._requests.append(request)
            if request.shape is None:
                return self._refuse(request, 400, "malformed request")
            if self.auth is not None and request.header(self.auth_header) != self.auth:
                return self._refuse(request, 401, "unauthorized")
            self._attempts[request.key] = self._attempts.get(request.key, 0) + 1
            fault = self._fault(request)
            request.fault = fault
            if fault == "drop":
                return "drop", b"", {}
            if fault is not None and fault != "lost":
                status, text = fault if isinstance(fault, tuple) else (int(fault), None)
                return self._refuse(request, status, text or f"injected {status}", retry=True)
            if request.key is not None and request.key in self._answers:
                self.duplicates_refused += 1
                request.duplicate = True
                request.status = 200
                return ("lost" if fault == "lost" else 200), self._answers[request.key], {}
            status, body = self._answer(request, len(self._delivered) + 1)
            request.delivered = True
            request.status = status
            self._delivered.append(request)
            if request.key is not None:
                self._answers[request.key] = body
            if self._record is not None:
                self._record.write(json.dumps(request.record(), ensure_ascii=False) + "\n")
                self._record.flush()
            self._lock.notify_all()
            return ("lost" if fault == "lost" else status), body, {}

    def _refuse(self, request: Request, status: int, text: str,
                retry: bool = False) -> tuple[int, bytes, dict[str, str]]:
        request.status = status
        if request.shape == "twilio":
            body: Any = {"code": 20000 + status, "message": text, "status": status}
        elif request.shape == "fcm":
            names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND",
                     429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
            body = {"error": {"code": status, "message": text,
                              "status": names.get(status, "INTERNAL")}}
        else:
            body = {"error": text}
        headers = {}
        if retry and self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return status, json.dumps(body).encode(), headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    fake: FakeProvider


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # else each answer waits for a delayed ACK (40 ms)
    server: _Server

    def setup(self) -> None:
        super().setup()
        fake = self.server.fake
        with fake._lock:
            self.connection_number = next(fake._connections)
            fake._connection_count += 1
            fake._open.add(self.connection)
        self.answered = 0

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        fake = self.server.fake
        with fake._lock:
            fake._open.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.answered += 1
        limit = self.server.fake.close_keepalive_after
        if limit is not None and self.answered >= limit:
            self.close_connection = True       # silently: no Connection: close header

    def do_GET(self) -> None:
        if self.path == "/stats":
            self._send(200, json.dumps(self.server.fake.stats()).encode())
        elif self.path == "/health":
            self._send(200, b"ok", content_type="text/plain")
        else:
            self._send(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = Request(index=0, connection=self.connection_number, method="POST",
                          path=self.path, headers=self.headers, body=raw)
        _parse(request)
        status, body, headers = self.server.fake.handle(request)
        if isinstance(status, str):             # "drop" or "lost": no answer at all
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        content_type = "text/plain; charset=utf-8" if self.server.fake.reply is not None \
            and request.delivered else "application/json"
        self._send(status, body, headers, content_type)


def _parse(request: Request) -> None:
    """Fill in shape, fields and key; leave shape None when the body does not parse."""
    try:
        if TWILIO_PATH.match(request.path):
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True,
                            strict_parsing=bool(request.body))
            request.fields = {name: values[0] for name, values in form.items()}
            request.key = request.header("I-Twilio-Idempotency-Token")
            request.shape = "twilio"
        elif FCM_PATH.match(request.path):
            fields = json.loads(request.body)
            data = fields["message"].get("data") or {}
            request.fields = fields
            request.key = data.get("message_id")
            request.shape = "fcm"
        else:
            fields = json.loads(request.body)
            if not isinstance(fields, dict):
                raise ValueError("not an object")
            request.fields = fields
            request.key = request.header("Idempotency-Key") or fields.get("message_id")
            request.shape = "http"
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        request.shape = None


# ---- separate-process mode ----
def _parse_plan(text: str) -> dict[str | int, float]:
    """`429=0.1,503=0.05,lost=0.01`"""
    plan: dict[str | int, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        fault, _, probability = item.partition("=")
        plan[fault.strip()] = float(probability)
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake Twilio/FCM/webhook provider.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--record", help="append each delivered message to this JSONL file")
    parser.add_argument("--resume", action="store_true",
                        help="refuse as duplicates the keys already in the record file")
    parser.add_argument("--auth", help="the exact Authorization value expected")
    parser.add_argument("--auth-header", default="Authorization")
    parser.add_argument("--fail-plan", default="", help="e.g. 429=0.1,503=0.05,lost=0.01")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retry-after", help="Retry-After value of injected statuses")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--close-keepalive-after", type=int)
    args = parser.parse_args(argv)
    fake = FakeProvider(host=args.host, port=args.port, auth=args.auth,
                        auth_header=args.auth_header, fail_plan=_parse_plan(args.fail_plan),
                        seed=args.seed, retry_after=args.retry_after, delay=args.delay,
                        close_keepalive_after=args.close_keepalive_after,
                        record=args.record, resume=args.resume)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    fake.start()
    print(f"listening {fake.url}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        fake.stop()
        print(json.dumps(fake.stats()), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
