"""Channel content: compile, check, choose variant and language, render in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overture.channels.render import (
    CompiledContent,
    ContentError,
    check_variables,
    choose_language,
    choose_variant,
    compile_template,
    content_environment,
    load_content,
    render_message,
    undeclared_variables,
)
from overture.definition.activities import Email, Push, Sms, Variant
from overture.errors import OvertureError


def email(**settings_: object) -> Email:
    data = {"id": "vip_mail", "type": "email", "inputs": ["a"], "from": "Shop <news@shop.example>"}
    data.update(settings_)
    return Email.model_validate(data)


def compiled(tmp_path: Path | str = ".", **settings_: object) -> CompiledContent:
    return CompiledContent.compile(email(**settings_), tmp_path)


PROFILE = {"id": 7, "first_name": "Zoé", "city": "Lyon", "language": "fr"}


# ---- rendering ----

def test_renders_profile_columns_and_vars() -> None:
    c = compiled(subject="Hi {{ first_name }}, {{ vars.coupon }} off",
                 html="<p>{{ first_name }} from {{ city }}: {{ vars.coupon }}</p>",
                 text="{{ first_name|upper }} {{ vars.coupon }}")
    msg = render_message(c, PROFILE, {"coupon": "SPRING20"})
    assert msg.subject == "Hi Zoé, SPRING20 off"
    assert msg.html == "<p>Zoé from Lyon: SPRING20</p>"
    assert msg.text == "ZOÉ SPRING20"
    assert msg.body is None and msg.variant is None and msg.language is None


def test_html_autoescapes_profile_values_but_text_and_subject_do_not() -> None:
    c = compiled(subject="{{ first_name }}", html="<p>{{ first_name }}</p>",
                 text="{{ first_name }}")
    msg = render_message(c, {"id": 1, "first_name": "<b>Tom & Jerry</b>"}, {})
    assert msg.html == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert msg.subject == "<b>Tom & Jerry</b>"
    assert msg.text == "<b>Tom & Jerry</b>"


def test_html_literal_markup_of_the_template_is_kept() -> None:
    c = compiled(subject="s", html='<a href="https://x.example/?a=1&b=2">{{ vars.label }}</a>')
    msg = render_message(c, PROFILE, {"label": "Q&A"})
    assert msg.html == '<a href="https://x.example/?a=1&b=2">Q&amp;A</a>'


def test_null_profile_value_renders_empty_and_default_filter_works() -> None:
    c = compiled(subject="Hi {{ first_name }}!",
                 text="Dear {{ first_name|default('friend', true) }}")
    msg = render_message(c, {"id": 1, "first_name": None}, {})
    assert msg.subject == "Hi !"
    assert msg.text == "Dear friend"


def test_subject_is_one_line_even_with_newlines_in_values() -> None:
    c = compiled(subject="Hi {{ first_name }}", text="{{ first_name }}")
    msg = render_message(c, {"id": 1, "first_name": "A\r\nBcc: evil@x.example"}, {})
    assert msg.subject == "Hi A Bcc: evil@x.example"
    assert "\n" in (msg.text or "")


def test_missing_value_at_render_time_names_the_field() -> None:
    c = compiled(subject="ok", html="<p>{{ last_name }}</p>")
    with pytest.raises(ContentError) as info:
        render_message(c, PROFILE, {})
    assert info.value.activity == "vip_mail"
    assert info.value.field_path == "html"
    assert "vip_mail.html" in str(info.value)
    assert "last_name" in str(info.value)
    assert isinstance(info.value, OvertureError)


def test_missing_var_at_render_time() -> None:
    c = compiled(subject="{{ vars.coupon }}", text="t")
    with pytest.raises(ContentError, match=r"vip_mail\.subject: .*coupon"):
        render_message(c, PROFILE, {})


def test_sms_and_push_fields() -> None:
    sms = Sms.model_validate({"id": "txt", "type": "sms", "inputs": ["a"],
                              "body": "{{ first_name }}: {{ vars.code }}"})
    push = Push.model_validate({"id": "p", "type": "push", "inputs": ["a"],
                                "title": "Hey\n{{ first_name }}", "body": "<{{ city }}>"})
    assert render_message(CompiledContent.compile(sms, "."), PROFILE, {"code": "X1"}).body \
        == "Zoé: X1"
    msg = render_message(CompiledContent.compile(push, "."), PROFILE, {})
    assert (msg.title, msg.body, msg.subject) == ("Hey Zoé", "<Lyon>", None)


# ---- the sandbox ----

@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ first_name['__class__'] }}",
    "{{ self._TemplateReference__context }}",
    "{% set x = first_name.__class__ %}{{ x }}",
])
def test_sandbox_refuses_private_attributes_at_compile_time(source: str) -> None:
    with pytest.raises(ContentError) as info:
        compiled(subject=source, text="t")
    message = str(info.value)
    assert message.startswith("vip_mail.subject: line 1: access to")
    assert "is not allowed" in message


@pytest.mark.parametrize(("source", "reason"), [
    ("{{ first_name|attr('__class__') }}", "unsafe"),
    ("{{ '{0.__class__}'.format(first_name) }}", "unsafe"),
    ("{{ 'x' * 100000000 }}", "too long"),
    ("{{ 2 ** 100000 }}", "too large"),
    ("{% for i in range(10**9) %}{% endfor %}", "too big"),
    ("{% set l = [1] %}{{ l.append(2) }}", "unsafe"),
    ("{% set d = {} %}{{ d.update(a=1) }}", "unsafe"),
])
def test_sandbox_refuses_at_render_time(source: str, reason: str) -> None:
    c = compiled(subject="s", text=source)
    with pytest.raises(ContentError, match=reason) as info:
        render_message(c, PROFILE, {})
    assert info.value.field_path == "text"


def test_rendering_cannot_change_vars_for_the_next_profile() -> None:
    c = compiled(subject="s", text="{{ vars.stores.pop() }}")
    variables = {"stores": ["Lyon", "Paris"]}
    with pytest.raises(ContentError):
        render_message(c, PROFILE, variables)
    assert variables == {"stores": ["Lyon", "Paris"]}


def test_documented_filters_work() -> None:
    c = compiled(subject="{{ first_name|title }} {{ '%.2f'|format(total) }} {{ total|round(1) }}",
                 text="{{ vars.sizes|join(', ') }} {{ name|truncate(9) }} {{ mail|urlencode }}")
    msg = render_message(c, {"id": 1, "first_name": "zoé", "total": 129.904,
                             "name": "Linen shirt, blue", "mail": "a+b@x.example"},
                         {"sizes": ["S", "M"]})
    assert msg.subject == "Zoé 129.90 129.9"
    assert msg.text == "S, M Linen... a%2Bb%40x.example"


@pytest.mark.parametrize(("source", "tag"), [
    ("{% include '/etc/passwd' %}", "include"),
    ("x\n{% import 'macros' as m %}", "import"),
    ("{% from 'm' import f %}", "from"),
    ("{% extends 'base.html' %}", "extends"),
])
def test_no_include_import_or_extends(source: str, tag: str) -> None:
    with pytest.raises(ContentError, match=r"^vip_mail\.text: line \d: \{% " + tag):
        compiled(subject="s", text=source)
    assert content_environment().loader is None


def test_environments_autoescape_only_html() -> None:
    assert content_environment(html=True).autoescape is True
    assert content_environment(html=False).autoescape is False


# ---- syntax errors and variables ----

def test_syntax_error_names_field_and_line() -> None:
    with pytest.raises(ContentError) as info:
        compiled(subject="s", html="<p>\nHello\n{{ first_name }\n</p>")
    assert info.value.field_path == "html"
    assert str(info.value).startswith("vip_mail.html: line 3:")


def test_syntax_error_in_variant_and_language_paths() -> None:
    with pytest.raises(ContentError, match=r"^vip_mail\.variants\[1\]\.subject: line 1"):
        compiled(subject="s", text="t",
                 variants=[{"id": "a", "subject": "A"}, {"id": "b", "subject": "{% if %}"}])
    with pytest.raises(ContentError, match=r"^vip_mail\.languages\.fr\.html: line 2"):
        compiled(subject="s", text="t", languages={"fr": {"html": "x\n{% for %}"}})


def test_undeclared_variables_by_field_path() -> None:
    c = compiled(subject="{{ first_name }}", html="{{ vars.coupon }} {{ city }}",
                 variants=[{"id": "a"}, {"id": "b", "html": "{% set n = 1 %}{{ n }}{{ tier }}"}],
                 languages={"fr": {"subject": "Salut {{ prenom }}"}})
    assert undeclared_variables(c) == {
        "subject": {"first_name"},
        "html": {"vars", "city"},
        "variants[1].html": {"tier"},
        "languages.fr.subject": {"prenom"},
    }


def test_check_variables_reports_paths_and_did_you_mean() -> None:
    c = compiled(subject="Hi {{ frist_name }}", html="{{ vars.coupon }}{{ range(2)|list }}",
                 variants=[{"id": "a"}, {"id": "b", "html": "{{ zzz }}"}])
    problems = check_variables(c, {"first_name", "city"})
    assert [(p.path, p.message, p.activity) for p in problems] == [
        ("vip_mail.subject", "undefined variable 'frist_name' (did you mean 'first_name'?)",
         "vip_mail"),
        ("vip_mail.variants[1].html", "undefined variable 'zzz'", "vip_mail"),
    ]


def test_check_variables_passes_when_all_known() -> None:
    c = compiled(subject="Hi {{ first_name }}", html="{{ vars.coupon }}")
    assert check_variables(c, {"first_name"}) == []
    assert check_variables(c, {"first_name"}, variables={"coupon"}) == []


def test_check_variables_checks_vars_names_when_given() -> None:
    c = compiled(subject="{{ vars.cupon }}", text="{{ vars['coupon'] }}")
    problems = check_variables(c, set(), variables={"coupon"})
    assert [(p.path, p.message) for p in problems] == [
        ("vip_mail.subject", "undefined variable 'vars.cupon' (did you mean 'coupon'?)"),
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=list("{}%#()[]._|'\"ab x-=+*\n"), max_size=60) | st.text(max_size=60))
def test_any_template_compiles_or_raises_content_error(source: str) -> None:
    try:
        tpl = compile_template(source, html=False, activity="a", field_path="subject")
    except ContentError as error:
        assert str(error).startswith("a.subject: ")
        return
    assert tpl.source == source


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\{\{ ?[a-z_.\[\]'()|0-9 *]{0,20} ?\}\}", fullmatch=True))
def test_any_expression_renders_or_raises_content_error(source: str) -> None:
    try:
        c = compiled(subject="s", html=source)
        msg = render_message(c, {"id": 1, "first_name": "x"}, {"coupon": "C"})
    except ContentError as error:
        assert str(error).startswith("vip_mail.html: ")
        return
    assert isinstance(msg.html, str)


# ---- {file:} content ----

def test_load_content_inline_and_file(tmp_path: Path) -> None:
    (tmp_path / "mails").mkdir()
    (tmp_path / "mails" / "spring.html").write_text("<p>Bonjour {{ first_name }}</p>",
                                                    encoding="utf-8")
    assert load_content("inline", tmp_path) == "inline"
    assert load_content({"file": "mails/spring.html"}, tmp_path) == \
        "<p>Bonjour {{ first_name }}</p>"
    c = compiled(tmp_path, subject="s", html={"file": "mails/spring.html"})
    assert render_message(c, PROFILE, {}).html == "<p>Bonjour Zoé</p>"


def test_load_content_errors(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ContentError, match=r"missing\.html not found"):
        load_content({"file": "missing.html"}, tmp_path)
    with pytest.raises(ContentError, match="not UTF-8"):
        load_content({"file": "latin1.txt"}, tmp_path)
    with pytest.raises(ContentError, match="unknown key 'path'"):
        load_content({"path": "x.html"}, tmp_path)
    with pytest.raises(ContentError, match="MJML"):
        load_content({"file": "x.mjml"}, tmp_path)
    with pytest.raises(ContentError, match=r"^vip_mail\.html: content file nope\.html not found"):
        compiled(tmp_path, subject="s", html={"file": "nope.html"})


# ---- variants ----

def variants(*weights: float) -> list[Variant]:
    return [Variant(id=f"v{i}", weight=w) for i, w in enumerate(weights)]


def test_variant_is_deterministic_per_activity_and_profile() -> None:
    vs = variants(1, 1, 1)
    first = [choose_variant("mail", key, vs) for key in range(300)]
    again = [choose_variant("mail", key, vs) for key in range(300)]
    assert first == again
    assert {v.id for v in first if v} == {"v0", "v1", "v2"}
    other = [choose_variant("other_mail", key, vs) for key in range(300)]
    assert other != first  # the activity is part of the hash
    assert choose_variant("mail", 1, []) is None


def test_variant_weights_are_honoured() -> None:
    vs = variants(1, 3)
    chosen = [choose_variant("vip_mail", f"p{i}", vs) for i in range(10_000)]
    share = sum(1 for v in chosen if v is vs[0]) / len(chosen)
    assert 0.23 <= share <= 0.27


def test_render_uses_the_variant_fields() -> None:
    c = compiled(subject="base", text="body {{ first_name }}",
                 variants=[{"id": "a", "subject": "A {{ first_name }}"},
                           {"id": "b", "weight": 2, "subject": "B {{ first_name }}"}])
    seen = {}
    for key in range(200):
        msg = render_message(c, {"id": key, "first_name": "Zoé"}, {})
        seen[msg.variant] = msg.subject
        assert msg.text == "body Zoé"
        assert render_message(c, {"id": key, "first_name": "Zoé"}, {}).variant == msg.variant
    assert seen == {"a": "A Zoé", "b": "B Zoé"}


def test_render_needs_a_key_for_variants() -> None:
    c = compiled(subject="s", text="t", variants=[{"id": "a"}, {"id": "b"}])
    with pytest.raises(ContentError, match="variants"):
        render_message(c, {"first_name": "x"}, {})
    assert render_message(c, {"first_name": "x"}, {}, profile_key="k").variant in {"a", "b"}


# ---- languages ----

@pytest.mark.parametrize(("wanted", "fallback", "expected"), [
    ("fr", "en", "fr"),
    ("FR", "en", "fr"),
    ("fr-CA", "en", "fr-CA"),
    ("fr-ca", "en", "fr-CA"),
    ("fr-BE", "en", "fr"),
    ("fr_be", "en", "fr"),
    ("de", "en", "en"),
    ("de-AT", "en-US", "en"),
    (None, "en", "en"),
    ("", "en", "en"),
    ("de", None, None),
])
def test_choose_language(wanted: str | None, fallback: str | None,
                         expected: str | None) -> None:
    assert choose_language(wanted, ["en", "fr", "fr-CA"], fallback) == expected


def test_render_uses_the_language_then_fallback() -> None:
    c = compiled(subject="Hello {{ first_name }}", text="Hi",
                 languages={"fr": {"subject": "Bonjour {{ first_name }}", "text": "Salut"},
                            "en": {}},
                 fallback_language="en")
    fr = render_message(c, {**PROFILE, "language": "fr-CA"}, {})
    assert (fr.subject, fr.text, fr.language) == ("Bonjour Zoé", "Salut", "fr")
    de = render_message(c, {**PROFILE, "language": "de"}, {})
    assert (de.subject, de.text, de.language) == ("Hello Zoé", "Hi", "en")
    assert render_message(c, PROFILE, {}, language="en").subject == "Hello Zoé"


def test_language_overrides_variant_which_overrides_base() -> None:
    c = compiled(subject="base", text="base text",
                 variants=[{"id": "a", "subject": "A", "text": "A text"}],
                 languages={"fr": {"subject": "FR"}})
    msg = render_message(c, {"id": 1, "language": "fr"}, {})
    assert (msg.subject, msg.text, msg.variant) == ("FR", "A text", "a")


def test_unknown_fallback_language_is_refused() -> None:
    with pytest.raises(ContentError, match=r"vip_mail\.fallback_language: 'de'"):
        compiled(subject="s", text="t", languages={"fr": {}}, fallback_language="de")


def test_the_text_part_is_derived_once_from_the_html_template() -> None:
    from overture.channels.mime import html_to_text
    from overture.definition.activities import Email

    html = ("<h1>Hello {{ first_name }},</h1><p>{% if tier == 'gold' %}Gold &amp; more"
            "{% else %}Welcome{% endif %}</p><p><a href=\"https://x.example/{{ id }}\">"
            "Shop</a></p><ul>{% for i in [1, 2] %}<li>item {{ i }}</li>{% endfor %}</ul>")
    activity = Email.model_validate({"id": "m", "type": "email", "inputs": ["a"],
                                     "subject": "s", "html": html})
    compiled = CompiledContent.compile(activity, ".")
    assert compiled.base["text"].derived
    assert [t.path for t in compiled.templates()] == ["subject", "html"]  # not reported
    for profile in ({"first_name": "Zoé <b>", "tier": "gold", "id": 7},
                    {"first_name": "Ann", "tier": "silver", "id": 8}):
        message = render_message(compiled, profile, {})
        assert message.text_derived and message.text is not None
        # the same lines as converting the rendered html (blank lines may differ
        # where a loop spans block elements)
        lines = [line for line in message.text.splitlines() if line.strip()]
        assert lines == [line for line in html_to_text(message.html or "").splitlines()
                         if line.strip()]


def test_a_template_the_conversion_would_break_is_derived_per_message() -> None:
    from overture.channels.mime import html_to_text
    from overture.definition.activities import Email

    html = "<p class=\"{{ css }}\">{% if n<b %}small{% endif %} {{ name }}</p>"
    activity = Email.model_validate({"id": "m", "type": "email", "inputs": ["a"],
                                     "subject": "s", "html": html})
    compiled = CompiledContent.compile(activity, ".")
    assert "text" not in compiled.base
    message = render_message(compiled, {"css": "x", "n": 1, "b": 2, "name": "Ann"}, {})
    assert message.text is None and message.text_derived
    assert html_to_text(message.html or "").strip() == "small Ann"
