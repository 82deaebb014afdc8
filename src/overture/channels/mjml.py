"""MJML email content: compiled once to a Jinja HTML template, Jinja tags kept intact.

MJML (https://mjml.io) is compiled by `mjml-python`, a wrapper of MRML (the Rust port
of MJML). MRML keeps most Jinja text as it is, but not all of it: `{{ a < b }}` or an
expression with double quotes inside a double-quoted attribute does not parse. So the
Jinja tags (`{{ … }}`, `{% … %}`, `{# … #}` and whole `{% raw %}` blocks) are first
replaced by placeholders made of letters and digits, the MJML is compiled, and the
tags are put back in the HTML. The result is an ordinary HTML template, compiled by
the content sandbox like any other and rendered per profile.

A tag MJML drops (a placeholder missing from the HTML: in an attribute MJML ignores or
computes, like `mj-image width`) is an error rather than a silent loss, and so is
`mj-include`: content stands alone, as Jinja's `{% include %}` is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: a quoted string inside a Jinja tag (it may hold `}}` or `%}`)
_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_JINJA_TAG = re.compile(
    r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}"  # a raw block, as one piece
    r"|\{#.*?#\}"
    rf"|\{{\{{(?:{_STRING}|[^'\"}}]|\}}(?!\}}))*\}}\}}"
    rf"|\{{%(?:{_STRING}|[^'\"%]|%(?!\}}))*%\}}",
    re.DOTALL,
)
_INCLUDE = re.compile(r"<mj-include\b", re.IGNORECASE)
#: MRML reports positions as `at position START:END` (byte offsets of its input)
_POSITION = re.compile(r"\s*at position (\d+):(\d+)")
#: `<mjml`, after blanks, HTML comments, Jinja comments and statements
_MJML_START = re.compile(r"(?:\s|<!--.*?-->|\{#.*?#\}|\{%.*?%\})*<mjml[\s>/]", re.DOTALL)
#: an opening Jinja delimiter in MJML's own output (never in what the author wrote)
_STRAY_DELIMITER = re.compile(r"\{(?=[{%#])")


class MjmlError(Exception):
    """MJML that cannot compile; `line` is the line of the source, when known."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


def starts_with_mjml(source: str) -> bool:
    """The text's first element is `<mjml>` (after blanks, comments and Jinja tags)."""
    return _MJML_START.match(source.lstrip("\ufeff")) is not None


def is_mjml(source: str, file: str | None = None) -> bool:
    """MJML when the file ends in `.mjml`, or when the text starts with `<mjml`."""
    if file is not None and file.lower().endswith(".mjml"):
        return True
    return starts_with_mjml(source)


@dataclass(frozen=True)
class _Protected:
    """The MJML with placeholders, each tag, and where each piece came from."""

    text: str
    tags: list[tuple[str, int]]  # (the Jinja tag, its offset in the source)
    token: str  # placeholder i is f"{token}{i}X"
    #: (offset in `text`, offset in the source) at the start of each piece
    pieces: list[tuple[int, int]]

    def source_offset(self, offset: int) -> int:
        """The source offset of an offset in `text` (a placeholder maps to its tag)."""
        start, origin = 0, 0
        for piece_start, piece_origin in self.pieces:
            if piece_start > offset:
                break
            start, origin = piece_start, piece_origin
        return origin + (offset - start)


def _token_for(source: str) -> str:
    token = "OVTJ"
    while token in source:
        token += "Q"
    return token


def _protect(source: str) -> _Protected:
    token = _token_for(source)
    parts: list[str] = []
    tags: list[tuple[str, int]] = []
    pieces: list[tuple[int, int]] = [(0, 0)]
    length = 0
    last = 0
    for match in _JINJA_TAG.finditer(source):
        before = source[last:match.start()]
        parts.append(before)
        length += len(before)
        pieces.append((length, match.start()))
        placeholder = f"{token}{len(tags)}X"
        parts.append(placeholder)
        length += len(placeholder)
        tags.append((match.group(0), match.start()))
        last = match.end()
        pieces.append((length, last))
    parts.append(source[last:])
    return _Protected("".join(parts), tags, token, pieces)


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, max(offset, 0)) + 1


def _refuse_includes(source: str) -> None:
    found = _INCLUDE.search(source)
    if found:
        raise MjmlError("<mj-include> is not allowed: the MJML content stands alone",
                        _line_of(source, found.start()))


def _no_include(path: str) -> str:
    raise ValueError(f"mj-include of {path!r} is not allowed")


def _compiler() -> Callable[..., str]:
    try:
        from mjml import mjml2html
    except ImportError:
        raise MjmlError("MJML needs the mjml-python package "
                        "(pip install 'mjml-python>=1.4,<2')") from None
    return mjml2html


