"""Click and open tracking in email: links rewritten to signed redirects, a pixel added.

A link's token carries the message id and the link's index, never its URL: the click
endpoint looks the URL up in the links table written when the message was sent, so a
token cannot be made to redirect anywhere else. Only http(s) links in `<a href>` are
tracked; mailto:, tel:, anchors and the unsubscribe link stay as written.
"""

from __future__ import annotations

import html as htmllib
import re
import uuid
from dataclasses import dataclass

from overture.channels.tokens import Signer

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Tracked:
    html: str
    links: tuple[str, ...]  # the original URLs, by index


def click_url(base_url: str, signer: Signer, message_id: uuid.UUID | str, index: int) -> str:
    return f"{base_url.rstrip('/')}/c/{signer.sign('c', message_id, index)}"


def open_url(base_url: str, signer: Signer, message_id: uuid.UUID | str) -> str:
    return f"{base_url.rstrip('/')}/o/{signer.sign('o', message_id)}.gif"


def track_html(html: str, *, base_url: str, signer: Signer, message_id: uuid.UUID | str,
               pixel: bool, skip: frozenset[str] = frozenset()) -> Tracked:
    links: list[str] = []
    base = base_url.rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        target = htmllib.unescape(match.group(3).strip())
        lowered = target.lower()
        if not lowered.startswith(("http://", "https://")) or target in skip \
                or target.startswith(base + "/"):
            return match.group(0)
        links.append(target)
        url = click_url(base, signer, message_id, len(links) - 1)
        return f"{match.group(1)}{match.group(2)}{url}{match.group(2)}"

    out = _HREF.sub(rewrite, html)
    if pixel:
        img = (f'<img src="{open_url(base, signer, message_id)}" width="1" height="1" '
               'alt="" style="display:block;border:0;width:1px;height:1px">')
        ends = [m.start() for m in _BODY_END.finditer(out)]
        out = out[:ends[-1]] + img + out[ends[-1]:] if ends else out + img
    return Tracked(out, tuple(links))
