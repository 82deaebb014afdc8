"""Validation problems: a path to the offending setting and a message, never a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One problem: `path` starts with the activity id when it concerns an activity."""

    path: str
    message: str
    activity: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"activity": self.activity, "path": self.path, "message": self.message}


class InvalidDocument(Exception):
    """Raised when a document has problems; carries all of them."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


_ACTIVITY_TAGS = {
    "build_audience", "read_audience", "load_file", "reconcile", "incremental_query",
    "combine", "deduplicate", "enrich", "split", "change_dimension", "save_audience", "fork",
    "and_join", "wait", "test", "alert", "end", "direct_mail", "email", "sms", "push",
}
_RULE_TAGS = {"all", "any", "not", "field", "exists", "aggregate", "engagement",
              "in_audience", "filter"}


def join_path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(error: Any) -> str:
    kind = error["type"]
    msg = str(error["msg"])
    if kind == "extra_forbidden":
        return "unknown setting"
    if kind == "missing":
        return "required setting is missing"
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"unknown activity type {tag!r} (expected one of {expected})"
    if kind == "union_tag_not_found":
        return "`type` is missing"
    if kind == "less_than_equal" or kind == "greater_than_equal":
        ge = error.get("ctx", {})
        if "le" in ge:
            return f"must be at most {ge['le']}"
        if "ge" in ge:
            return f"must be at least {ge['ge']}"
    if kind == "string_pattern_mismatch":
        return f"{error.get('input')!r} must match {error['ctx']['pattern']}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg


def format_pydantic_errors(
    exc: ValidationError, raw: dict[str, Any] | None = None
) -> list[Problem]:
    """Turn pydantic's errors into Problems whose paths start with the activity id.

    `activities[2].split.subsets[1].limit.percent` becomes `tiers.subsets[1].limit.percent`
    when the third activity's id is `tiers`; union tags that pydantic inserts into the
    location are removed.
    """
    activities = (raw or {}).get("activities")
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors():
        loc = list(error["loc"])
        activity_id = None
        if len(loc) >= 2 and loc[0] == "activities" and isinstance(loc[1], int):
            index = loc[1]
            item = activities[index] if isinstance(activities, list) and index < len(
                activities) else None
            raw_id = item.get("id") if isinstance(item, dict) else None
            activity_id = raw_id if isinstance(raw_id, str) and raw_id else f"activities[{index}]"
            loc = loc[2:]
            if loc and loc[0] in _ACTIVITY_TAGS:
                loc = loc[1:]
            loc = [activity_id, *loc]
        loc = _drop_rule_tags(loc)
        problem = Problem(join_path(loc), _message(error), activity_id)
        key = (problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            problems.append(problem)
    return problems


def _drop_rule_tags(loc: list[Any]) -> list[Any]:
    """Remove the tags that the rule union inserts: `all.all` -> `all`, `field.op` -> `op`."""
    out: list[Any] = []
    for index, part in enumerate(loc):
        nxt = loc[index + 1] if index + 1 < len(loc) else None
        if part in _RULE_TAGS and (nxt == part or (part == "field" and nxt in ("op", "value"))):
            continue
        out.append(part)
    return out