def compile_mjml(source: str) -> str:
    """The HTML template of an MJML template: MJML compiled, Jinja tags restored.

    Raises `MjmlError` (with the source line when MRML gives a position) for MJML that
    does not compile, for `mj-include`, and for Jinja tags that MJML would drop.
    """
    if not starts_with_mjml(source):
        raise MjmlError("an MJML document starts with <mjml>", 1)
    _refuse_includes(source)
    protected = _protect(source)
    placeholder = re.compile(rf"{protected.token}(\d+)X")
    # Jinja tags before <mjml> and after </mjml> (a comment, a {% set %}) stay outside
    # the document, where MJML refuses text; blanked so that positions do not move
    run = rf"(?:\s|{placeholder.pattern})*"
    head = re.match(run, protected.text)
    start = head.end() if head else 0
    end = protected.text.rfind(">") + 1  # placeholders hold no ">"
    if end <= start or not re.fullmatch(run, protected.text[end:]):
        end = len(protected.text)
    before, after = protected.text[:start], protected.text[end:]
    text = _blank(before) + protected.text[start:end] + _blank(after)
    html = _run_mrml(text, protected, source)
    html = _STRAY_DELIMITER.sub("{{ '{' }}", html)
    html = _tags_only(placeholder, before) + html + _tags_only(placeholder, after)
    seen: set[int] = set()

    def restore(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(protected.tags):  # not ours: cannot happen, the token is unused
            return match.group(0)
        seen.add(index)
        return protected.tags[index][0]

    html = placeholder.sub(restore, html)
    for index, (tag, offset) in enumerate(protected.tags):
        if index not in seen:
            shown = tag if len(tag) <= 40 else tag[:37] + "..."
            raise MjmlError(
                f"MJML drops the Jinja tag {shown}: put Jinja tags in text (mj-text, "
                "mj-button, mj-raw…) or in attributes MJML copies as they are (href, src, "
                "alt, title), not in sizes, colours or unknown attributes",
                _line_of(source, offset),
            )
    return html


def _run_mrml(text: str, protected: _Protected, source: str) -> str:
    """MRML's HTML for `text`; MRML's failures become `MjmlError`s.

    mjml-python 1.4 (MRML) panics on a bare `>` in text after a non-ASCII character
    ("Découvrir >"): then the text's bare `>` are written `&gt;` (the same in HTML)
    and MRML runs again.
    """
    mjml2html = _compiler()
    try:
        return str(mjml2html(text, include_loader=_no_include))
    except BaseException as error:
        if not _mrml_failure(error):
            raise
        if not _is_panic(error):
            raise _mjml_error(str(error), text, protected, source) from None
        panic = str(error).splitlines()[0] if str(error) else type(error).__name__
    escaped = escape_text_gt(text)
    try:
        return str(mjml2html(escaped, include_loader=_no_include))
    except BaseException as error:
        if not _mrml_failure(error):
            raise
        if not _is_panic(error):
            raise _mjml_error(str(error), escaped, protected, source) from None
    raise MjmlError(f"invalid MJML: the MJML compiler failed ({panic})")


def _is_panic(error: BaseException) -> bool:
    """A Rust panic inside MRML: pyo3 raises it as a BaseException."""
    return type(error).__name__ == "PanicException"


def _mrml_failure(error: BaseException) -> bool:
    return isinstance(error, ValueError | RuntimeError) or _is_panic(error)


#: markup in MJML text: a comment, or a tag with its attributes (quoted values may
#: hold `>`)
_MARKUP = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(/?)([A-Za-z][\w:.-]*)((?:\s+[^\s=/>]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)"
    r"\s*(/?)>",
    re.DOTALL,
)
#: elements whose content is not text: left exactly as written
_RAW_ELEMENTS = frozenset({"mj-style", "mj-raw", "style", "script"})


def escape_text_gt(text: str) -> str:
    """`text` with every `>` of text content written `&gt;`.

    Tags, comments and the content of mj-style, mj-raw, style and script are kept as
    they are.
    """
    out: list[str] = []
    position = 0
    while position < len(text):
        found = _MARKUP.search(text, position)
        end = found.start() if found else len(text)
        out.append(text[position:end].replace(">", "&gt;"))
        if found is None:
            break
        out.append(found.group(0))
        position = found.end()
        name = (found.group(2) or "").lower()
        if name in _RAW_ELEMENTS and not found.group(1) and not found.group(4):
            close = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE).search(text, position)
            stop = close.start() if close else len(text)
            out.append(text[position:stop])
            position = stop
    return "".join(out)


def _tags_only(placeholder: re.Pattern[str], text: str) -> str:
    """The placeholders of `text`, without the blanks between them."""
    return "".join(m.group(0) for m in placeholder.finditer(text))


def _blank(text: str) -> str:
    """Spaces in place of text, newlines kept: offsets and lines stay where they were."""
    return re.sub(r"[^\n]", " ", text)


def _mjml_error(message: str, compiled: str, protected: _Protected, source: str
                ) -> MjmlError:
    """An error of MRML on `compiled` (the protected text, maybe with `>` escaped)."""
    message = message.strip() or "invalid MJML"
    line = None
    found = _POSITION.search(message)
    if found:
        start, end = int(found.group(1)), int(found.group(2))
        # MRML counts bytes of UTF-8, and its token starts with the whitespace before it
        data = compiled.encode("utf-8")
        prefix = data[:start].decode("utf-8", errors="ignore")
        token = data[start:end].decode("utf-8", errors="ignore")
        offset = len(prefix) + len(token) - len(token.lstrip())
        if len(compiled) != len(protected.text):  # `>` escaped: only the line is kept
            lines = compiled.count("\n", 0, offset)
            offset = 0
            for _ in range(lines):
                offset = protected.text.index("\n", offset) + 1
        line = _line_of(source, protected.source_offset(offset))
        message = message[:found.start()] + message[found.end():]
    message = message.replace(" in root template", "").strip()
    return MjmlError(f"invalid MJML: {message}", line)


__all__ = ["MjmlError", "compile_mjml", "escape_text_gt", "is_mjml", "starts_with_mjml"]
