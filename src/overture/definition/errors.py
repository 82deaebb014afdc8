"""Validation problems: a path to the offending setting and a message, never a traceback."""

from __future__ import annotations

import difflib
import re
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
#: settings that hold a rule: the rule union inserts its tag right after them
_RULE_SLOTS = {"rule", "where", "not"}
#: the labels pydantic puts in a location for the members of a plain union
_UNION_LABEL = re.compile(
    r"^(?:str|int|float|bool|none|bytes|decimal|date|datetime|time|[\w-]+\[.*\])$"
)
#: the nouns of the "must be …" message of a value that fits no member of a union
_KIND_NOUNS = {
    "string_type": "text", "int_type": "a number", "int_parsing": "a number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true/false",
    "bool_parsing": "true/false", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "none_required": "empty",
}
_SIMPLE = {
    "string_type": "must be text",
    "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping (setting: value)",
    "model_type": "must be a mapping (setting: value)",
    "model_attributes_type": "must be a mapping (setting: value)",
    "invalid_key": "setting names must be text",
    "none_required": "must be empty",
    "recursion_depth_exceeded": "nested too deeply",
}
#: settings whose allowed range is better said whole than bound by bound
_RANGES = {"percent": (0, 100)}
_PATTERNS = {
    r"^[a-z][a-z0-9_]*$": "must start with a lowercase letter and use only lowercase "
                          "letters, digits and _",
    r"^[a-z0-9][a-z0-9_-]*$": "must start with a lowercase letter or a digit and use only "
                              "lowercase letters, digits, - and _",
}


def join_path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _choices(names: Sequence[str], last: str = "or") -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


