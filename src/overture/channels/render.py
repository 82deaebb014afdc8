"""Channel content: sandboxed Jinja templates compiled once, rendered per profile.

An email, SMS or push activity carries templates in its base fields (`subject`,
`html`, `text`, `body`, `title`), in each A/B variant and in each language. All of
them are compiled by `CompiledContent.compile` before anything is sent, so syntax
errors, refused constructs (attributes starting with `_`) and, through
`check_variables`, undefined variables are found at validation time.

An `html` field written in MJML (a `.mjml` file, or text starting with `<mjml`) is
compiled to an HTML template once, here, with its Jinja tags kept (see
`overture.channels.mjml`); profiles are rendered from that HTML.

When a message is rendered, a field is taken from the profile's language version
when it has one, else from the profile's variant, else from the base content.

Every error is an `overture.errors.OvertureError` (`ContentError`) naming the
activity and the field, never a traceback.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from overture.channels.mjml import MjmlError, compile_mjml, is_mjml
from overture.definition.activities import Channel, Variant
from overture.definition.errors import Problem
from overture.errors import OvertureError

#: the content fields of the channels, in the order they are shown
CONTENT_FIELDS = ("subject", "html", "text", "body", "title")
#: fields whose templates autoescape profile values as HTML
HTML_FIELDS = frozenset({"html"})
#: fields rendered on one line (header-like): newlines collapse to spaces
ONE_LINE_FIELDS = frozenset({"subject", "title"})
#: the name under which templates see the campaign's variables
VARS_NAME = "vars"
#: the longest string or list a template may build with `*` (and the largest `**` result)
MAX_PRODUCT = 100_000


class ContentError(OvertureError):
    """A template that cannot compile or render; names the activity and the field."""

    def __init__(self, activity: str | None, field_path: str | None, message: str):
        self.activity = activity
        self.field_path = field_path
        self.message = message
        where = ".".join(p for p in (activity, field_path) if p)
        super().__init__(f"{where}: {message}" if where else message)


class _ContentSandbox(ImmutableSandboxedEnvironment):
    """The sandbox: no `_` attributes, no mutation of lists and dicts (so one profile's
    rendering cannot change `vars` for the next), `*` and `**` bounded so that no
    template builds a huge value."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError("exponent too large")
            return left**right
        for seq, count in ((left, right), (right, left)):
            if (isinstance(seq, str | list | tuple) and isinstance(count, int)
                    and len(seq) * count > MAX_PRODUCT):
                raise SecurityError("the result of `*` would be too long")
        return left * right


def _finalize(value: Any) -> Any:
    """A missing (NULL) profile value prints as nothing, not as 'None'."""
    return "" if value is None else value


