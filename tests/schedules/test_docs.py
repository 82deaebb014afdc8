"""The examples of docs/schedules.md: every schedule on the page is valid, and the
preview the page prints is what the engine gives."""

from __future__ import annotations

import re
from pathlib import Path

from overture.definition import yamlio
from overture.schedules import parse_schedule, schedule_problems

from .helpers import PARIS, at

PAGE = Path(__file__).resolve().parents[2] / "docs" / "schedules.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def blocks(lang: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    return [m.group(2) for m in FENCE.finditer(text) if m.group(1) == lang]


def test_every_yaml_schedule_on_the_page_is_valid() -> None:
    found = [yamlio.load(text)["schedule"] for text in blocks("yaml")]
    assert len(found) >= 10
    for schedule in found:
        assert schedule_problems(schedule) == [], schedule


def test_the_preview_prints_what_the_engine_gives() -> None:
    newsletter = yamlio.load(blocks("yaml")[0])
    assert newsletter["timezone"] == PARIS
    schedule = parse_schedule(newsletter["schedule"])
    console = blocks("console")
    lines = console[0].splitlines()
    assert lines[0].endswith("--after 2027-03-20T00:00 --count 5")
    expected = [s.isoformat() for s in schedule.starts(PARIS, at("2027-03-20T00:00+01:00"), 5)]
    assert lines[1:] == expected
    shown = console[1].splitlines()[1]
    assert shown == '{"starts": ["' + '", "'.join(expected[:3]) + '"]}'


def test_the_problems_the_page_prints() -> None:
    lines = blocks("console")[2].splitlines()
    problems = schedule_problems({"weekly": {"days": ["mon", "mox"], "at": "9h"}})
    assert lines[1:] == [f"✗ schedule.{path}: {message}" for path, message in problems]
