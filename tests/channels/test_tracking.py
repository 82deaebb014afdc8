"""Links become signed click redirects by index; the open pixel goes before </body>."""

from __future__ import annotations

import re
import uuid

from overture.channels.tokens import Signer
from overture.channels.tracking import track_html

SIGNER = Signer(b"k" * 32)
MID = uuid.UUID("12345678-1234-5678-1234-567812345678")
BASE = "https://t.shop.example"


def test_http_links_are_rewritten_by_index_and_others_kept() -> None:
    html = ('<html><body><a href="https://shop.example/sale?a=1&amp;b=2">Sale</a> '
            "<A class='x' HREF='http://shop.example/'>Home</A> "
            '<a href="mailto:help@shop.example">Help</a> <a href="#top">Top</a> '
            '<a href="https://t.shop.example/u/already">Unsubscribe</a></body></html>')
    tracked = track_html(html, base_url=BASE, signer=SIGNER, message_id=MID, pixel=False)
    assert tracked.links == ("https://shop.example/sale?a=1&b=2", "http://shop.example/")
    urls = re.findall(r"""href=["']([^"']+)""", tracked.html, re.IGNORECASE)
    assert urls[2:] == ["mailto:help@shop.example", "#top", "https://t.shop.example/u/already"]
    for index, url in enumerate(urls[:2]):
        assert url.startswith(f"{BASE}/c/")
        assert SIGNER.verify(url.rsplit("/", 1)[1]) == ("c", MID, index)
    assert "<img" not in tracked.html


def test_the_pixel_goes_before_the_last_closing_body_or_at_the_end() -> None:
    with_body = track_html("<body><p>Hi</p></BODY>", base_url=BASE, signer=SIGNER,
                           message_id=MID, pixel=True).html
    assert re.fullmatch(r'<body><p>Hi</p><img src="https://t\.shop\.example/o/[^"]+\.gif"'
                        r'[^>]*></BODY>', with_body)
    token = re.search(r"/o/([^\"]+)\.gif", with_body).group(1)  # type: ignore[union-attr]
    assert SIGNER.verify(token) == ("o", MID, None)
    fragment = track_html("<p>Hi</p>", base_url=BASE, signer=SIGNER, message_id=MID,
                          pixel=True).html
    assert fragment.startswith("<p>Hi</p><img ")
