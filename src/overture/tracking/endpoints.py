"""The tracking endpoints: no login, by design — the signed token is the credential.

The pixel and the click are served by `TrackingApp`, a bare ASGI layer in front of the
API (most of the traffic); the unsubscribe pages by a FastAPI router.

- `GET /o/TOKEN.gif`: the open pixel, always answered with the image whatever the
  token (a bad one records nothing);
- `GET /c/TOKEN`: the click redirect, to the URL stored for that message and link,
  never one taken from the request; a bad token gets a page, not a redirect;
- `GET /u/TOKEN`: a confirmation page; `POST /u/TOKEN` unsubscribes (RFC 8058:
  mail clients post `List-Unsubscribe=One-Click` to the same URL).
"""

from __future__ import annotations

import html
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from overture.channels.tokens import Signer, TokenError
from overture.data import events
from overture.data.plane import DataPlane
from overture.tracking.sink import EventSink

#: the smallest transparent GIF
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c000000"
                      "00010001000002024401003b")
NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, private"}
#: user agents of mail privacy proxies and link scanners: their hits are flagged
MACHINE_AGENTS = re.compile(
    r"googleimageproxy|yahoomailproxy|bot\b|crawler|spider|scanner|barracuda|proofpoint|"
    r"mimecast|symantec|forcepoint|safelinks|trendmicro|appriver", re.IGNORECASE)
LINK_CACHE = 100_000


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        "</title><meta name='viewport' content='width=device-width'></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>", status_code=status,
        headers=NO_CACHE)


class Tracker:
    """Verifies tokens, queues events, and looks click targets up (cached per message).

    Everything but a message's first click runs on the event loop without blocking:
    an HMAC check and a queue append."""

    def __init__(self, signer: Signer, sink: EventSink, plane: Callable[[], DataPlane]):
        self.signer = signer
        self.sink = sink
        self.plane = plane
        self._links: OrderedDict[str, dict[int, str]] = OrderedDict()  # by message id
        self._lock = threading.Lock()

    def verify(self, token: str, kind: str) -> tuple[uuid.UUID, int | None] | None:
        try:
            got, mid, index = self.signer.verify(token)
        except TokenError:
            return None
        return (mid, index) if got == kind else None

    def record(self, kind: str, mid: uuid.UUID, agent: str, method: str = "GET",
               **extra: object) -> None:
        machine = bool(MACHINE_AGENTS.search(agent)) or method == "HEAD"
        self.sink.put({"event_id": uuid.uuid4().hex, "message_id": str(mid), "type": kind,
                       "at": datetime.now(UTC), "machine": machine, "detail": agent[:300],
                       "source": "tracking", **extra})

    def cached_link(self, mid: uuid.UUID, index: int) -> tuple[bool, str | None]:
        """(known, url): whether this message's links are cached, and the link's URL."""
        with self._lock:
            links = self._links.get(str(mid))
            if links is None:
                return False, None
            self._links.move_to_end(str(mid))
            return True, links.get(index)

    def load_links(self, mid: uuid.UUID) -> dict[int, str]:
        links = events.message_links(self.plane(), str(mid))
        with self._lock:
            self._links[str(mid)] = links
            if len(self._links) > LINK_CACHE:
                self._links.popitem(last=False)
        return links


def tracking_router(tracker: Tracker) -> APIRouter:
    router = APIRouter(tags=["tracking"])

    @router.get("/u/{token}", include_in_schema=False)
    async def unsubscribe_page(token: str) -> Response:
        if tracker.verify(token, "u") is None:
            return _page("This link is not valid", "<p>Nothing was changed.</p>", 404)
        action = html.escape(token, quote=True)
        return _page("Unsubscribe", f"<form method='post' action='{action}'>"
                     "<p>Stop receiving these messages?</p>"
                     "<button type='submit' name='List-Unsubscribe' value='One-Click'>"
                     "Unsubscribe</button></form>")

    @router.post("/u/{token}", include_in_schema=False)
    async def unsubscribe(token: str, request: Request) -> Response:
        found = tracker.verify(token, "u")
        if found is None:
            return _page("This link is not valid", "<p>Nothing was changed.</p>", 404)
        tracker.record("unsubscribe", found[0], request.headers.get("user-agent", ""),
                       request.method)
        return _page("You are unsubscribed", "<p>You will not receive these messages "
                     "any more.</p>")

    return router


class TrackingApp:
    """The open pixel and the click redirect as a bare ASGI layer in front of the app.

    They are most of the traffic, and need neither routing nor request parsing: an
    HMAC check and a queue append. Everything else goes on to the wrapped app.
    """

    def __init__(self, app: Any, tracker: Tracker):
        self.app = app
        self.tracker = tracker

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path: str = scope["path"]
            if path.startswith("/o/") and path.endswith(".gif"):
                await self._open(scope, path[3:-4], send)
                return
            if path.startswith("/c/"):
                await self._click(scope, path[3:], send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _agent(scope: dict[str, Any]) -> str:
        for name, value in scope["headers"]:
            if name == b"user-agent":
                return str(value.decode("latin-1"))
        return ""

    async def _open(self, scope: dict[str, Any], token: str, send: Any) -> None:
        found = self.tracker.verify(token, "o")
        if found is not None:
            self.tracker.record("open", found[0], self._agent(scope), scope["method"])
        await _respond(send, 200, PIXEL, b"image/gif")

    async def _click(self, scope: dict[str, Any], token: str, send: Any) -> None:
        found = self.tracker.verify(token, "c")
        index = found[1] if found is not None else None
        if found is None or index is None:
            page = _page("This link is not valid", "<p>It may have been copied "
                         "incompletely. Nothing was recorded.</p>", 404)
            await _respond(send, 404, bytes(page.body), b"text/html; charset=utf-8")
            return
        mid = found[0]
        known, url = self.tracker.cached_link(mid, index)
        if not known:  # the one query per message runs off the event loop
            url = (await run_in_threadpool(self.tracker.load_links, mid)).get(index)
        if url is None:
            page = _page("This link is no longer available",
                         "<p>The message it belongs to is unknown here.</p>", 404)
            await _respond(send, 404, bytes(page.body), b"text/html; charset=utf-8")
            return
        self.tracker.record("click", mid, self._agent(scope), scope["method"], link=index,
                            url=url)
        await _respond(send, 302, b"", None, [(b"location", url.encode())])


async def _respond(send: Any, status: int, body: bytes, content_type: bytes | None,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-length", str(len(body)).encode()),
               (b"cache-control", NO_CACHE["Cache-Control"].encode()), *(extra or [])]
    if content_type:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
