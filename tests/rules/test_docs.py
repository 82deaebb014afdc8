"""The examples of docs/rules.md: they parse, and what the page says they select is
what they select on the tiny retail workspace."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from overture.data.workspace import Workspace
from overture.definition import yamlio
from overture.definition.rules import OPERATORS
from overture.rules.compiler import RULE_ADAPTER

from .helpers import matching

PAGE = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
TEXT = PAGE.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def yaml_blocks() -> list[str]:
    return [m.group(2) for m in FENCE.finditer(TEXT) if m.group(1) == "yaml"]


def section(title: str) -> str:
    start = TEXT.index(f"\n## {title}")
    end = TEXT.find("\n## ", start + 1)
    return TEXT[start:end if end > 0 else None]


def table_rows(title: str) -> list[list[str]]:
    rows = []
    for line in section(title).splitlines():
        if line.startswith("| `"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


@pytest.mark.parametrize("text", yaml_blocks())
def test_every_yaml_block_is_yaml(text: str) -> None:
    assert yamlio.load(text) is not None


def test_every_operator_has_an_example_that_parses() -> None:
    rows = table_rows("Operators")
    documented = [op for row in rows for op in re.findall(r"`(\w+)`", row[0])]
    assert sorted(documented) == sorted(OPERATORS)
    for row in rows:
        example = yamlio.load(row[-1].strip("`"))
        rule = RULE_ADAPTER.validate_python(example)
        assert rule.op in re.findall(r"`(\w+)`", row[0]), row


def test_group_examples_parse() -> None:
    groups = [r for r in table_rows("The shape of a rule") if r[0].startswith(("`all", "`any",
                                                                                "`not"))]
    assert len(groups) == 3
    for row in groups:
        RULE_ADAPTER.validate_python(yamlio.load("{" + row[-1].strip("`") + "}"))


def test_the_eve_and_hal_table(ws: Workspace) -> None:
    rows = [r for r in table_rows("Missing values (NULL)") if len(r) == 3]
    assert len(rows) == 7
    for cell, eve, hal in rows:
        got = matching(ws, yamlio.load(cell.strip("`")))
        assert (5 in got) == (not eve.startswith("not kept")), cell
        assert (8 in got) == (not hal.startswith("not kept")), cell


def test_the_first_rule_counts_what_the_page_says(ws: Workspace) -> None:
    block = next(b for b in yaml_blocks() if "id: buyers" in b and "in_last" in b)
    rule: Any = yamlio.load(block)["activities"][0]["rule"]
    shown = int(re.search(r"# (\d+) profiles", section("A first rule")).group(1))  # type: ignore[union-attr]
    assert len(matching(ws, rule)) == shown
