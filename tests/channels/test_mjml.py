"""MJML email content: compiled once to an HTML template with its Jinja tags intact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mjml import mjml2html

from engine.kit import Harness, campaign
from overture.channels import mjml as mjml_module
from overture.channels.mime import html_to_text
from overture.channels.mjml import compile_mjml, escape_text_gt, is_mjml
from overture.channels.render import (
    CompiledContent,
    ContentError,
    check_variables,
    compile_template,
    load_content,
    render_message,
)
from overture.definition.activities import Email
from overture.definition.campaign import parse_document
from overture.definition.validation import validate
from overture.engine.api import run_campaign_file
from overture.engine.environment import environment_for
from support.workspace import CLOCK, make_workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "content" / "spring-sale.mjml"
PROFILE = {"id": 7, "first_name": "Zoé", "city": "Lyon", "loyalty_tier": "gold",
           "language": "fr"}


def mjml(body: str, head: str = "") -> str:
    """An MJML document with `body` inside one section and column."""
    return (f"<mjml>\n<mj-head>{head}</mj-head>\n<mj-body>\n<mj-section><mj-column>\n"
            f"{body}\n</mj-column></mj-section>\n</mj-body>\n</mjml>\n")


def email(**settings_: object) -> Email:
    data = {"id": "vip_mail", "type": "email", "inputs": ["a"], "from": "news@shop.example",
            "subject": "s"}
    data.update(settings_)
    return Email.model_validate(data)


def compiled(tmp_path: Path | str = ".", **settings_: object) -> CompiledContent:
    return CompiledContent.compile(email(**settings_), tmp_path)


def render(c: CompiledContent, profile: dict[str, Any] | None = None,
           variables: dict[str, Any] | None = None) -> str:
    html = render_message(c, profile or PROFILE, variables or {}).html
    assert html is not None
    return html


def body_of(html: str) -> str:
    return html[html.index("<body"):]


# ---- compiled once, rendered per profile ----

def test_an_mjml_file_is_compiled_to_html_once_then_rendered_per_profile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mails").mkdir()
    (tmp_path / "mails" / "welcome.mjml").write_text(
        mjml('<mj-text>Hello {{ first_name }} from {{ city }}</mj-text>'), encoding="utf-8")
    calls: list[str] = []

    def counting(source: str, **options: Any) -> str:
        calls.append(source)
        return mjml2html(source, **options)

    monkeypatch.setattr(mjml_module, "_compiler", lambda: counting)
    c = compiled(tmp_path, html={"file": "mails/welcome.mjml"})
    assert len(calls) == 1
    template = c.base["html"].source
    assert "<mj-" not in template and template.startswith("<!doctype html>")
    assert "Hello {{ first_name }} from {{ city }}" in template
    ana = render(c, {"id": 1, "first_name": "Ana", "city": "Paris"})
    ben = render(c, {"id": 2, "first_name": "Ben", "city": "Madrid"})
    assert ">Hello Ana from Paris</div>" in ana
    assert ">Hello Ben from Madrid</div>" in ben
    assert len(calls) == 1  # rendering never compiles MJML again


def test_jinja_that_mrml_alone_cannot_parse_is_kept_by_the_placeholders() -> None:
    # MRML on its own refuses `<` inside an expression and `"` inside an attribute
    for raw in (mjml("<mj-text>{{ 1 < 2 }}</mj-text>"),
                mjml('<mj-button href="{{ "https://x.example" }}">Go</mj-button>')):
        with pytest.raises(ValueError):
            mjml2html(raw)
    c = compiled(html=mjml('<mj-text>{{ total < 100 }} {{ "a" ~ \'b\' }}</mj-text>\n'
                           '<mj-button href="{{ "https://shop.example/?c=" ~ city }}">'
                           "Go</mj-button>"))
    html = render(c, {**PROFILE, "total": 20})
    assert ">True ab</div>" in html
    assert 'href="https://shop.example/?c=Lyon"' in html


def test_if_and_for_blocks_inside_text_and_around_elements() -> None:
    c = compiled(html=(
        "<mjml><mj-body>\n"
        "{% if loyalty_tier == 'gold' %}\n"
        "<mj-section><mj-column><mj-text>GOLD</mj-text></mj-column></mj-section>\n"
        "{% endif %}\n"
        "<mj-section><mj-column>\n"
        "<mj-text>Hi {% if first_name %}{{ first_name }}{% else %}there{% endif %}</mj-text>\n"
        "{% for item in vars.highlights %}<mj-text>- {{ item }}</mj-text>{% endfor %}\n"
        "</mj-column></mj-section>\n"
        "</mj-body></mjml>"))
    gold = body_of(render(c, variables={"highlights": ["Linen", "Straw"]}))
    assert ">GOLD</div>" in gold and ">Hi Zoé</div>" in gold
    assert re.findall(r">- (\w+)</div>", gold) == ["Linen", "Straw"]
    silver = body_of(render(c, {**PROFILE, "loyalty_tier": "silver", "first_name": None},
                            {"highlights": []}))
    assert "GOLD" not in silver and ">Hi there</div>" in silver and ">- " not in silver


def test_attributes_keep_their_jinja_and_values_are_escaped() -> None:
    c = compiled(html=mjml(
        '<mj-button href="https://shop.example/?c={{ city|urlencode }}&amp;t={{ tier }}">'
        "Go {{ first_name }}</mj-button>\n"
        '<mj-image src="https://cdn.example/{{ img }}.png" alt="{{ alt }}" />',
        head="<mj-title>Hi {{ first_name }}</mj-title><mj-preview>{{ vars.coupon }}"
             "</mj-preview>"))
    html = render(c, {**PROFILE, "city": "Saint Étienne", "tier": "<b>", "img": "p1",
                      "alt": 'A "quote"', "first_name": "Tom & Jerry"}, {"coupon": "C20"})
    assert 'href="https://shop.example/?c=Saint%20%C3%89tienne&amp;t=&lt;b&gt;"' in html
    assert 'src="https://cdn.example/p1.png"' in html
    assert 'alt="A &#34;quote&#34;"' in html
    assert ">Go Tom &amp; Jerry</a>" in html
    assert "<title>Hi Tom &amp; Jerry</title>" in html
    assert ">C20</div>" in html


def test_comments_raw_blocks_and_whitespace_control_are_kept() -> None:
    c = compiled(html=mjml("<mj-text>{# note #}A {%- raw %}{{ literal }}{% endraw %}"
                           "  {{- first_name -}}  !</mj-text>"))
    assert ">A{{ literal }}Zoé!</div>" in render(c)


def test_jinja_before_and_after_the_mjml_element_stays_outside_it() -> None:
    source = "{# the spring mail #}\n{% set greeting = 'Hello' %}\n" + \
        mjml("<mj-text>{{ greeting }} {{ first_name }}</mj-text>") + "{# end #}\n"
    html = render(compiled(html=source))
    assert html.startswith("<!doctype html>")  # the tags before it render as nothing
    assert ">Hello Zoé</div>" in html and html.endswith("</html>")


def test_text_that_looks_like_the_placeholders_is_left_alone() -> None:
    c = compiled(html=mjml("<mj-text>OVTJ0X OVTJ1X {{ first_name }}</mj-text>"))
    assert ">OVTJ0X OVTJ1X Zoé</div>" in render(c)


def test_jinja_delimiters_produced_by_mjml_itself_are_not_template_code(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(source: str, **_: Any) -> str:
        token = re.search(r"(OVTJ\w*?)0X", source)
        assert token
        return f"<style>a{{#x {{{{y}}}}</style><p>{token.group(0)}</p>"

    monkeypatch.setattr(mjml_module, "_compiler", lambda: fake)
    html = compile_mjml(mjml("<mj-text>{{ first_name }}</mj-text>"))
    assert html.endswith("<p>{{ first_name }}</p>")
    tpl = compile_template(html, html=True)
    assert tpl.template.render({"first_name": "Zoé"}) == \
        "<style>a{#x {{y}}</style><p>Zoé</p>"


def test_a_bare_greater_than_after_accents_or_emoji_compiles() -> None:
    # mjml-python 1.4 panics on these: the text's `>` are escaped and MRML runs again
    source = mjml("<mj-text>Prix : 10 € > 5 € 😀 > {{ first_name }}</mj-text>\n"
                  '<mj-button href="https://x.example/?a=1&amp;b=2">Découvrir ></mj-button>',
                  head="<mj-style>.a > .b { color: red }</mj-style>")
    with pytest.raises(BaseException, match="char boundary"):
        mjml2html(source)
    html = render(compiled(html=source))
    assert ">Prix : 10 € &gt; 5 € 😀 &gt; Zoé</div>" in html
    assert ">Découvrir &gt;</a>" in html
    assert ".a > .b { color: red }" in html  # styles are not text
    assert html_to_text(html).splitlines()[:3] == ["Prix : 10 € > 5 € 😀 > Zoé", "",
                                                   "Découvrir > (https://x.example/?a=1&b=2)"]


@pytest.mark.parametrize(("text", "expected"), [
    ("a > b", "a &gt; b"),
    ('<mj-text title="x > y">é > <b>z</b></mj-text>',
     '<mj-text title="x > y">é &gt; <b>z</b></mj-text>'),
    ("<!-- a > b --><br/>>", "<!-- a > b --><br/>&gt;"),
    ("<mj-style>a > b</mj-style>>", "<mj-style>a > b</mj-style>&gt;"),
    ("<MJ-RAW><p>></p></mj-raw>x>", "<MJ-RAW><p>></p></mj-raw>x&gt;"),
    ("<mj-raw/>>", "<mj-raw/>&gt;"),
])
def test_escape_text_gt(text: str, expected: str) -> None:
    assert escape_text_gt(text) == expected


def test_a_compiler_crash_is_a_content_error_and_interrupts_are_not_swallowed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class PanicException(BaseException):  # named like pyo3's
        pass

    def panics(source: str, **_: Any) -> str:
        raise PanicException("index out of bounds\nstack backtrace")

    monkeypatch.setattr(mjml_module, "_compiler", lambda: panics)
    with pytest.raises(ContentError, match=r"^vip_mail\.html: invalid MJML: the MJML compiler "
                                           r"failed \(index out of bounds\)$"):
        compiled(html=mjml("<mj-text>x</mj-text>"))

    def interrupted(source: str, **_: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(mjml_module, "_compiler", lambda: interrupted)
    with pytest.raises(KeyboardInterrupt):
        compiled(html=mjml("<mj-text>x</mj-text>"))


# ---- which content is MJML ----

def test_inline_html_starting_with_mjml_is_compiled_and_other_html_is_not() -> None:
    inline = compiled(html="  \n" + mjml("<mj-text>{{ first_name }}</mj-text>"))
    assert ">Zoé</div>" in render(inline)
    plain = compiled(html="<p>{{ first_name }}</p><mjml>not a document</mjml>")
    assert render(plain) == "<p>Zoé</p><mjml>not a document</mjml>"
    text = compiled(text="<mjml>{{ first_name }}</mjml>")  # only html is MJML
    assert render_message(text, PROFILE, {}).text == "<mjml>Zoé</mjml>"


@pytest.mark.parametrize(("source", "file", "expected"), [
    ("<mjml><mj-body/></mjml>", None, True),
    ("\ufeff\n  <mjml lang='fr'>", None, True),
    ("<!-- header -->\n{# c #}{% set a = 1 %}\n<mjml>", None, True),
    ("<mjmlx>", None, False),
    ("<p><mjml></p>", None, False),
    ("{{ x }}<mjml>", None, False),
    ("<p>hi</p>", "mails/spring.MJML", True),
    ("<mjml>", "mails/spring.html", True),
])
def test_is_mjml(source: str, file: str | None, expected: bool) -> None:
    assert is_mjml(source, file) is expected


def test_mjml_in_variants_and_languages(tmp_path: Path) -> None:
    (tmp_path / "fr.mjml").write_text(mjml("<mj-text>Bonjour {{ first_name }}</mj-text>"),
                                      encoding="utf-8")
    c = compiled(tmp_path, html="<p>base</p>",
                 variants=[{"id": "a", "html": mjml("<mj-text>A {{ first_name }}</mj-text>")}],
                 languages={"fr": {"html": {"file": "fr.mjml"}}})
    assert ">Bonjour Zoé</div>" in render(c)
    assert ">A Zoé</div>" in render(c, {**PROFILE, "language": "de"})


def test_an_mjml_file_is_only_for_the_html_field(tmp_path: Path) -> None:
    (tmp_path / "t.mjml").write_text(mjml("<mj-text>x</mj-text>"), encoding="utf-8")
    with pytest.raises(ContentError, match=r"^vip_mail\.text: t\.mjml: MJML is for the html"):
        compiled(tmp_path, text={"file": "t.mjml"})
    assert load_content({"file": "t.mjml"}, tmp_path).startswith("<mjml>")
    with pytest.raises(ContentError, match=r"MJML content file nope\.mjml not found"):
        compiled(tmp_path, html={"file": "nope.mjml"})


# ---- errors: ContentError naming the activity, the field and the line ----

@pytest.mark.parametrize(("source", "message"), [
    ("<mjml>\n<mj-body></mj-body>\nstray text\n</mjml>",
     "line 3: invalid MJML: unexpected token"),
    (mjml("<mj-text><p>{{ first_name }}</mj-text>"), "invalid MJML: unexpected end of stream"),
    (mjml("<mj-text>a < b</mj-text>"), "invalid MJML: unable to parse next template"),
    ("<mjml>\n<mj-body>\n  <mj-include path=\"header.mjml\" />\n</mj-body></mjml>",
     "line 3: <mj-include> is not allowed: the MJML content stands alone"),
    ('<mjml><mj-body><mj-section><mj-column>\n\n<mj-image src="a.png" width="{{ w }}" />'
     "</mj-column></mj-section></mj-body></mjml>", "line 3: MJML drops the Jinja tag {{ w }}"),
    (mjml('<mj-text colour="{{ c }}">x</mj-text>'), "line 5: MJML drops the Jinja tag {{ c }}"),
])
def test_invalid_mjml_is_a_content_error(source: str, message: str) -> None:
    with pytest.raises(ContentError) as info:
        compiled(html=source)
    assert (info.value.activity, info.value.field_path) == ("vip_mail", "html")
    assert str(info.value).startswith(f"vip_mail.html: {message}")


def test_a_file_named_mjml_must_hold_mjml(tmp_path: Path) -> None:
    (tmp_path / "x.mjml").write_text("<html><body>{{ first_name }}</body></html>",
                                     encoding="utf-8")
    with pytest.raises(ContentError, match=r"^vip_mail\.html: line 1: an MJML document starts "
                                           r"with <mjml>"):
        compiled(tmp_path, html={"file": "x.mjml"})


def test_jinja_errors_name_the_line_of_the_mjml_source() -> None:
    with pytest.raises(ContentError, match=r"^vip_mail\.html: line 5: unexpected '}'"):
        compiled(html=mjml("<mj-text>{{ first_name }</mj-text>"))
    with pytest.raises(ContentError, match=r"^vip_mail\.variants\[0\]\.html: line 5: access"):
        compiled(variants=[{"id": "a", "html": mjml("<mj-text>{{ x.__class__ }}</mj-text>")}])
    with pytest.raises(ContentError, match=r"line 5: \{% include"):
        compiled(html=mjml("<mj-raw>{% include 'x' %}</mj-raw>"))


def test_undefined_variables_are_checked_in_mjml_too() -> None:
    c = compiled(html=mjml("<mj-text>{{ frist_name }} {{ vars.cupon }}</mj-text>"))
    problems = check_variables(c, {"first_name"}, variables={"coupon"})
    assert [(p.path, p.message) for p in problems] == [
        ("vip_mail.html", "undefined variable 'frist_name' (did you mean 'first_name'?)"),
        ("vip_mail.html", "undefined variable 'vars.cupon' (did you mean 'coupon'?)"),
    ]


def test_validation_reports_invalid_mjml_as_a_problem_not_a_traceback(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    try:
        (tmp_path / "broken.mjml").write_text(
            "<mjml>\n<mj-body>\n<mj-section><mj-column>\n"
            "<mj-text>{{ first_name }}</mj-text>\n</mj-column></mj-section></mj-body>\nstray\n"
            "</mjml>\n",
            encoding="utf-8")
        (tmp_path / "good.mjml").write_text(mjml("<mj-text>{{ first_name }}</mj-text>"),
                                            encoding="utf-8")
        doc = parse_document("""
