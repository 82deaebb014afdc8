"""The examples of docs/campaigns.md: complete documents validate, and the broken one
gives exactly the problems the page prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from overture.definition.validation import Environment

from .conftest import check

PAGE = Path(__file__).resolve().parents[2] / "docs" / "campaigns.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(PAGE.read_text(encoding="utf-8"))]


def documents() -> list[str]:
    """The yaml blocks that are whole campaigns (the broken example aside)."""
    return [text for lang, text in blocks()
            if lang == "yaml" and re.search(r"^name:", text, re.MULTILINE)
            and not text.startswith("# broken.yaml")]


def broken() -> tuple[str, list[str], dict[str, object]]:
    found = blocks()
    index = next(i for i, (lang, text) in enumerate(found)
                 if lang == "yaml" and text.startswith("# broken.yaml"))
    console = found[index + 1]
    assert console[0] == "console"
    json_block = next(text for lang, text in found[index:] if lang == "json")
    return found[index][1], console[1].splitlines(), json.loads(json_block)


def test_the_page_has_examples() -> None:
    assert len(documents()) >= 1


@pytest.mark.parametrize("text", documents())
def test_every_complete_example_validates(text: str, env: Environment) -> None:
    result = check(text, env)
    assert [str(p) for p in result.problems] == []


def test_the_valid_line_matches_the_first_example(env: Environment) -> None:
    result = check(documents()[0], env)
    assert result.campaign is not None
    line = (f"# ✓ campaigns/spring-sale.yaml: campaign {result.campaign.name!r} is valid "
            f"({len(result.campaign.activities)} activities)")
    assert line in PAGE.read_text(encoding="utf-8")


def test_the_broken_example_prints_what_the_page_shows(env: Environment) -> None:
    text, console, as_json = broken()
    result = check(text, env)
    printed = [line.removeprefix("✗ ") for line in console if line.startswith("✗ ")]
    assert [str(p) for p in result.problems] == printed
    assert f"{len(result.problems)} problem(s) in broken.yaml" in console
    shown = as_json["problems"]
    assert isinstance(shown, list)
    assert as_json["valid"] is False
    assert shown == [p.to_dict() for p in result.problems[:len(shown)]]
