"""The rule tree of spec §3: pure data, no compilation here.

A rule is one of the groups (`all`, `any`, `not`) or a leaf. The YAML form is kept
exactly: the node kind is the key the mapping carries, so the discriminator looks at
the keys rather than at a `type` field.
"""

from __future__ import annotations

import difflib
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

Operator = Literal[
    "eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "is_empty",
    "is_not_empty", "starts_with", "not_starts_with", "contains", "not_contains",
    "like", "not_like", "in_last", "not_in_last",
]
OPERATORS: tuple[str, ...] = Operator.__args__  # type: ignore[attr-defined]
#: operators that take no value
UNARY_OPERATORS = frozenset({"is_empty", "is_not_empty"})
#: operators whose value is a list
LIST_OPERATORS = frozenset({"in", "not_in", "between"})
#: operators whose value is a duration such as "30 days"
DURATION_OPERATORS = frozenset({"in_last", "not_in_last"})
#: operators on text only
TEXT_OPERATORS = frozenset(
    {"starts_with", "not_starts_with", "contains", "not_contains", "like", "not_like"}
)
#: negative operators: exact complements of their positive form (`IS NOT TRUE`)
NEGATIONS = {
    "ne": "eq",
    "not_in": "in",
    "not_starts_with": "starts_with",
    "not_contains": "contains",
    "not_like": "like",
    "not_in_last": "in_last",
}

AggregateFn = Literal["count", "sum", "avg", "min", "max", "count_distinct"]
EngagementEvent = Literal[
    "sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "complained", "excluded"
]
ENGAGEMENT_EVENTS: tuple[str, ...] = EngagementEvent.__args__  # type: ignore[attr-defined]
#: the events whose machine hits (mail scanners, privacy proxies) `include_machine` counts
MACHINE_EVENTS = frozenset({"opened", "clicked"})
#: what people (and the events table) call them: each leads to the leaf's word
_EVENT_ALIASES = {
    "open": "opened", "opens": "opened", "read": "opened", "click": "clicked",
    "clicks": "clicked", "delivery": "delivered", "deliver": "delivered",
    "bounce": "bounced", "bounces": "bounced", "unsubscribe": "unsubscribed",
    "unsub": "unsubscribed", "complaint": "complained", "spam": "complained",
    "send": "sent", "exclusion": "excluded", "exclude": "excluded",
}


def _dates_as_text(value: Any) -> Any:
    """YAML reads `2027-03-01` as a date: keep it as its ISO text, which `coerce` types."""
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    return value


Scalar = str | int | float | bool | None
Value = Annotated[Scalar | list[Scalar], BeforeValidator(_dates_as_text)]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class All(_Node):
    all: list[Rule] = Field(min_length=1)


class AnyOf(_Node):
    any: list[Rule] = Field(min_length=1)


class Not(_Node):
    not_: Rule = Field(alias="not")


class Condition(_Node):
    """`{field: F, op: OP, value: V}`."""

    field: str = Field(min_length=1)
    op: Operator
    value: Value = None


class ExistsSpec(_Node):
    link: str = Field(min_length=1)
    where: Rule | None = None


class Exists(_Node):
    exists: ExistsSpec


class AggregateSpec(_Node):
    link: str = Field(min_length=1)
    fn: AggregateFn
    field: str | None = None
    where: Rule | None = None


class Aggregate(_Node):
    aggregate: AggregateSpec
    op: Operator
    value: Value = None


def _known_event(value: Any) -> Any:
    """An unknown event kind is refused naming the closest one (`open` -> `opened`)."""
    if not isinstance(value, str) or value in ENGAGEMENT_EVENTS:
        return value  # not text: the Literal's own error says what is allowed
    guess = _EVENT_ALIASES.get(value.strip().lower())
    if guess is None:
        close = difflib.get_close_matches(value.strip().lower(), ENGAGEMENT_EVENTS, n=1,
                                          cutoff=0.6)
        guess = close[0] if close else None
    choices = ", ".join(ENGAGEMENT_EVENTS[:-1]) + f" or {ENGAGEMENT_EVENTS[-1]}"
    message = (f"{value!r} is not an engagement event; did you mean {guess!r}?" if guess
               else f"{value!r} is not an engagement event: use {choices}")
    raise PydanticCustomError("engagement_event", "{message}", {"message": message})


class EngagementSpec(_Node):
    """`{engagement: {event, campaign, activity, within, include_machine}}` (spec §3).

    `campaign`, `activity` and `within` may hold `${vars.NAME}`; `within` is checked as
    a duration by validation and the compiler, once variables are known.
    """

    event: Annotated[EngagementEvent, BeforeValidator(_known_event)]
    campaign: str | None = Field(default=None, min_length=1)
    activity: str | None = Field(default=None, min_length=1)
    within: str | None = Field(default=None, min_length=1)
    include_machine: StrictBool = False

    @field_validator("include_machine")
    @classmethod
    def _machine_only_for_opens_and_clicks(cls, value: bool, info: ValidationInfo) -> bool:
        event = info.data.get("event")
        if value and event is not None and event not in MACHINE_EVENTS:
            raise PydanticCustomError(
                "engagement_machine", "{message}",
                {"message": f"include_machine applies to opened and clicked only, not to "
                            f"{event}"})
        return value


class Engagement(_Node):
    engagement: EngagementSpec


class InAudience(_Node):
    in_audience: str = Field(min_length=1)


class FilterRef(_Node):
    filter: str = Field(min_length=1)


_KINDS = ("all", "any", "not", "exists", "aggregate", "engagement", "in_audience", "filter")


def _rule_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {
            All: "all", AnyOf: "any", Not: "not", Exists: "exists", Aggregate: "aggregate",
            Engagement: "engagement", InAudience: "in_audience", FilterRef: "filter",
            Condition: "field",
        }.get(type(value))
    if not isinstance(value, dict):
        return None
    for kind in _KINDS:
        if kind in value:
            return kind
    if "field" in value:
        return "field"
    return None


Rule = Annotated[
    Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[Condition, Tag("field")]
    | Annotated[Exists, Tag("exists")]
    | Annotated[Aggregate, Tag("aggregate")]
    | Annotated[Engagement, Tag("engagement")]
    | Annotated[InAudience, Tag("in_audience")]
    | Annotated[FilterRef, Tag("filter")],
    Discriminator(
        _rule_kind,
        custom_error_type="rule_kind",
        custom_error_message=(
            "a rule must be a mapping with one of: all, any, not, field, exists, "
            "aggregate, engagement, in_audience, filter"
        ),
    ),
]

for _model in (All, AnyOf, Not, ExistsSpec, Aggregate, AggregateSpec):
    _model.model_rebuild()


def iter_nodes(rule: Any) -> Any:
    """Every node of a rule tree, depth first.

    Does not descend into the `where` of `exists` and `aggregate`: those rules apply
    to the linked table, not to the rule's own scope.
    """
    yield rule
    if isinstance(rule, All):
        for child in rule.all:
            yield from iter_nodes(child)
    elif isinstance(rule, AnyOf):
        for child in rule.any:
            yield from iter_nodes(child)
    elif isinstance(rule, Not):
        yield from iter_nodes(rule.not_)
