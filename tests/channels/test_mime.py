"""Email MIME: structure, headers and the text derived from HTML, parsed back."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest

from overture.channels.mime import build_email, html_to_text
from overture.channels.render import RenderedMessage

NEWSLETTER = """<!DOCTYPE html>
<html><head><title>Spring</title><meta charset="utf-8">
<style>p { color: #333 } .hide { display: none }</style>
<script>var tracking = "nope";</script></head>
<body>
<table width="600"><tr><td>
  <img src="https://cdn.shop.example/logo.png" alt="Maison Dupont">
  <h1>Spring   collection</h1>
</td></tr>
<tr><td>
  <p>Bonjour Zoé,</p>
  <p>Our new pieces are <strong>here</strong>, and your code
     <b>SPRING20</b> gives you 20&nbsp;% off &amp; free shipping.</p>
  <p><a href="https://shop.example/spring?utm=mail&amp;id=7">Shop the collection</a></p>
  <ul>
    <li>Linen shirts</li>
    <li>Straw hats</li>
  </ul>
  <p>Questions? Write to <a href="mailto:help@shop.example">our team</a>.<br>
  We answer within a day.</p>
</td></tr>
<tr><td>
  <hr>
  <p class="footer">
    <a href="https://shop.example/u/abc">Unsubscribe</a> |
    <a href="https://shop.example">https://shop.example</a> |
    <a href="#top">Back to top</a>
  </p>
</td></tr></table>
</body></html>
"""


def parse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def build(rendered: RenderedMessage, **kwargs: object) -> EmailMessage:
    settings: dict[str, object] = {
        "from_": "Maison Dupont <news@shop.example>",
        "to": "Zoé Müller <zoe@example.com>",
        "message_id": "0b6f2a1e-run1",
    }
    settings.update(kwargs)
    return build_email(rendered, **settings)  # type: ignore[arg-type]


def test_html_to_text_on_a_newsletter() -> None:
    text = html_to_text(NEWSLETTER)
    assert text == (
        "Maison Dupont\n"
        "\n"
        "Spring collection\n"
        "\n"
        "Bonjour Zoé,\n"
        "\n"
        "Our new pieces are here, and your code SPRING20 gives you 20\xa0% off & free "
        "shipping.\n"
        "\n"
        "Shop the collection (https://shop.example/spring?utm=mail&id=7)\n"
        "\n"
        "- Linen shirts\n"
        "- Straw hats\n"
        "\n"
        "Questions? Write to our team (help@shop.example).\n"
        "We answer within a day.\n"
        "\n"
        "----------\n"
        "\n"
        "Unsubscribe (https://shop.example/u/abc) | https://shop.example | Back to top\n"
    )
    assert "tracking" not in text and "color" not in text and "Spring\n" not in text


def test_html_to_text_small_cases() -> None:
    assert html_to_text("<p>a</p><p>b</p>") == "a\n\nb\n"
    assert html_to_text("a<br>b<br/>c") == "a\nb\nc\n"
    assert html_to_text('<a href="https://x.example"></a>') == "https://x.example\n"
    assert html_to_text("<pre>  keep\n   spaces</pre>") == "  keep\n   spaces\n"


def test_multipart_alternative_text_first_then_html() -> None:
    rendered = RenderedMessage(subject="Spring", html="<p>Hello <b>Zoé</b></p>",
                               text="Hello Zoé (text)")
    parsed = parse(build(rendered))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().strip() == "Hello Zoé (text)"
    assert parts[1].get_content().strip() == "<p>Hello <b>Zoé</b></p>"
    assert all(p.get_content_charset() == "utf-8" for p in parts)


def test_text_is_derived_from_html_when_missing() -> None:
    parsed = parse(build(RenderedMessage(subject="s", html=NEWSLETTER)))
    plain = next(parsed.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().replace("\r\n", "\n") == html_to_text(NEWSLETTER)


def test_text_only_message_is_single_part() -> None:
    parsed = parse(build(RenderedMessage(subject="s", text="just text")))
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().strip() == "just text"


def test_headers_and_non_ascii() -> None:
    when = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    msg = build(RenderedMessage(subject="Bonjour Zoé — 20 % de remise ✿", html="<p>x</p>"),
                from_="Café Dupont <news@shop.example>",
                reply_to="Service client <help@shop.example>",
                list_unsubscribe="https://shop.example/u/abc", one_click=True, date=when)
    raw = msg.as_bytes()
    assert max(raw) < 128  # 7-bit clean on the wire
    parsed = parse(msg)
    assert parsed["Subject"] == "Bonjour Zoé — 20 % de remise ✿"
    assert parsed["From"].addresses[0].display_name == "Café Dupont"
    assert parsed["From"].addresses[0].addr_spec == "news@shop.example"
    assert parsed["To"].addresses[0].display_name == "Zoé Müller"
    assert parsed["To"].addresses[0].addr_spec == "zoe@example.com"
    assert parsed["Reply-To"].addresses[0].addr_spec == "help@shop.example"
    assert parsed["Message-ID"] == "<0b6f2a1e-run1@shop.example>"
    assert parsed["Date"].datetime == when
    assert parsed["List-Unsubscribe"] == "<https://shop.example/u/abc>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_unsubscribe_headers_unless_given() -> None:
    parsed = parse(build(RenderedMessage(subject="s", text="t")))
    assert parsed["List-Unsubscribe"] is None
    assert parsed["List-Unsubscribe-Post"] is None
    assert parsed["Reply-To"] is None
    parsed = parse(build(RenderedMessage(subject="s", text="t"),
                         list_unsubscribe="mailto:u@shop.example", one_click=False))
    assert parsed["List-Unsubscribe"] == "<mailto:u@shop.example>"
    assert parsed["List-Unsubscribe-Post"] is None


def test_message_id_domain_falls_back_to_overture() -> None:
    parsed = parse(build(RenderedMessage(subject="s", text="t"), from_="news",
                         message_id="<m1>"))
    assert parsed["Message-ID"] == "<m1@overture>"


def test_subject_with_newline_cannot_inject_headers() -> None:
    parsed = parse(build(RenderedMessage(subject="Hi\r\nBcc: evil@x.example", text="t")))
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Hi Bcc: evil@x.example"


def test_invalid_requests() -> None:
    with pytest.raises(ValueError, match="neither html nor text"):
        build(RenderedMessage(subject="s"))
    with pytest.raises(ValueError, match="https"):
        build(RenderedMessage(subject="s", text="t"), list_unsubscribe="mailto:u@x.example",
              one_click=True)
    with pytest.raises(ValueError, match="needs list_unsubscribe"):
        build(RenderedMessage(subject="s", text="t"), one_click=True)


def test_a_long_unsubscribe_url_stays_a_literal_url() -> None:
    url = "https://t.example.com/u/" + "a1b2c3d4" * 12
    message = build_email(RenderedMessage(subject="s", html="<p>x</p>"), from_="a@b.example",
                          to="c@d.example", message_id="m1", list_unsubscribe=url,
                          one_click=True)
    raw = message.as_bytes()
    assert f"List-Unsubscribe: <{url}>\r\n".encode() in raw
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


@pytest.mark.parametrize("subject", [
    "Chloé, les nouveautés de mars",
    "Zoé, " + "très " * 60 + "long ☕ 😀",          # folded over several encoded words
    "日本語の件名" * 20,
])
def test_non_ascii_subjects_round_trip_in_short_lines(subject: str) -> None:
    raw = build(RenderedMessage(subject=subject, text="x")).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert parse(build(RenderedMessage(subject=subject, text="x")))["Subject"] == subject
