"""One Pydantic model per activity type of spec §4, joined by their `type` tag.

Only structure and local constraints live here; cross-activity checks (ports,
cycles, columns) are in `validation.py`, which needs the whole document and the
data catalog.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from overture.definition.rules import Operator, Rule

IDENT = r"^[a-z][a-z0-9_]*$"
RESERVED_PORTS = frozenset({"out", "complement", "rejects", "unmatched", "default"})
INPUT_RE = re.compile(r"^([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?$")
DURATION_RE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)\s*$"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def check_duration(value: str) -> str:
    if not DURATION_RE.match(value):
        raise ValueError(f"{value!r} is not a duration such as '30 days' or '12 hours'")
    return value


class SortSpec(_Model):
    by: str = Field(min_length=1)
    order: Literal["asc", "desc"] = "asc"


class RandomSpec(_Model):
    seed: int = 0


class Limit(_Model):
    count: int | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_kind(self) -> Limit:
        if (self.count is None) == (self.percent is None):
            raise ValueError("give exactly one of count or percent")
        return self


class Activity(_Model):
    """Settings every activity shares."""

    id: str = Field(pattern=IDENT)
    type: str
    label: str | None = None
    description: str | None = None
    enabled: bool = True
    inputs: list[str] = Field(default_factory=list)

    #: how many inputs the type takes: (min, max); max None is unbounded
    input_arity: ClassVar[tuple[int, int | None]] = (1, 1)

    @field_validator("inputs")
    @classmethod
    def _inputs_syntax(cls, value: list[str]) -> list[str]:
        for item in value:
            if not INPUT_RE.match(item):
                raise ValueError(f"{item!r} is not ACTIVITY or ACTIVITY.PORT")
        return value

    def output_ports(self) -> list[str]:
        return ["out"]


class BuildAudience(Activity):
    type: Literal["build_audience"]
    input_arity: ClassVar[tuple[int, int | None]] = (0, 0)
    target: str | None = None
    rule: Rule | None = None


class ReadAudience(Activity):
    type: Literal["read_audience"]
    input_arity: ClassVar[tuple[int, int | None]] = (0, 0)
    audience: str = Field(pattern=IDENT)


ColumnType = Literal["string", "int64", "float64", "boolean", "date", "timestamp", "decimal"]


class LoadFile(Activity):
    type: Literal["load_file"]
    input_arity: ClassVar[tuple[int, int | None]] = (0, 0)
    path: str = Field(min_length=1)
    format: Literal["csv", "parquet"] | None = None
    columns: dict[str, ColumnType] = Field(default_factory=dict)
    delimiter: str = ","
    on_error: Literal["reject", "fail"] = "reject"

    def output_ports(self) -> list[str]:
        return ["out", "rejects"]


class Reconcile(Activity):
    type: Literal["reconcile"]
    target: str | None = None
    match: dict[str, str] = Field(min_length=1)
    keep_unmatched: bool = False

    def output_ports(self) -> list[str]:
        return ["out", "unmatched"] if self.keep_unmatched else ["out"]


class IncrementalQuery(Activity):
    type: Literal["incremental_query"]
    input_arity: ClassVar[tuple[int, int | None]] = (0, 0)
    target: str | None = None
    rule: Rule | None = None
    mode: Literal["exclude_previous", "date_field"]
    history_days: int | None = Field(default=None, ge=1)
    field: str | None = None

    @model_validator(mode="after")
    def _mode_settings(self) -> IncrementalQuery:
        if self.mode == "date_field" and not self.field:
            raise ValueError("mode date_field needs `field`")
        if self.mode == "exclude_previous" and self.field:
            raise ValueError("`field` is only for mode date_field")
        return self


class Combine(Activity):
    type: Literal["combine"]
    input_arity: ClassVar[tuple[int, int | None]] = (2, None)
    operation: Literal["union", "intersection", "exclusion"]
    primary: str | None = None
    complement: bool = False

    @model_validator(mode="after")
    def _operation_settings(self) -> Combine:
        if self.operation == "exclusion" and not self.primary:
            raise ValueError("exclusion needs `primary`, one of the inputs")
        if self.operation == "union" and self.complement:
            raise ValueError("union has no complement")
        if self.primary is not None and self.primary not in self.inputs:
            raise ValueError(f"primary {self.primary!r} is not one of the inputs")
        return self

    def output_ports(self) -> list[str]:
        return ["out", "complement"] if self.complement else ["out"]


class KeepSpec(_Model):
    method: Literal["first", "expression", "non_empty", "priority", "random"] = "first"
    by: str | None = None
    order: Literal["asc", "desc"] = "asc"
    values: list[Any] | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _method_settings(self) -> KeepSpec:
        if self.method in ("expression", "non_empty", "priority") and not self.by:
            raise ValueError(f"keep method {self.method} needs `by`")
        if self.method == "priority" and not self.values:
            raise ValueError("keep method priority needs `values`")
        return self


class Deduplicate(Activity):
    type: Literal["deduplicate"]
    keys: list[str] = Field(min_length=1)
    keep_count: int = Field(default=1, ge=0)
    keep: KeepSpec = Field(default_factory=KeepSpec)
    normalize: Literal["lower_trim"] | None = None
    complement: bool = False

    def output_ports(self) -> list[str]:
        return ["out", "complement"] if self.complement else ["out"]


class AggregateColumn(_Model):
    name: str = Field(pattern=IDENT)
    link: str = Field(min_length=1)
    fn: Literal["count", "sum", "avg", "min", "max", "count_distinct"]
    field: str | None = None
    where: Rule | None = None

    @model_validator(mode="after")
    def _field_needed(self) -> AggregateColumn:
        if self.fn != "count" and not self.field:
            raise ValueError(f"{self.fn} needs `field`")
        return self


class CollectSpec(_Model):
    """The top `count` related rows, as columns NAME_1_FIELD … NAME_N_FIELD."""

    name: str = Field(pattern=IDENT)
    link: str = Field(min_length=1)
    fields: list[str] = Field(min_length=1)
    count: int = Field(default=1, ge=1, le=20)
    sort: SortSpec
    where: Rule | None = None


class Enrich(Activity):
    type: Literal["enrich"]
    attributes: list[str] = Field(default_factory=list)
    aggregates: list[AggregateColumn] = Field(default_factory=list)
    collect: list[CollectSpec] = Field(default_factory=list)


class Subset(_Model):
    id: str = Field(pattern=IDENT)
    label: str | None = None
    rule: Rule | None = None
    limit: Limit | None = None
    sort: SortSpec | None = None
    random: RandomSpec | None = None

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_PORTS:
            raise ValueError(f"{value!r} is a reserved port name")
        return value

    @model_validator(mode="after")
    def _sort_or_random(self) -> Subset:
        if self.sort and self.random:
            raise ValueError("give sort or random, not both")
        return self


class Split(Activity):
    type: Literal["split"]
    subsets: list[Subset] = Field(min_length=1)
    overlap: bool = False
    complement: bool = False

    @field_validator("subsets")
    @classmethod
    def _unique_ids(cls, value: list[Subset]) -> list[Subset]:
        seen: set[str] = set()
        for subset in value:
            if subset.id in seen:
                raise ValueError(f"subset id {subset.id!r} is used twice")
            seen.add(subset.id)
        return value

    def output_ports(self) -> list[str]:
        return [s.id for s in self.subsets] + (["complement"] if self.complement else [])


class ChangeDimension(Activity):
    type: Literal["change_dimension"]
    target: str = Field(min_length=1)
    link: str = Field(min_length=1)


class SaveAudience(Activity):
    type: Literal["save_audience"]
    audience: str = Field(pattern=IDENT)
    attributes: list[str] = Field(default_factory=list)


class Fork(Activity):
    type: Literal["fork"]
    branches: list[str] = Field(min_length=1)

    @field_validator("branches")
    @classmethod
    def _branch_names(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("branch names must be unique")
        for name in value:
            if not re.match(IDENT, name):
                raise ValueError(f"{name!r} must match [a-z][a-z0-9_]*")
            if name in RESERVED_PORTS:
                raise ValueError(f"{name!r} is a reserved port name")
        return value

    def output_ports(self) -> list[str]:
        return list(self.branches)


class AndJoin(Activity):
    type: Literal["and_join"]
    input_arity: ClassVar[tuple[int, int | None]] = (2, None)
    primary: str | None = None

    @model_validator(mode="after")
    def _primary_is_input(self) -> AndJoin:
        if self.primary is not None and self.primary not in self.inputs:
            raise ValueError(f"primary {self.primary!r} is not one of the inputs")
        return self


class Wait(Activity):
    type: Literal["wait"]
    duration: str | None = None
    until: str | None = None

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        return None if value is None else check_duration(value)

    @field_validator("until", mode="before")
    @classmethod
    def _until(cls, value: Any) -> Any:
        if isinstance(value, date):  # YAML reads an unquoted date-time as one
            value = value.isoformat()
        if isinstance(value, str):
            value = value.strip()
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date-time such as "
                                 "2027-03-01T09:00") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Wait:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of duration or until")
        return self


class CountCondition(_Model):
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte"]
    value: int = Field(ge=0)


class TestCondition(_Model):
    id: str = Field(pattern=IDENT)
    count: CountCondition


class Test(Activity):
    type: Literal["test"]
    conditions: list[TestCondition] = Field(min_length=1)

    __test__ = False  # not a pytest class

    @field_validator("conditions")
    @classmethod
    def _condition_ids(cls, value: list[TestCondition]) -> list[TestCondition]:
        ids = [c.id for c in value]
        if len(set(ids)) != len(ids):
            raise ValueError("condition ids must be unique")
        for name in ids:
            if name in RESERVED_PORTS:
                raise ValueError(f"{name!r} is a reserved port name")
        return value

    def output_ports(self) -> list[str]:
        return [c.id for c in self.conditions] + ["default"]


class Alert(Activity):
    type: Literal["alert"]
    title: str = Field(min_length=1)
    message: str = ""


class Signal(_Model):
    campaign: str = Field(min_length=1)
    variables: dict[str, Any] = Field(default_factory=dict)


class End(Activity):
    type: Literal["end"]
    signal: Signal | None = None

    def output_ports(self) -> list[str]:
        return []


class DirectMail(Activity):
    type: Literal["direct_mail"]
    format: Literal["csv", "parquet"] = "csv"
    path: str | None = None
    columns: list[str] = Field(default_factory=list)


# ---- channels: parsed and validated now, executed by the channels issue ----

ContentText = str | dict[str, str]  # inline text, or {file: PATH}


class Variant(_Model):
    id: str = Field(pattern=IDENT)
    weight: float = Field(default=1, gt=0)
    subject: ContentText | None = None
    html: ContentText | None = None
    text: ContentText | None = None
    body: ContentText | None = None
    title: ContentText | None = None


class Language(_Model):
    subject: ContentText | None = None
    html: ContentText | None = None
    text: ContentText | None = None
    body: ContentText | None = None
    title: ContentText | None = None


class Channel(Activity):
    category: Literal["marketing", "transactional"] = "marketing"
    throttle: float | None = Field(default=None, gt=0)
    window: str | None = None  # with a rate: messages beyond rate x window are excluded
    confirm: bool | None = None
    provider: str | None = None
    variants: list[Variant] = Field(default_factory=list)
    languages: dict[str, Language] = Field(default_factory=dict)
    fallback_language: str | None = None

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        return None if value is None else check_duration(value)

    @property
    def window_delta(self) -> timedelta | None:
        from overture.rules.values import parse_duration

        return None if self.window is None else parse_duration(self.window)


class Email(Channel):
    type: Literal["email"]
    from_: str | None = Field(default=None, alias="from")
    reply_to: str | None = None
    subject: ContentText | None = None
    html: ContentText | None = None
    text: ContentText | None = None

    @model_validator(mode="after")
    def _content(self) -> Email:
        if self.subject is None and not self.variants and not self.languages:
            raise ValueError("email needs `subject`")
        if self.html is None and self.text is None and not self.variants and not self.languages:
            raise ValueError("email needs `html` or `text`")
        return self


class Sms(Channel):
    type: Literal["sms"]
    body: ContentText | None = None

    @model_validator(mode="after")
    def _content(self) -> Sms:
        if self.body is None and not self.variants and not self.languages:
            raise ValueError("sms needs `body`")
        return self


class Push(Channel):
    type: Literal["push"]
    title: ContentText | None = None
    body: ContentText | None = None
    data: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _content(self) -> Push:
        if self.body is None and not self.variants and not self.languages:
            raise ValueError("push needs `body`")
        return self


CHANNEL_TYPES = frozenset({"email", "sms", "push"})
SOURCE_TYPES = frozenset({"build_audience", "read_audience", "load_file", "incremental_query"})

AnyActivity = Annotated[
    BuildAudience | ReadAudience | LoadFile | Reconcile | IncrementalQuery | Combine
    | Deduplicate | Enrich | Split | ChangeDimension | SaveAudience | Fork | AndJoin | Wait
    | Test | Alert | End | DirectMail | Email | Sms | Push,
    Field(discriminator="type"),
]

ACTIVITY_TYPES: dict[str, type[Activity]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (
        BuildAudience, ReadAudience, LoadFile, Reconcile, IncrementalQuery, Combine,
        Deduplicate, Enrich, Split, ChangeDimension, SaveAudience, Fork, AndJoin, Wait,
        Test, Alert, End, DirectMail, Email, Sms, Push,
    )
}

__all__ = ["ACTIVITY_TYPES", "AnyActivity", "Operator"]
