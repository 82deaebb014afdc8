"""Validate a whole campaign document and work out every port's columns statically.

Three layers, every problem collected: structure (Pydantic), the graph (inputs,
ports, cycles), then names and types against the data catalog when a workspace is
at hand. The port schemas computed here are the ones the engine relies on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from overture.data.catalog import Catalog
from overture.definition import activities as act
from overture.definition.campaign import Campaign
from overture.definition.errors import InvalidDocument, Problem, format_pydantic_errors
from overture.definition.graph import PortRef, resolve_inputs, topological_order
from overture.definition.rules import (
    DURATION_OPERATORS,
    LIST_OPERATORS,
    TEXT_OPERATORS,
    UNARY_OPERATORS,
    Aggregate,
    All,
    AnyOf,
    Condition,
    Engagement,
    Exists,
    FilterRef,
    InAudience,
    Not,
)
from overture.rules.resolve import PortSchema, ResolveError, Resolver, type_family
from overture.rules.values import ValueProblem, coerce, parse_duration, substitute
from overture.schedules import schedule_problems

FILE_KEY = "_line"


@dataclass
class Environment:
    """What validation knows of the workspace: catalog, loaded columns, files, audiences."""

    catalog: Catalog
    columns_of: dict[str, dict[str, str]]
    filters_dir: Path | None = None
    base_dir: Path | None = None
    audience: Callable[[str], tuple[str, dict[str, str]] | None] | None = None
    #: (path, format, delimiter) -> the column names of a file
    file_columns: Callable[[Path, str | None, str], list[str]] | None = None

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.catalog, self.columns_of)


@dataclass
class Validated:
    campaign: Campaign | None
    problems: list[Problem]
    edges: dict[str, list[PortRef]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    ports: dict[str, PortSchema] = field(default_factory=dict)  # "act.port" -> schema

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> Campaign:
        if self.problems or self.campaign is None:
            raise InvalidDocument(self.problems)
        return self.campaign


def test_variables(campaign: Campaign, overrides: dict[str, Any] | None = None,
                   mode: str = "test") -> dict[str, Any]:
    """The variables a run sees: overrides, else test_value (in test mode), else default."""
    values: dict[str, Any] = {}
    for name, spec in campaign.variables.items():
        value = spec.test_value if mode == "test" and spec.test_value is not None \
            else spec.default
        values[name] = value
    values.update(overrides or {})
    return values


def validate(raw: dict[str, Any], env: Environment | None = None) -> Validated:
    """Every problem of a document at once: structure, graph, then names and types.

    An activity with a structural or graph problem is left out of the later checks,
    and so are the activities downstream of it (their input columns are unknown);
    the rest of the document is still checked.
    """
    try:
        campaign = Campaign.model_validate(raw)
    except ValidationError as exc:
        problems = [*format_pydantic_errors(exc, raw), *_schedule_problems(raw)]
        partial = _without_broken_parts(raw, exc)
        if partial is None:
            return Validated(None, problems)
        campaign, dropped = partial
        edges, graph_problems = resolve_inputs(campaign, missing=dropped)
        later = Validated(campaign, graph_problems, edges)
        _check(campaign, env, later)
        return Validated(None, [*problems, *later.problems])
    edges, problems = resolve_inputs(campaign)
    result = Validated(campaign, [*_schedule_problems(raw), *problems], edges)
    _check(campaign, env, result)
    return result


def _schedule_problems(raw: Any) -> list[Problem]:
    """The problems of a `schedule:` mapping (spec §7); pydantic reports a non-mapping."""
    schedule = raw.get("schedule") if isinstance(raw, dict) else None
    if not isinstance(schedule, dict):
        return []
    return [Problem(f"schedule.{path}" if path else "schedule", message)
            for path, message in schedule_problems(schedule)]


def _check(campaign: Campaign, env: Environment | None, result: Validated) -> None:
    result.order = topological_order(campaign, result.edges)
    if env is None:
        return
    blocked = {p.activity for p in result.problems if p.activity}
    blocked |= {a.id for a in campaign.activities
                if len(result.edges.get(a.id, [])) != len(a.inputs)}
    _Checker(campaign, env, result, blocked).run()


#: top-level settings that have a default: a broken one is left out to check the rest
_DROPPABLE = {"label", "description", "target", "timezone", "schedule", "error_policy",
              "canvas"}


def _without_broken_parts(raw: Any, exc: ValidationError) -> tuple[Campaign, set[str]] | None:
    """The campaign without its broken activities and settings, and the dropped ids.

    None when what is broken cannot be left out (the activity list itself, variables).
    """
    if not isinstance(raw, dict):
        return None
    doc = dict(raw)
    bad_items: set[int] = set()
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) >= 2 and loc[0] == "activities" and isinstance(loc[1], int):
            bad_items.add(loc[1])
        elif loc and loc[0] == "name":
            doc["name"] = "campaign"
        elif loc and (not isinstance(loc[0], str) or loc[0] in _DROPPABLE
                      or loc[0] not in Campaign.model_fields):
            doc.pop(loc[0], None)
        else:
            return None
    items = raw.get("activities")
    if not isinstance(items, list):
        return None
    kept = [item for i, item in enumerate(items) if i not in bad_items]
    dropped = {item["id"] for i, item in enumerate(items) if i in bad_items
               and isinstance(item, dict) and isinstance(item.get("id"), str)}
    if not kept:
        return None
    try:
        campaign = Campaign.model_validate({**doc, "activities": kept})
    except ValidationError:
        return None
    return campaign, dropped - {a.id for a in campaign.activities}


class _Checker:
    """Names and types against the catalog, activity by activity in graph order."""

    def __init__(self, campaign: Campaign, env: Environment, result: Validated,
                 blocked: set[str] | None = None):
        self.c = campaign
        self.env = env
        self.r = env.resolver
        self.out = result
        self.vars = test_variables(campaign)
        self.blocked = blocked or set()

    def problem(self, activity: str | None, path: str, message: str) -> None:
        self.out.problems.append(Problem(path, message, activity))

    def run(self) -> None:
        target = self.c.target or self.env.catalog.target
        if not target:
            self.problem(None, "target", "no target dimension: set `target` in the campaign "
                                         "or in schema.yaml")
            return
        if not self._table_ok(None, "target", target):
            return
        self.target = target
        for activity_id in self.out.order:
            if activity_id in self.blocked:
                continue  # its own problem is reported; downstream has no input columns
            activity = self.c.activity(activity_id)
            inputs = [self.out.ports.get(str(ref)) for ref in self.out.edges[activity_id]]
            if any(schema is None for schema in inputs):
                continue  # an upstream problem is already reported
            try:
                schemas = self._activity(activity, [s for s in inputs if s is not None])
            except _Stop:
                continue
            for port, schema in schemas.items():
                self.out.ports[f"{activity_id}.{port}"] = schema

    def _table_ok(self, activity: str | None, path: str, table: str) -> bool:
        if table not in self.env.catalog.tables:
            self.problem(activity, path, f"table {table!r} is not declared in schema.yaml")
            return False
        if table not in self.env.columns_of:
            self.problem(activity, path, f"table {table!r} is not loaded in the data plane "
                                         "(overture data load)")
            return False
        return True

    def _dim_schema(self, table: str) -> PortSchema:
        key = self.env.catalog.tables[table].key
        return PortSchema(table, key, {key: self.env.columns_of[table].get(key, "int64")})

    # ------------------------------------------------------------ activities
    def _activity(self, a: Any, inputs: list[PortSchema]) -> dict[str, PortSchema]:
        single = inputs[0] if inputs else None
        handler = getattr(self, f"_a_{a.type}", None)
        if handler is not None:
            return handler(a, inputs)
        assert single is not None
        return dict.fromkeys(a.output_ports(), single)

    def _source_dimension(self, a: Any) -> str:
        table = a.target or self.target
        if not self._table_ok(a.id, f"{a.id}.target", table):
            raise _Stop
        return str(table)

    def _a_build_audience(self, a: act.BuildAudience, _: list[PortSchema]) -> dict[str, Any]:
        dim = self._source_dimension(a)
        self.rule(a.id, f"{a.id}.rule", a.rule, dim, None)
        return {"out": self._dim_schema(dim)}

    def _a_incremental_query(self, a: act.IncrementalQuery, _: list[PortSchema]) -> dict[str, Any]:
        dim = self._source_dimension(a)
        self.rule(a.id, f"{a.id}.rule", a.rule, dim, None)
        if a.mode == "date_field" and a.field:
            dtype = self.field(a.id, f"{a.id}.field", a.field, dim, None)
            if dtype and type_family(dtype) not in ("date", "timestamp"):
                self.problem(a.id, f"{a.id}.field", f"{a.field!r} is {dtype}, not a date or "
                                                    "date-time")
        return {"out": self._dim_schema(dim)}

    def _a_read_audience(self, a: act.ReadAudience, _: list[PortSchema]) -> dict[str, Any]:
        found = self.env.audience(a.audience) if self.env.audience else None
        if found is None:
            # may be saved by another campaign before this one runs: checked at run time
            return {"out": self._dim_schema(self.target)}
        dim, cols = found
        if dim not in self.env.catalog.tables:
            self.problem(a.id, f"{a.id}.audience", f"audience {a.audience!r} holds {dim!r}, "
                                                    "which schema.yaml no longer declares")
            raise _Stop
        return {"out": PortSchema(dim, self.env.catalog.tables[dim].key, cols)}

    def _a_load_file(self, a: act.LoadFile, _: list[PortSchema]) -> dict[str, Any]:
        path = Path(a.path)
        if not path.is_absolute() and self.env.base_dir is not None:
            path = self.env.base_dir / path
        if not path.exists():
            self.problem(a.id, f"{a.id}.path", f"file not found: {path}")
            raise _Stop
        if path.is_dir():
            self.problem(a.id, f"{a.id}.path", f"{path} is a folder, not a file")
            raise _Stop
        names: list[str] = []
        if self.env.file_columns is not None:
            try:
                names = self.env.file_columns(path, a.format, a.delimiter)
            except Exception as exc:  # the loader's own message is precise
                self.problem(a.id, f"{a.id}.path", str(exc))
                raise _Stop from None
        for col in a.columns:
            if names and col not in names:
                self.problem(a.id, f"{a.id}.columns.{col}", f"the file has no column {col!r} "
                                                             f"(columns: {', '.join(names)})")
        cols = {FILE_KEY: "int64", **{n: _file_type(a.columns.get(n)) for n in names}}
        rejects = {FILE_KEY: "int64", "_reason": "string", **dict.fromkeys(names, "string")}
        return {"out": PortSchema(None, FILE_KEY, cols),
                "rejects": PortSchema(None, FILE_KEY, rejects)}

    def _a_reconcile(self, a: act.Reconcile, inputs: list[PortSchema]) -> dict[str, Any]:
        source = inputs[0]
        if source.dimension is not None:
            self.problem(a.id, f"{a.id}.inputs", "reconcile takes file rows (the output of "
                                                 "load_file), not profiles")
            raise _Stop
        dim = self._source_dimension(a)
        dim_cols = self.env.columns_of[dim]
        for file_col, target_col in a.match.items():
            if file_col not in source.columns:
                self.problem(a.id, f"{a.id}.match.{file_col}", f"the file has no column "
                                                               f"{file_col!r}")
            if target_col not in dim_cols:
                self.problem(a.id, f"{a.id}.match.{file_col}", f"unknown field {target_col!r} "
                                                               f"of {dim!r}")
        key = self.env.catalog.tables[dim].key
        kept = {n: t for n, t in source.columns.items() if n not in (FILE_KEY, key)}
        out = {"out": PortSchema(dim, key, {key: dim_cols[key], **kept})}
        if a.keep_unmatched:
            out["unmatched"] = source
        return out

    def _a_combine(self, a: act.Combine, inputs: list[PortSchema]) -> dict[str, Any]:
        dims = {s.dimension for s in inputs}
        if len(dims) != 1 or None in dims:
            names = ", ".join(sorted(str(d) for d in dims))
            self.problem(a.id, f"{a.id}.inputs", f"inputs must hold the same dimension "
                                                 f"(found {names})")
            raise _Stop
        if a.operation == "exclusion":
            primary = inputs[a.inputs.index(a.primary or a.inputs[0])]
            schema = primary
        else:
            first = inputs[0]
            common = {n: t for n, t in first.columns.items()
                      if all(s.columns.get(n) == t for s in inputs[1:])}
            schema = PortSchema(first.dimension, first.key, common)
        return dict.fromkeys(a.output_ports(), schema)

    def _a_and_join(self, a: act.AndJoin, inputs: list[PortSchema]) -> dict[str, Any]:
        index = a.inputs.index(a.primary) if a.primary else 0
        return {"out": inputs[index]}

    def _need_profiles(self, a: Any, schema: PortSchema) -> str:
        if schema.dimension is None:
            self.problem(a.id, f"{a.id}.inputs", f"{a.type} needs profiles: reconcile the "
                                                 "file rows first")
            raise _Stop
        return schema.dimension

    def _a_deduplicate(self, a: act.Deduplicate, inputs: list[PortSchema]) -> dict[str, Any]:
        schema = inputs[0]
        dim = self._need_profiles(a, schema)
        for i, key in enumerate(a.keys):
            self.field(a.id, f"{a.id}.keys[{i}]", key, dim, schema)
        if a.keep.by:
            self.field(a.id, f"{a.id}.keep.by", a.keep.by, dim, schema)
        return dict.fromkeys(a.output_ports(), schema)

    def _a_enrich(self, a: act.Enrich, inputs: list[PortSchema]) -> dict[str, Any]:
        schema = inputs[0]
        dim = self._need_profiles(a, schema)
        added: dict[str, str] = {}

        def add(path: str, name: str, dtype: str) -> None:
            if name in schema.columns or name in added:
                self.problem(a.id, path, f"column {name!r} already exists in the work table")
            added[name] = dtype

        for i, attr in enumerate(a.attributes):
            try:
                resolved = self.r.resolve(attr, dim, schema)
            except ResolveError as exc:
                self.problem(a.id, f"{a.id}.attributes[{i}]", str(exc))
                continue
            if resolved.side != "work":
                add(f"{a.id}.attributes[{i}]", resolved.alias, resolved.dtype)
        for i, agg in enumerate(a.aggregates):
            dtype = self._aggregate(a.id, f"{a.id}.aggregates[{i}]", dim, agg.link, agg.fn,
                                    agg.field, agg.where)
            if dtype:
                add(f"{a.id}.aggregates[{i}].name", agg.name, dtype)
        for i, col in enumerate(a.collect):
            path = f"{a.id}.collect[{i}]"
            link_table = self._many_link(a.id, f"{path}.link", dim, col.link)
            if link_table is None:
                continue
            cols = self.env.columns_of.get(link_table, {})
            for j, f in enumerate(col.fields):
                if f not in cols:
                    self.problem(a.id, f"{path}.fields[{j}]", f"unknown field {f!r} of "
                                                              f"{link_table!r}")
                    continue
                for n in range(col.count):
                    add(f"{path}.fields[{j}]", f"{col.name}_{n + 1}_{f}", cols[f])
            if col.sort.by not in cols:
                self.problem(a.id, f"{path}.sort.by", f"unknown field {col.sort.by!r} of "
                                                      f"{link_table!r}")
            self.rule(a.id, f"{path}.where", col.where, link_table, None)
        return {"out": schema.with_columns(added)}

    def _a_split(self, a: act.Split, inputs: list[PortSchema]) -> dict[str, Any]:
        schema = inputs[0]
        dim = self._need_profiles(a, schema)
        for i, subset in enumerate(a.subsets):
            path = f"{a.id}.subsets[{i}]"
            self.rule(a.id, f"{path}.rule", subset.rule, dim, schema)
            if subset.sort:
                self.field(a.id, f"{path}.sort.by", subset.sort.by, dim, schema)
        return dict.fromkeys(a.output_ports(), schema)

    def _a_change_dimension(self, a: act.ChangeDimension, inputs: list[PortSchema]
                            ) -> dict[str, Any]:
        dim = self._need_profiles(a, inputs[0])
        try:
            link = self.r.link(dim, a.link)
        except ResolveError as exc:
            self.problem(a.id, f"{a.id}.link", str(exc))
            raise _Stop from None
        if link.table != a.target:
            self.problem(a.id, f"{a.id}.target", f"link {a.link!r} leads to {link.table!r}, "
                                                 f"not {a.target!r}")
            raise _Stop
        if not self._table_ok(a.id, f"{a.id}.target", a.target):
            raise _Stop
        return {"out": self._dim_schema(a.target)}

    def _a_save_audience(self, a: act.SaveAudience, inputs: list[PortSchema]) -> dict[str, Any]:
        schema = inputs[0]
        self._need_profiles(a, schema)
        for i, attr in enumerate(a.attributes):
            if attr not in schema.columns:
                self.problem(a.id, f"{a.id}.attributes[{i}]", f"the work table has no column "
                                                              f"{attr!r}")
        return {"out": schema}

    def _channel(self, a: Any, inputs: list[PortSchema]) -> dict[str, Any]:
        schema = inputs[0]
        dim = self._need_profiles(a, schema)
        channels = self.env.catalog.tables[dim].channels
        if a.type not in channels:
            self.problem(a.id, f"{a.id}.type", f"{dim!r} declares no {a.type} channel in "
                                               "schema.yaml (tables.<name>.channels)")
        if a.type in ("email", "sms", "push"):
            self._content(a, set(schema.columns) | set(self.env.columns_of.get(dim, {})))
        return {"out": schema}

    def _content(self, a: Any, available: set[str]) -> None:
        """Templates compile in the sandbox and name only columns and variables that exist."""
        from overture.channels.render import CompiledContent, ContentError, check_variables

        try:
            compiled = CompiledContent.compile(a, self.env.base_dir or Path.cwd())
        except ContentError as exc:
            path = f"{a.id}.{exc.field_path}" if exc.field_path else a.id
            self.problem(a.id, path, exc.message)
            return
        self.out.problems.extend(check_variables(compiled, available,
                                                 variables=set(self.c.variables)))

    _a_email = _a_sms = _a_push = _channel

    def _a_direct_mail(self, a: act.DirectMail, inputs: list[PortSchema]) -> dict[str, Any]:
        """A channel; the extract's `columns` must exist, its `path` be a valid pattern."""
        from overture.activities.direct_mail import extract_columns, path_problems

        ports = self._channel(a, inputs)
        dim = inputs[0].dimension
        spec = self.env.catalog.tables[dim].channels.get("direct_mail") if dim else None
        if dim is not None and spec is not None:
            _, problems = extract_columns(a, dim, inputs[0], self.r, spec.address)
            for index, message in problems:
                self.problem(a.id, f"{a.id}.columns[{index}]", message)
        for message in path_problems(a.path, a.format) if a.path else []:
            self.problem(a.id, f"{a.id}.path", message)
        return ports

    # ------------------------------------------------------------ fields and rules
    def field(self, activity: str, path: str, name: str, dim: str,
              schema: PortSchema | None) -> str | None:
        try:
            return self.r.resolve(name, dim, schema).dtype
        except ResolveError as exc:
            self.problem(activity, path, str(exc))
            return None

    def _many_link(self, activity: str, path: str, dim: str, link: str) -> str | None:
        try:
            return self.r.many_link(dim, link).table
        except ResolveError as exc:
            self.problem(activity, path, str(exc))
            return None

    def _aggregate(self, activity: str, path: str, dim: str, link: str, fn: str,
                   field_name: str | None, where: Any) -> str | None:
        table = self._many_link(activity, f"{path}.link", dim, link)
        if table is None:
            return None
        self.rule(activity, f"{path}.where", where, table, None)
        if fn == "count":
            return "int64"
        cols = self.env.columns_of.get(table, {})
        if not field_name:
            self.problem(activity, f"{path}.field", f"{fn} needs `field`: a column of "
                                                    f"{table!r}")
            return None
        if field_name not in cols:
            self.problem(activity, f"{path}.field", f"unknown field {field_name!r} of {table!r}")
            return None
        if fn == "count_distinct":
            return "int64"
        if fn in ("sum", "avg") and type_family(cols[field_name]) != "numeric":
            self.problem(activity, f"{path}.fn", f"{fn} needs a number; {field_name!r} is "
                                                 f"{cols[field_name]}")
            return None
        return "float64" if fn in ("sum", "avg") else cols[field_name]

    def rule(self, activity: str, path: str, rule: Any, dim: str, schema: PortSchema | None,
             stack: tuple[str, ...] = ()) -> None:
        if rule is None:
            return
        if isinstance(rule, All):
            for i, child in enumerate(rule.all):
                self.rule(activity, f"{path}.all[{i}]", child, dim, schema, stack)
        elif isinstance(rule, AnyOf):
            for i, child in enumerate(rule.any):
                self.rule(activity, f"{path}.any[{i}]", child, dim, schema, stack)
        elif isinstance(rule, Not):
            self.rule(activity, f"{path}.not", rule.not_, dim, schema, stack)
        elif isinstance(rule, Condition):
            dtype = self.field(activity, f"{path}.field", rule.field, dim, schema)
            if dtype:
                self.value(activity, path, rule.op, rule.value, dtype)
        elif isinstance(rule, Exists):
            table = self._many_link(activity, f"{path}.exists.link", dim, rule.exists.link)
            if table:
                self.rule(activity, f"{path}.exists.where", rule.exists.where, table, None, stack)
        elif isinstance(rule, Aggregate):
            spec = rule.aggregate
            dtype = self._aggregate(activity, f"{path}.aggregate", dim, spec.link, spec.fn,
                                    spec.field, spec.where)
            if dtype:
                self.value(activity, path, rule.op, rule.value, dtype)
        elif isinstance(rule, Engagement):
            from overture.rules.engagement import problems

            for setting, message in problems(rule.engagement, self.vars):
                self.problem(activity, f"{path}.engagement.{setting}", message)
        elif isinstance(rule, InAudience):
            pass  # the audience may be saved by another campaign first: checked at run time
        elif isinstance(rule, FilterRef):
            self._filter(activity, path, rule.filter, dim, schema, stack)

    def _filter(self, activity: str, path: str, name: str, dim: str,
                schema: PortSchema | None, stack: tuple[str, ...]) -> None:
        from overture.rules.compiler import RuleError, load_filter

        if name in stack:
            self.problem(activity, f"{path}.filter", "saved filters refer to each other in a "
                                                     "cycle: " + " -> ".join((*stack, name)))
            return
        try:
            loaded = load_filter(self.env.filters_dir, name)
        except RuleError as exc:
            self.problem(activity, f"{path}.filter", str(exc))
            return
        self.rule(activity, f"{path}.filter({name})", loaded, dim, schema, (*stack, name))

    def value(self, activity: str, path: str, op: str, raw: Any, dtype: str) -> None:
        where = f"{path}.value"
        family = type_family(dtype)
        if op in UNARY_OPERATORS:
            if raw is not None:
                self.problem(activity, where, f"{op} takes no value")
            return
        try:
            value = substitute(raw, self.vars)
        except ValueProblem as exc:
            self.problem(activity, where, str(exc))
            return
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, float) and not math.isfinite(item):  # YAML's .nan and .inf
                self.problem(activity, where, f"{item} is not a number a rule can compare")
                return
        try:
            if op in DURATION_OPERATORS:
                if family not in ("date", "timestamp"):
                    raise ValueProblem(f"{op} works on dates and date-times, not {dtype}")
                parse_duration(value)
            elif op in LIST_OPERATORS:
                if not isinstance(value, list) or not value:
                    raise ValueProblem(f"{op} takes a list of values")
                if op == "between" and len(value) != 2:
                    raise ValueProblem("between takes [low, high]")
                for item in value:
                    coerce(item, dtype)
            else:
                if op in TEXT_OPERATORS and family != "string":
                    raise ValueProblem(f"{op} works on text fields, not {dtype}")
                if isinstance(value, list):
                    raise ValueProblem(f"{op} takes one value, not a list")
                coerce(value, dtype)
        except ValueProblem as exc:
            self.problem(activity, where, str(exc))


class _Stop(Exception):
    """This activity's ports cannot be worked out; its problem is already recorded."""


def _file_type(declared: str | None) -> str:
    return {None: "string", "decimal": "decimal(18, 3)"}.get(declared, declared or "string")
