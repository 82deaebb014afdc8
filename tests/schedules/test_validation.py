"""A campaign document whose `schedule:` is invalid: one Problem per schedule problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from definition.samples import SPRING_SALE
from overture.definition.campaign import parse_document, read_document
from overture.definition.errors import Problem
from overture.definition.validation import validate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "campaigns"


def with_schedule(schedule: Any) -> dict[str, Any]:
    doc = copy.deepcopy(parse_document(SPRING_SALE))
    doc["schedule"] = schedule
    return doc


def test_a_valid_schedule_adds_no_problem() -> None:
    assert validate(with_schedule({"weekly": {"days": ["mon", "thu"], "at": "09:00"}})).ok


def test_each_schedule_problem_is_a_problem_under_schedule() -> None:
    result = validate(with_schedule({"weekly": {"days": ["mox"], "at": "9h"}, "end": "soon"}))
    assert result.problems == [
        Problem("schedule.end", "must be a date such as 2027-01-01, not 'soon'"),
        Problem("schedule.weekly.days[0]", "unknown day 'mox'; did you mean 'mon'?"),
        Problem("schedule.weekly.at", 'must be a time HH:MM such as "09:00", not \'9h\''),
    ]
    assert not result.ok
    assert str(result.problems[1]) == (
        "schedule.weekly.days[0]: unknown day 'mox'; did you mean 'mon'?")


def test_a_problem_of_the_whole_schedule_has_the_path_schedule() -> None:
    result = validate(with_schedule({"daily": {"at": "09:00"}, "cron": "0 9 * * *"}))
    assert result.problems == [Problem("schedule", "one kind per schedule, found daily and cron")]


def test_schedule_problems_come_with_the_documents_other_problems() -> None:
    doc = with_schedule({"cron": "0 9 * *"})
    doc["activities"][0]["type"] = "build_audiance"
    paths = [p.path for p in validate(doc).problems]
    assert "schedule.cron" in paths
    assert any(path.startswith("buyers") for path in paths)


def test_a_schedule_that_is_not_a_mapping_is_reported_once() -> None:
    problems = validate(with_schedule("every monday")).problems
    assert [p.path for p in problems] == ["schedule"]


@pytest.mark.parametrize("name", ["spring-sale.yaml", "vip-buyers.yaml"])
def test_the_example_campaigns_schedules_are_valid(name: str) -> None:
    doc = read_document(EXAMPLES / name)
    assert [p for p in validate(doc).problems if p.path.startswith("schedule")] == []
