"""The tracking endpoints: no login, by design — the signed token is the credential.

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

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

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
    """Verifies tokens, queues events, and looks click targets up (with a cache)."""

    def __init__(self, signer: Signer, sink: EventSink, plane: Callable[[], DataPlane]):
        self.signer = signer
        self.sink = sink
        self.plane = plane
        self._links: OrderedDict[tuple[str, int], str | None] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str, kind: str) -> tuple[uuid.UUID, int | None] | None:
        try:
            got, mid, index = self.signer.verify(token)
        except TokenError:
            return None
        return (mid, index) if got == kind else None

    def record(self, kind: str, mid: uuid.UUID, request: Request, **extra: object) -> None:
        agent = request.headers.get("user-agent", "")
        machine = bool(MACHINE_AGENTS.search(agent)) or request.method == "HEAD"
        self.sink.put({"event_id": uuid.uuid4().hex, "message_id": str(mid), "type": kind,
                       "at": datetime.now(UTC), "machine": machine, "detail": agent[:300],
                       "source": "tracking", **extra})

    def link(self, mid: uuid.UUID, index: int) -> str | None:
        key = (str(mid), index)
        with self._lock:
            if key in self._links:
                self._links.move_to_end(key)
                return self._links[key]
        url = events.link_url(self.plane(), key[0], index)
        with self._lock:
            self._links[key] = url
            if len(self._links) > LINK_CACHE:
                self._links.popitem(last=False)
        return url


def tracking_router(tracker: Tracker) -> APIRouter:
    router = APIRouter(tags=["tracking"])

    @router.api_route("/o/{token}.gif", methods=["GET", "HEAD"], include_in_schema=False)
    def open_pixel(token: str, request: Request) -> Response:
        found = tracker.verify(token, "o")
        if found is not None:
            tracker.record("open", found[0], request)
        return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)

    @router.api_route("/c/{token}", methods=["GET", "HEAD"], include_in_schema=False)
    def click(token: str, request: Request) -> Response:
        found = tracker.verify(token, "c")
        index = found[1] if found is not None else None
        if found is None or index is None:
            return _page("This link is not valid", "<p>It may have been copied "
                         "incompletely. Nothing was recorded.</p>", 404)
        mid = found[0]
        url = tracker.link(mid, index)
        if url is None:
            return _page("This link is no longer available",
                         "<p>The message it belongs to is unknown here.</p>", 404)
        tracker.record("click", mid, request, link=index, url=url)
        return RedirectResponse(url, status_code=302, headers=NO_CACHE)

    @router.get("/u/{token}", include_in_schema=False)
    def unsubscribe_page(token: str) -> Response:
        if tracker.verify(token, "u") is None:
            return _page("This link is not valid", "<p>Nothing was changed.</p>", 404)
        action = html.escape(token, quote=True)
        return _page("Unsubscribe", f"<form method='post' action='{action}'>"
                     "<p>Stop receiving these messages?</p>"
                     "<button type='submit' name='List-Unsubscribe' value='One-Click'>"
                     "Unsubscribe</button></form>")

    @router.post("/u/{token}", include_in_schema=False)
    def unsubscribe(token: str, request: Request) -> Response:
        found = tracker.verify(token, "u")
        if found is None:
            return _page("This link is not valid", "<p>Nothing was changed.</p>", 404)
        tracker.record("unsubscribe", found[0], request)
        return _page("You are unsubscribed", "<p>You will not receive these messages "
                     "any more.</p>")

    return router