name: mjml
activities:
  - {id: all, type: build_audience}
  - {id: bad, type: email, inputs: [all], from: a@b.example, subject: s,
     html: {file: broken.mjml}}
  - {id: good, type: email, inputs: [all], from: a@b.example, subject: s,
     html: {file: good.mjml}}
""")
        result = validate(doc, environment_for(ws, tmp_path))
        assert [(p.activity, p.path, p.message) for p in result.problems] == [
            ("bad", "bad.html", "line 6: invalid MJML: unexpected token"),
        ]
    finally:
        ws.close()


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=list("<>/{}%#'\"ab =&;\n-"), max_size=40) | st.text(max_size=30))
def test_any_text_in_mjml_compiles_or_raises_content_error(text: str) -> None:
    try:
        c = compiled(html=mjml(f"<mj-text>{text}</mj-text>"))
    except ContentError as error:
        assert str(error).startswith("vip_mail.html: ")
        return
    assert c.base["html"].source.startswith("<!doctype html>")


# ---- the text part, and the example ----

def test_the_derived_text_comes_from_the_compiled_html() -> None:
    c = compiled(html=mjml(
        "<mj-text>Hello {{ first_name }},</mj-text>\n<mj-text>Your code: {{ vars.coupon }}"
        '</mj-text>\n<mj-button href="https://shop.example/spring">Shop</mj-button>'))
    text = html_to_text(render(c, variables={"coupon": "SPRING20"}))
    assert text.splitlines() == ["Hello Zoé,", "", "Your code: SPRING20", "",
                                 "Shop (https://shop.example/spring)"]


def test_the_example_spring_sale_mjml() -> None:
    c = compiled(EXAMPLE.parent, html={"file": EXAMPLE.name})
    assert check_variables(c, {"first_name", "loyalty_tier", "city"},
                           variables={"coupon"}) == []
    gold = render(c, variables={"coupon": "SPRING10"})
    assert "<title>Spring sale, Zoé</title>" in gold
    assert "two days before everyone else" in gold
    assert "utm_campaign=spring-sale&city=Lyon" in gold
    silver = render(c, {**PROFILE, "loyalty_tier": "silver"}, {"coupon": "SPRING10"})
    assert "two days before" not in silver and "The spring sale starts this week." in silver


def test_a_test_run_renders_mjml_content_through_the_engine(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    try:
        (tmp_path / "spring.mjml").write_text(mjml(
            "<mj-text>Hello {{ first_name }} ({{ loyalty_tier }}), shop at {{ store_name }}"
            " with {{ vars.coupon }}</mj-text>"), encoding="utf-8")
        path = h.write(campaign("""
            - {id: two, type: build_audience, rule: {field: customer_id, op: in, value: [1, 2]}}
            - {id: more, type: enrich, inputs: [two], attributes: [store.name]}
            - {id: mail, type: email, inputs: [more], from: news@shop.example,
               subject: "Spring, {{ first_name }}", html: {file: spring.mjml}}
        """, variables={"coupon": {"default": "SPRING10"}}))
        result = run_campaign_file(h.ws, path, clock=CLOCK)
        assert result["activities"]["mail"]["status"] == "done", result
        assert "sample for customer_id 1: Spring, Ana" in h.logs(result, "mail")
    finally:
        h.close()