def _did_you_mean(word: Any, options: Sequence[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def _message(error: Any, loc: Sequence[Any], known: Sequence[str] = ()) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    msg = str(error["msg"])
    last = loc[-1] if loc else None
    if kind == "extra_forbidden":
        return "unknown setting" + _did_you_mean(last, known)
    if kind == "missing":
        return "required setting is missing"
    if kind == "union_tag_invalid":
        tag = ctx.get("tag")
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        hint = _did_you_mean(tag, expected)
        if hint:
            return f"unknown activity type {tag!r}{hint}"
        return f"unknown activity type {tag!r}: the types are {_choices(expected)}"
    if kind == "union_tag_not_found":
        return "the activity `type` is missing (such as build_audience, split or email)"
    if kind == "rule_kind" and isinstance(value, dict):
        for key in value:
            hint = _did_you_mean(key, sorted(_RULE_TAGS))
            if hint:
                return f"{msg} (unknown key {key!r}{hint})"
        return msg
    if kind == "literal_error" or kind == "enum":
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        if expected:
            hint = _did_you_mean(value, expected)
            if hint:
                return f"{value!r} is not allowed here{hint}"
            return f"{value!r} is not allowed here: use {_choices(expected)}"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        if last in _RANGES:
            low, high = _RANGES[str(last)]
            return f"must be between {low} and {high}"
        if "le" in ctx:
            return f"must be at most {_num(ctx['le'])}"
        if "ge" in ctx:
            return f"must be at least {_num(ctx['ge'])}"
        if "lt" in ctx:
            return f"must be less than {_num(ctx['lt'])}"
        if "gt" in ctx:
            return f"must be more than {_num(ctx['gt'])}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        rule = _PATTERNS.get(pattern, f"must match {pattern}")
        return f"{value!r} {rule}"
    if kind == "too_short":
        need = ctx.get("min_length", 1)
        return f"must list at least {need} item{'s' if need != 1 else ''}"
    if kind == "too_long":
        most = ctx.get("max_length")
        return f"must list at most {most} item{'s' if most != 1 else ''}"
    if kind == "string_too_short":
        need = ctx.get("min_length", 1)
        return "must not be empty" if need == 1 else f"must be at least {need} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if msg.startswith("Input should be "):
        msg = "must be " + msg[len("Input should be "):]
    return msg


def _union_message(kinds: Sequence[str]) -> str:
    nouns: list[str] = []
    for kind in kinds:
        noun = _KIND_NOUNS[kind]
        if noun not in nouns:
            nouns.append(noun)
    return "must be " + _choices(nouns)


def format_pydantic_errors(
    exc: ValidationError, raw: Any = None
) -> list[Problem]:
    """Turn pydantic's errors into Problems whose paths start with the activity id.

    `activities[2].split.subsets[1].limit.percent` becomes `tiers.subsets[1].limit.percent`
    when the third activity's id is `tiers`. The tags that tagged unions insert into
    the location (activity types, rule kinds) and the member labels of plain unions
    (`value.str`, `value.int`, …) are removed, so a path names settings only; the
    errors of a value that fits no member of a union become one problem.
    """
    activities = raw.get("activities") if isinstance(raw, dict) else None
    # path -> (activity, [(error, loc)]) in the order pydantic reports them
    found: dict[str, tuple[str | None, list[tuple[Any, list[Any], bool]]]] = {}
    for error in exc.errors():
        loc = list(error["loc"])
        activity_id = None
        node: Any = raw
        known: Sequence[str] = ()
        if len(loc) >= 2 and loc[0] == "activities" and isinstance(loc[1], int):
            index = loc[1]
            item = activities[index] if isinstance(activities, list) and 0 <= index < len(
                activities) else None
            raw_id = item.get("id") if isinstance(item, dict) else None
            activity_id = raw_id if isinstance(raw_id, str) and raw_id else f"activities[{index}]"
            loc = loc[2:]
            if loc and loc[0] in _ACTIVITY_TAGS:
                loc = loc[1:]
            if error["type"] == "union_tag_not_found" and not loc:
                loc = ["type"]
            node = item
            tail, union = _drop_union_labels(_drop_rule_tags(loc), node)
            loc = [activity_id, *tail]
            if len(tail) == 1 and isinstance(item, dict):
                known = _activity_settings(item.get("type"))
        else:
            loc, union = _drop_union_labels(_drop_rule_tags(loc), node)
            if len(loc) == 1 and exc.title == "Campaign":
                known = _campaign_settings()
        if loc and loc[-1] == "[key]":  # a mapping key that is not one of the allowed ones
            loc = loc[:-1]
        path = join_path(loc)
        found.setdefault(path, (activity_id, []))[1].append((error, loc, union))
    problems: list[Problem] = []
    for path, (activity_id, errors) in found.items():
        kinds = [e["type"] for e, _, union in errors if union]
        if len(kinds) > 1 and all(k in _KIND_NOUNS for k in kinds):
            messages = [_union_message(kinds)]
        else:
            messages = []
            for error, loc, _ in errors:
                message = _message(error, loc, known if len(loc) <= 2 else ())
                if message not in messages:
                    messages.append(message)
        if not path and errors[0][0]["type"] in ("model_type", "dict_type"):
            messages = ["a campaign document must be a mapping at the top level"]
        problems.extend(Problem(path, message, activity_id) for message in messages)
    return problems


def _activity_settings(kind: Any) -> list[str]:
    from overture.definition.activities import ACTIVITY_TYPES

    model = ACTIVITY_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _campaign_settings() -> list[str]:
    from overture.definition.campaign import Campaign

    return list(Campaign.model_fields)


def _drop_rule_tags(loc: list[Any]) -> list[Any]:
    """Remove the tags that the rule union inserts after a rule's place in the document.

    A rule sits under `rule`, `where`, `not` or an item of `all`/`any`; the union then
    inserts the rule's kind (`all`, `field`, …) before the rule's own settings:
    `rule.field.op` is `rule.op`, `rule.all.all[0].field.value` is `rule.all[0].value`.
    A tag is never the last part of a location.
    """
    out: list[Any] = []
    slot = False
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if slot and not last and part in _RULE_TAGS:
            slot = False
            continue
        out.append(part)
        prev = out[-2] if len(out) >= 2 else None
        slot = (isinstance(part, str) and part in _RULE_SLOTS) or (
            isinstance(part, int) and prev in ("all", "any"))
    return out


def _drop_union_labels(loc: list[Any], node: Any) -> tuple[list[Any], bool]:
    """Remove the member labels of plain unions (`str`, `list[…]`), walking the document.

    A label is a part the document does not hold at that place. Returns the location
    and whether a label was removed (the error then belongs to a union member).
    """
    out: list[Any] = []
    union = False
    for part in loc:
        if isinstance(part, str) and _UNION_LABEL.match(part) and not (
                isinstance(node, dict) and part in node):
            union = True
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return out, union