@lru_cache(maxsize=2)
def content_environment(*, html: bool = False) -> SandboxedEnvironment:
    """The sandboxed environment for content; `html=True` autoescapes values.

    No loader (templates cannot include files), `StrictUndefined` (a missing value is
    an error, not an empty string), and None printed as an empty string.
    """
    env = _ContentSandbox(
        autoescape=html,
        undefined=StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    return env


def load_content(
    value: str | Mapping[str, Any],
    base_dir: str | Path,
    *,
    activity: str | None = None,
    field_path: str | None = None,
) -> str:
    """Inline text as is, or the UTF-8 text of `{file: PATH}` relative to `base_dir`."""

    def fail(message: str) -> ContentError:
        return ContentError(activity, field_path, message)

    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        raise fail(f"content must be text or {{file: PATH}}, not {type(value).__name__}")
    keys = set(value)
    if keys != {"file"}:
        extra = sorted(str(k) for k in keys - {"file"})
        if extra:
            raise fail(f"unknown key {extra[0]!r} in content: only `file` is allowed")
        raise fail("content mapping needs `file`")
    raw = value["file"]
    if not isinstance(raw, str) or not raw.strip():
        raise fail("`file` must be a path")
    path = Path(raw)
    if not path.is_absolute():
        path = Path(base_dir) / path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        kind = "MJML content file" if path.suffix.lower() == ".mjml" else "content file"
        raise fail(f"{kind} {raw} not found (looked in {path.parent})") from None
    except IsADirectoryError:
        raise fail(f"content file {raw} is a folder") from None
    except OSError as error:
        raise fail(f"cannot read content file {raw}: {error.strerror or error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise fail(f"content file {raw} is not UTF-8 text (byte {error.start})") from None


def _refused_access(ast: nodes.Template) -> tuple[int, list[str]] | None:
    """The first line, and the names, of attributes or keys starting with `_`, if any."""
    found: list[tuple[int, str]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name: Any = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        if isinstance(name, str) and name.startswith("_"):
            found.append((node.lineno, name))
    if not found:
        return None
    return min(line for line, _ in found), sorted({name for _, name in found})


@dataclass(frozen=True)
class CompiledTemplate:
    """One field's template: its source, its AST and its compiled form."""

    path: str
    source: str
    ast: nodes.Template
    template: Template
    derived: bool = False  # a text template made from the html one, not written by anyone


def compile_template(
    source: str, *, html: bool, activity: str | None = None, field_path: str | None = None
) -> CompiledTemplate:
    """Compile one template; raise `ContentError` naming the line of a syntax error."""
    env = content_environment(html=html)
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as error:
        line = f"line {error.lineno}: " if error.lineno else ""
        raise ContentError(activity, field_path, f"{line}{error.message}") from None
    except TemplateError as error:
        raise ContentError(activity, field_path, f"invalid template: {error}") from None
    except RecursionError:
        raise ContentError(activity, field_path, "template nested too deeply") from None
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        tag = {nodes.Include: "include", nodes.Import: "import", nodes.FromImport: "from",
               nodes.Extends: "extends"}[type(node)]
        raise ContentError(
            activity, field_path,
            f"line {node.lineno}: {{% {tag} %}} is not allowed: a template stands alone",
        )
    refused = _refused_access(ast)
    if refused is not None:
        first, names = refused
        raise ContentError(
            activity, field_path,
            f"line {first}: access to {', '.join(map(repr, names))} is not allowed "
            "(names starting with '_' are refused in templates)",
        )
    try:
        template = env.from_string(ast)
    except TemplateSyntaxError as error:
        line = f"line {error.lineno}: " if error.lineno else ""
        raise ContentError(activity, field_path, f"{line}{error.message}") from None
    except (TemplateError, RecursionError, SyntaxError, ValueError) as error:
        raise ContentError(activity, field_path, f"invalid template: {error}") from None
    return CompiledTemplate(field_path or "", source, ast, template)


def compile_mjml_template(
    source: str, *, activity: str | None = None, field_path: str | None = None
) -> CompiledTemplate:
    """Compile a Jinja-templated MJML `html` field to its HTML template, once.

    The Jinja is checked on the MJML as written (errors name its lines), then the MJML
    is compiled to HTML with the Jinja tags kept, and that HTML is the template
    rendered per profile. MJML errors are `ContentError`s like template errors.
    """
    compile_template(source, html=True, activity=activity, field_path=field_path)
    try:
        html = compile_mjml(source)
    except MjmlError as error:
        line = f"line {error.line}: " if error.line else ""
        raise ContentError(activity, field_path, f"{line}{error.message}") from None
    try:
        return compile_template(html, html=True, activity=activity, field_path=field_path)
    except ContentError as error:  # MJML moved tags apart (a block split across elements)
        raise ContentError(activity, field_path,
                           f"the HTML compiled from MJML is not a valid template "
                           f"({error.message}): keep each {{% if %}}/{{% for %}} block "
                           "inside one element, or wrap its tags in <mj-raw>") from None


def _fields_of(
    holder: Any, base_dir: Path, activity: str, prefix: str
) -> dict[str, CompiledTemplate]:
    out: dict[str, CompiledTemplate] = {}
    for name in CONTENT_FIELDS:
        value = getattr(holder, name, None)
        if value is None:
            continue
        path = f"{prefix}{name}"
        source = load_content(value, base_dir, activity=activity, field_path=path)
        file = value.get("file") if isinstance(value, Mapping) else None
        if name in HTML_FIELDS and is_mjml(source, file):
            out[name] = compile_mjml_template(source, activity=activity, field_path=path)
            continue
        if isinstance(file, str) and file.lower().endswith(".mjml"):
            raise ContentError(activity, path, f"{file}: MJML is for the html field only; "
                                               f"{name} takes text")
        out[name] = compile_template(
            source, html=name in HTML_FIELDS, activity=activity, field_path=path
        )
    if "html" in out and "text" not in out:
        derived = derived_text_template(out["html"])
        if derived is not None:
            out["text"] = derived
    return out


def derived_text_template(html: CompiledTemplate) -> CompiledTemplate | None:
    """The text part's template, made once from the html template's source.

    Converting each rendered HTML to text costs more than rendering it; converting
    the template instead gives the same text when the conversion keeps every Jinja
    tag. When it does not (a tag inside an HTML tag, `a<b` read as a tag), None: the
    text is then derived from each rendered HTML.
    """
    from jinja2 import meta

    from overture.channels.mime import html_to_text

    try:
        text = compile_template(html_to_text(html.source), html=False,
                                field_path=html.path.removesuffix("html") + "text")
    except ContentError:
        return None
    if meta.find_undeclared_variables(text.ast) != meta.find_undeclared_variables(html.ast) \
            or len(list(text.ast.find_all(nodes.Stmt))) != len(list(html.ast.find_all(
                nodes.Stmt))):
        return None
    return CompiledTemplate(text.path, text.source, text.ast, text.template, derived=True)


@dataclass(frozen=True)
class CompiledContent:
    """Every template of a channel activity, compiled."""

    activity_id: str
    channel: str
    base: dict[str, CompiledTemplate]
    variants: list[tuple[Variant, dict[str, CompiledTemplate]]] = field(default_factory=list)
    languages: dict[str, dict[str, CompiledTemplate]] = field(default_factory=dict)
    fallback_language: str | None = None
    category: str = "marketing"
    from_: str | None = None
    reply_to: str | None = None

    @classmethod
    def compile(cls, activity: Channel, base_dir: str | Path) -> CompiledContent:
        """Load and compile each field of the base, of each variant and of each language."""
        base_path = Path(base_dir)
        aid = activity.id
        base = _fields_of(activity, base_path, aid, "")
        variants = [
            (v, _fields_of(v, base_path, aid, f"variants[{i}]."))
            for i, v in enumerate(activity.variants)
        ]
        languages = {
            lang: _fields_of(content, base_path, aid, f"languages.{lang}.")
            for lang, content in activity.languages.items()
        }
        fallback = activity.fallback_language
        if fallback is not None and languages and choose_language(
            fallback, languages, None
        ) is None:
            raise ContentError(
                aid, "fallback_language",
                f"{fallback!r} is not one of the languages ({', '.join(sorted(languages))})",
            )
        return cls(
            activity_id=aid,
            channel=activity.type,
            base=base,
            variants=variants,
            languages=languages,
            fallback_language=fallback,
            category=activity.category,
            from_=getattr(activity, "from_", None),
            reply_to=getattr(activity, "reply_to", None),
        )

    def templates(self) -> Iterator[CompiledTemplate]:
        """Every template someone wrote, base fields first (derived ones left out)."""
        yield from (t for t in self.base.values() if not t.derived)
        for _, fields in self.variants:
            yield from (t for t in fields.values() if not t.derived)
        for fields in self.languages.values():
            yield from (t for t in fields.values() if not t.derived)


def undeclared_variables(compiled: CompiledContent) -> dict[str, set[str]]:
    """Per field path, the names a template reads from its context."""
    out: dict[str, set[str]] = {}
    for tpl in compiled.templates():
        names = set(meta.find_undeclared_variables(tpl.ast))
        if names:
            out[tpl.path] = names
    return out


def _vars_attributes(ast: nodes.Template) -> Iterator[tuple[int, str]]:
    """(line, name) of each `vars.NAME` and `vars['NAME']` in a template."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            if isinstance(node.node, nodes.Name) and node.node.name == VARS_NAME:
                yield node.lineno, node.attr
        elif (isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name)
              and node.node.name == VARS_NAME and isinstance(node.arg, nodes.Const)
              and isinstance(node.arg.value, str)):
            yield node.lineno, node.arg.value


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_variables(
    compiled: CompiledContent,
    available: set[str],
    *,
    variables: Collection[str] | None = None,
) -> list[Problem]:
    """Problems for each name no template can resolve, with a did-you-mean.

    `available` holds the columns a profile row carries; `vars` and the environment's
    globals (`range`, `dict`, …) are always available. With `variables` (the
    campaign's variable names), `vars.NAME` is checked as well.
    """
    aid = compiled.activity_id
    problems: list[Problem] = []
    for tpl in compiled.templates():
        env = content_environment(html=tpl.path.endswith("html"))
        known = set(available) | {VARS_NAME} | set(env.globals)
        for name in sorted(meta.find_undeclared_variables(tpl.ast)):
            if name not in known:
                problems.append(Problem(
                    f"{aid}.{tpl.path}",
                    f"undefined variable {name!r}{_did_you_mean(name, available)}",
                    aid,
                ))
        if variables is not None:
            seen: set[str] = set()
            for _, name in _vars_attributes(tpl.ast):
                if name in variables or name in seen:
                    continue
                seen.add(name)
                problems.append(Problem(
                    f"{aid}.{tpl.path}",
                    f"undefined variable 'vars.{name}'{_did_you_mean(name, variables)}",
                    aid,
                ))
    return problems


def _hash_unit(activity_id: str, profile_key: object) -> float:
    """A number in [0, 1) fixed by (activity, profile)."""
    digest = hashlib.sha256(f"{activity_id}\x00{profile_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_variant(
    activity_id: str, profile_key: object, variants: list[Variant]
) -> Variant | None:
    """The profile's variant: fixed by a hash of (activity, profile), weights honoured."""
    if not variants:
        return None
    cumulative = list(accumulate(v.weight for v in variants))
    point = _hash_unit(activity_id, profile_key) * cumulative[-1]
    index = bisect.bisect_right(cumulative, point)
    return variants[min(index, len(variants) - 1)]


def choose_language(
    profile_language: str | None, languages: Iterable[str], fallback: str | None
) -> str | None:
    """The language key to use: exact tag, then primary subtag, then the fallback.

    Tags compare case-insensitively and `_` counts as `-` (`fr_CA` is `fr-CA`). The
    key is returned as spelled in `languages`; None when nothing fits.
    """
    keys = list(languages)
    by_norm = {k.strip().lower().replace("_", "-"): k for k in keys}

    def find(tag: str | None) -> str | None:
        if not tag or not isinstance(tag, str):
            return None
        norm = tag.strip().lower().replace("_", "-")
        if norm in by_norm:
            return by_norm[norm]
        primary = norm.split("-", 1)[0]
        return by_norm.get(primary)

    return find(profile_language) or find(fallback)


@dataclass(frozen=True)
class RenderedMessage:
    """One profile's message; fields the channel does not have are None."""

    subject: str | None = None
    html: str | None = None
    text: str | None = None
    body: str | None = None
    title: str | None = None
    variant: str | None = None
    language: str | None = None
    text_derived: bool = False  # the text was made from the html
    links: tuple[str, ...] = ()  # email: the tracked links' original URLs, by index


def _render_one(tpl: CompiledTemplate, context: Mapping[str, Any], activity: str) -> str:
    try:
        out = tpl.template.render(context)
    except SecurityError as error:
        raise ContentError(activity, tpl.path, f"refused by the sandbox: {error}") from None
    except UndefinedError as error:
        raise ContentError(activity, tpl.path, f"missing value: {error.message}") from None
    except TemplateError as error:
        raise ContentError(activity, tpl.path, f"cannot render: {error}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError,
            RecursionError, OverflowError, MemoryError) as error:
        kind = type(error).__name__
        raise ContentError(activity, tpl.path, f"cannot render ({kind}): {error}") from None
    if tpl.path.rsplit(".", 1)[-1] in ONE_LINE_FIELDS:
        out = " ".join(out.split())
    return out


_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_KEY_COLUMNS = ("id", "key", "profile_id", "customer_id")


def render_message(
    compiled: CompiledContent,
    profile: Mapping[str, Any],
    variables: Mapping[str, Any],
    *,
    profile_key: object = None,
    language: str | None = None,
    language_column: str = "language",
) -> RenderedMessage:
    """Render one profile's message: variant and language chosen, each field rendered.

    The profile's key (for the variant) is `profile_key`, else the profile's first
    column among id, key, profile_id, customer_id; its language is `language`, else
    the profile's `language_column`.
    """
    aid = compiled.activity_id
    variant: Variant | None = None
    variant_fields: dict[str, CompiledTemplate] = {}
    if compiled.variants:
        key = profile_key
        if key is None:
            key = next((profile[c] for c in _KEY_COLUMNS if profile.get(c) is not None), None)
        if key is None:
            raise ContentError(aid, "variants", "the profile has no key to choose a variant")
        variant = choose_variant(aid, key, [v for v, _ in compiled.variants])
        variant_fields = next(f for v, f in compiled.variants if v is variant)
    lang: str | None = None
    if compiled.languages:
        wanted = language if language is not None else profile.get(language_column)
        lang = choose_language(wanted, compiled.languages, compiled.fallback_language)
    lang_fields = compiled.languages.get(lang, {}) if lang is not None else {}

    context = {**profile, VARS_NAME: dict(variables)}
    rendered: dict[str, str | None] = {}
    layers = (lang_fields, variant_fields, compiled.base)
    html_layer = next((layer for layer in layers if "html" in layer), None)
    text_derived = True
    for name in CONTENT_FIELDS:
        layer = next((layer for layer in layers if name in layer), None)
        tpl = None if layer is None else layer[name]
        if tpl is not None and tpl.derived and layer is not html_layer:
            tpl = None  # made from another html than the one sent: derive it afresh
        if name == "text" and tpl is not None:
            text_derived = tpl.derived
        rendered[name] = None if tpl is None else _render_one(tpl, context, aid)
        if name == "text" and tpl is not None and tpl.derived and rendered[name]:
            # block tags leave blank lines behind: tidy as html_to_text does
            rendered[name] = _BLANK_LINES.sub("\n\n", rendered[name] or "").strip("\n") + "\n"
    return RenderedMessage(
        subject=rendered.get("subject"), html=rendered.get("html"), text=rendered.get("text"),
        body=rendered.get("body"), title=rendered.get("title"),
        variant=variant.id if variant else None, language=lang, text_derived=text_derived)


__all__ = [
    "CONTENT_FIELDS",
    "CompiledContent",
    "CompiledTemplate",
    "ContentError",
    "RenderedMessage",
    "check_variables",
    "choose_language",
    "choose_variant",
    "compile_mjml_template",
    "compile_template",
    "content_environment",
    "load_content",
    "render_message",
    "undeclared_variables",
]
