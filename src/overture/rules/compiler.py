"""Rule tree -> one Ibis expression of the data plane's engine.

Two passes: the first walks the tree and collects what the rule needs beside the
scope's own columns (one-link joins, per-profile aggregates over many-links, saved
audiences); the second builds one wide table with those joins and compiles the
predicate against it. Every value becomes a typed literal: nothing is pasted into
SQL text.

Column names in the wide table are prefixed so that nothing collides: `w__` for the
input work table, `d__` for the dimension, `l<n>__` for a one-link chain, `a<n>` for
an aggregate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import yaml
from pydantic import TypeAdapter, ValidationError

from overture.data.plane import DataPlane
from overture.definition import yamlio
from overture.definition.activities import AggregateColumn, CollectSpec
from overture.definition.rules import (
    NEGATIONS,
    Aggregate,
    AggregateSpec,
    All,
    AnyOf,
    Condition,
    Engagement,
    Exists,
    FilterRef,
    InAudience,
    Not,
    Rule,
    iter_nodes,
)
from overture.errors import OvertureError
from overture.rules import engagement
from overture.rules.resolve import PortSchema, Resolved, Resolver, type_family
from overture.rules.values import ValueProblem, coerce, parse_duration, substitute


class RuleError(OvertureError):
    """A rule that cannot be compiled (unknown filter, unsupported leaf, bad value)."""


RULE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Rule)


def load_filter(filters_dir: Path | None, name: str) -> Any:
    """A saved filter: `filters/NAME.yaml` holds one rule (optionally under `rule:`)."""
    if filters_dir is None:
        raise RuleError(f"saved filter {name!r}: this document has no workspace")
    path = filters_dir / f"{name}.yaml"
    lexical = Path(os.path.normpath(path))  # symlinks inside filters/ stay allowed
    if "\x00" in name or not lexical.is_relative_to(os.path.normpath(filters_dir)):
        raise RuleError(f"saved filter {name!r}: not the name of a file in {filters_dir}")
    if not path.exists():
        raise RuleError(f"saved filter {name!r} not found (looked for {path})")
    try:
        data = yamlio.load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(f"saved filter {name!r}: not valid YAML: {exc}") from None
    if isinstance(data, dict) and "rule" in data and len(data.keys() - {"label",
                                                                        "description"}) == 1:
        data = data["rule"]
    try:
        return RULE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RuleError(f"saved filter {name!r} is not a valid rule: {where}: {first['msg']}")\
            from None


def expand_filters(rule: Any, filters_dir: Path | None, stack: tuple[str, ...] = ()) -> Any:
    """Replace every `{filter: NAME}` by the rule it names; a filter cycle is an error."""
    if rule is None:
        return None
    if isinstance(rule, FilterRef):
        if rule.filter in stack:
            cycle = " -> ".join((*stack, rule.filter))
            raise RuleError(f"saved filters refer to each other in a cycle: {cycle}")
        return expand_filters(load_filter(filters_dir, rule.filter), filters_dir,
                              (*stack, rule.filter))
    if isinstance(rule, All):
        return All(all=[expand_filters(r, filters_dir, stack) for r in rule.all])
    if isinstance(rule, AnyOf):
        return AnyOf(any=[expand_filters(r, filters_dir, stack) for r in rule.any])
    if isinstance(rule, Not):
        return Not.model_validate({"not": expand_filters(rule.not_, filters_dir, stack)})
    if isinstance(rule, Exists) and rule.exists.where is not None:
        spec = rule.exists.model_copy(update={"where": expand_filters(rule.exists.where,
                                                                      filters_dir, stack)})
        return Exists(exists=spec)
    if isinstance(rule, Aggregate) and rule.aggregate.where is not None:
        spec2 = rule.aggregate.model_copy(
            update={"where": expand_filters(rule.aggregate.where, filters_dir, stack)})
        return rule.model_copy(update={"aggregate": spec2})
    return rule


@dataclass
class RuleContext:
    """What compiling needs besides the rule: the engine, names, the clock, variables."""

    plane: DataPlane
    resolver: Resolver
    clock: datetime
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    variables: dict[str, Any] = field(default_factory=dict)
    filters_dir: Path | None = None
    audience_table: Any = None  # callable(name) -> (table name, dimension)


@dataclass
class _Needs:
    """What the first pass found: joins to add to the wide table."""

    dim: bool = False
    dim_columns: set[str] = field(default_factory=set)  # of the dimension, beyond its key
    chains: dict[tuple[str, ...], str] = field(default_factory=dict)  # links -> prefix
    aggregates: dict[int, tuple[str, AggregateSpec]] = field(default_factory=dict)  # id(node)
    audiences: dict[str, str] = field(default_factory=dict)  # name -> column


def _reads_related(rule: Any) -> bool:
    """Does the rule aggregate over many-links (the costly part of a rule)?"""
    return any(isinstance(node, Exists | Aggregate) for node in iter_nodes(rule))


def _narrow_decimal_sum(fn: str, field: ir.Value, value: ir.Value) -> ir.Value:
    """A sum of DECIMAL(p<=18, s) as DECIMAL(18, s), not the engine's 128-bit DECIMAL(38, s).

    18 digits hold any realistic per-profile total, and 64-bit decimals are many times
    faster to scan for the activities downstream (a split sorting on a total, say).
    """
    dtype = field.type()
    if fn == "sum" and dtype.is_decimal() and (dtype.precision or 18) <= 18:
        return value.cast(f"decimal(18, {dtype.scale or 0})")
    return value


class Compiler:
    def __init__(self, ctx: RuleContext):
        self.ctx = ctx
        self.r = ctx.resolver

    # ------------------------------------------------------------------ API
    def filter(self, dimension: str, rule: Any, work: ir.Table | None = None,
               schema: PortSchema | None = None) -> ir.Table:
        """The rows of `work` (or the dimension's keys) where `rule` holds."""
        if rule is None:
            if work is not None:
                return work
            key = self.r.key_of(dimension)
            return self.ctx.plane.table(dimension).select(key)
        rule = expand_filters(rule, self.ctx.filters_dir)
        if isinstance(rule, All):
            cheap = [r for r in rule.all if not _reads_related(r)]
            costly = [r for r in rule.all if _reads_related(r)]
            if cheap and costly:
                # Narrow the profiles first, then aggregate related rows of those only
                # (what a person writing the SQL by hand would do).
                narrowed = self.filter(dimension, All(all=cheap), work, schema)
                if schema is None:
                    key = self.r.key_of(dimension)
                    schema = PortSchema(dimension, key,
                                        {key: self.r.table_columns(dimension)[key]})
                return self.filter(dimension, All(all=costly), narrowed, schema)
        wide = self.scope(dimension, work, schema, rules={"_match": rule})
        return wide.filter(wide["_match"]).drop("_match")

    def scope(
        self,
        dimension: str,
        work: ir.Table | None,
        schema: PortSchema | None,
        *,
        rules: dict[str, Any] | None = None,
        fields: dict[str, str] | None = None,
        aggregates: list[AggregateColumn] | None = None,
        collect: list[CollectSpec] | None = None,
    ) -> ir.Table:
        """`work` (or the dimension's key) plus computed columns.

        One non-null boolean column per entry of `rules`, one value column per entry of
        `fields` (alias -> field name), one per aggregate, and the collected columns.
        """
        rules = {name: expand_filters(rule, self.ctx.filters_dir)
                 for name, rule in (rules or {}).items()}
        fields = fields or {}
        aggregates = aggregates or []
        needs = _Needs()
        resolved_fields = {alias: self._need_field(name, dimension, schema, needs)
                           for alias, name in fields.items()}
        for rule in rules.values():
            self._collect(rule, dimension, schema, needs)
        agg_nodes = [AggregateSpec(link=a.link, fn=a.fn, field=a.field, where=a.where)
                     for a in aggregates]
        for node in agg_nodes:
            self._many(dimension, node.link, needs)
            self._check_aggregate(dimension, node)
            needs.aggregates[id(node)] = (f"a{len(needs.aggregates)}", node)
        for spec_c in collect or []:
            self._many(dimension, spec_c.link, needs)
        wide, out_cols = self._wide(dimension, work, schema, needs)
        computed: dict[str, ir.Value] = {}
        for name, rule in rules.items():
            pred = self._predicate(rule, wide, dimension, schema, needs)
            computed[name] = pred.fill_null(False)
        for alias, resolved in resolved_fields.items():
            computed[alias] = self._column(wide, resolved, needs)
        for spec, node in zip(aggregates, agg_nodes, strict=True):
            computed[spec.name] = self._aggregate_value(wide, needs, node)
        restrict = work[self.r.key_of(dimension)] if work is not None else None
        for spec_c in collect or []:
            wide, names = self._collect_columns(wide, dimension, spec_c, self._base(work, needs),
                                                restrict)
            computed.update({dst: wide[src] for src, dst in names})
        return wide.select(*[wide[src].name(dst) for src, dst in out_cols], **computed)

    def sql(self, expr: ir.Expr) -> str:
        return self.ctx.plane.sql(expr)

    # ------------------------------------------------------------ pass one
    def _need_field(self, name: str, dimension: str, schema: PortSchema | None,
                    needs: _Needs) -> Resolved:
        try:
            resolved = self.r.resolve(name, dimension, schema)
        except Exception as exc:
            raise RuleError(str(exc)) from None
        if resolved.side in ("dim", "link"):
            needs.dim = True
        if resolved.side == "dim":
            needs.dim_columns.add(resolved.column)
        if resolved.side == "link":
            needs.dim_columns.update(self.r.link(dimension, resolved.links[0]).on)
            for i in range(1, len(resolved.links) + 1):
                needs.chains.setdefault(resolved.links[:i], f"l{len(needs.chains)}__")
        return resolved

    def _collect(self, rule: Any, dimension: str, schema: PortSchema | None,
                 needs: _Needs) -> None:
        if isinstance(rule, All):
            for child in rule.all:
                self._collect(child, dimension, schema, needs)
        elif isinstance(rule, AnyOf):
            for child in rule.any:
                self._collect(child, dimension, schema, needs)
        elif isinstance(rule, Not):
            self._collect(rule.not_, dimension, schema, needs)
        elif isinstance(rule, Condition):
            self._need_field(rule.field, dimension, schema, needs)
        elif isinstance(rule, Exists):
            self._many(dimension, rule.exists.link, needs)
            needs.aggregates[id(rule)] = (f"a{len(needs.aggregates)}",
                                          AggregateSpec(link=rule.exists.link, fn="count",
                                                        where=rule.exists.where))
        elif isinstance(rule, Aggregate):
            self._many(dimension, rule.aggregate.link, needs)
            self._check_aggregate(dimension, rule.aggregate)
            needs.aggregates[id(rule.aggregate)] = (f"a{len(needs.aggregates)}", rule.aggregate)
        elif isinstance(rule, InAudience):
            needs.audiences.setdefault(rule.in_audience, f"aud{len(needs.audiences)}")
        elif isinstance(rule, Engagement):
            pass  # a subquery of the message log, tested in pass two: no join to add
        elif isinstance(rule, FilterRef):  # pragma: no cover - expanded before
            raise RuleError(f"unexpanded filter {rule.filter!r}")

    def _many(self, dimension: str, name: str, needs: _Needs) -> None:
        try:
            link = self.r.many_link(dimension, name)
        except Exception as exc:
            raise RuleError(str(exc)) from None
        if set(link.on) - {self.r.key_of(dimension)}:
            needs.dim = True  # the link starts from a column the work table lacks
        needs.dim_columns.update(link.on)

    def _check_aggregate(self, dimension: str, spec: AggregateSpec) -> None:
        """The checks validation makes: a known field, and a number for sum and avg."""
        if spec.fn == "count":
            return
        table = self.r.many_link(dimension, spec.link).table
        try:
            cols = self.r.table_columns(table)
        except Exception as exc:
            raise RuleError(str(exc)) from None
        if not spec.field or spec.field not in cols:
            raise RuleError(f"{spec.fn}({spec.link}): unknown field {spec.field!r} of {table!r}")
        if spec.fn in ("sum", "avg") and type_family(cols[spec.field]) != "numeric":
            raise RuleError(f"{spec.fn} needs a number; {spec.field!r} is {cols[spec.field]}")

    @staticmethod
    def _dim_columns(dim: ir.Table, key: str, needs: _Needs) -> list[str]:
        """The dimension's columns the rules read: fewer columns, smaller queries."""
        return [c for c in dim.columns if c == key or c in needs.dim_columns]

    @staticmethod
    def _base(work: ir.Table | None, needs: _Needs) -> str:
        """The prefix under which the dimension's columns are found in the wide table."""
        return "d__" if work is None or needs.dim else "w__"

    # ------------------------------------------------------------ the wide table
    def _wide(self, dimension: str, work: ir.Table | None, schema: PortSchema | None,
              needs: _Needs) -> tuple[ir.Table, list[tuple[str, str]]]:
        plane = self.ctx.plane
        key = self.r.key_of(dimension)
        dim = plane.table(dimension)
        if work is None:
            wide = dim.select(*[dim[c].name(f"d__{c}") for c in self._dim_columns(dim, key, needs)])
            key_col = f"d__{key}"
            out_cols = [(key_col, key)]
        else:
            wide = work.select(*[work[c].name(f"w__{c}") for c in work.columns])
            key_col = f"w__{key}"
            out_cols = [(f"w__{c}", c) for c in work.columns]
            if needs.dim:
                d = dim.select(*[dim[c].name(f"d__{c}")
                                 for c in self._dim_columns(dim, key, needs)])
                wide = wide.left_join(d, wide[key_col] == d[f"d__{key}"])
        return self._add_joins(wide, dimension, work, needs, key_col), out_cols

    def _add_joins(self, wide: ir.Table, dimension: str, work: ir.Table | None, needs: _Needs,
                   key_col: str) -> ir.Table:
        """Join what the rules need: one-link chains, aggregates per link, audiences."""
        plane = self.ctx.plane
        base_prefix = self._base(work, needs)
        for chain, prefix in sorted(needs.chains.items(), key=lambda kv: len(kv[0])):
            source_prefix = base_prefix if len(chain) == 1 else needs.chains[chain[:-1]]
            _, link = self.r.link_path_tables(dimension, chain)[-1]
            other = plane.table(link.table)
            o = other.select(*[other[c].name(f"{prefix}{c}") for c in other.columns])
            cond = [wide[f"{source_prefix}{mine}"] == o[f"{prefix}{theirs}"]
                    for mine, theirs in link.on.items()]
            wide = wide.left_join(o, cond)
        by_link: dict[str, list[tuple[str, AggregateSpec]]] = {}
        for column, spec in needs.aggregates.values():
            by_link.setdefault(spec.link, []).append((column, spec))
        restrict = work[self.r.key_of(dimension)] if work is not None else None
        for link_name, specs in by_link.items():
            wide = self._join_aggregates(wide, dimension, base_prefix, link_name, specs,
                                         restrict)
        for name, column in needs.audiences.items():
            wide = self._join_audience(wide, dimension, key_col, name, column)
        return wide

    def _join_aggregates(self, wide: ir.Table, dimension: str, prefix: str, link_name: str,
                         specs: list[tuple[str, AggregateSpec]],
                         restrict: ir.Column | None = None) -> ir.Table:
        """Every aggregate over one link in a single GROUP BY, each with its own FILTER."""
        link = self.r.many_link(dimension, link_name)
        wheres = {f"_w{i}": spec.where for i, (_, spec) in enumerate(specs)
                  if spec.where is not None}
        related = self._restricted(link, dimension, restrict)
        if wheres:
            related = self._scope_rows(link.table, related, wheres)
        metrics = {}
        for i, (column, spec) in enumerate(specs):
            where = related[f"_w{i}"] if spec.where is not None else None
            if spec.fn == "count":
                metrics[column] = related.count(where=where)
            elif spec.fn == "count_distinct":
                metrics[column] = related[spec.field].nunique(where=where)
            else:
                method = {"avg": "mean"}.get(spec.fn, spec.fn)
                value = getattr(related[spec.field], method)(where=where)
                metrics[column] = _narrow_decimal_sum(spec.fn, related[spec.field], value)
        tag = specs[0][0]
        theirs = list(link.on.values())
        grouped = related.group_by([related[c].name(f"{tag}__k{j}")
                                    for j, c in enumerate(theirs)]).aggregate(**metrics)
        cond = [wide[f"{prefix}{mine}"] == grouped[f"{tag}__k{j}"]
                for j, mine in enumerate(link.on.keys())]
        joined = wide.left_join(grouped, cond)
        return joined.drop(*[f"{tag}__k{j}" for j in range(len(theirs))])

    def _join_audience(self, wide: ir.Table, dimension: str, key_col: str, name: str,
                       column: str) -> ir.Table:
        lookup = self.ctx.audience_table
        found = lookup(name) if lookup else None
        if not found:
            raise RuleError(f"saved audience {name!r} does not exist")
        table_name, aud_dim = found
        if aud_dim != dimension:
            raise RuleError(f"saved audience {name!r} holds {aud_dim!r}, not {dimension!r}")
        aud = self.ctx.plane.table_any(table_name)
        key = self.r.key_of(dimension)
        members = aud.select(aud[key].name(f"{column}__k")).distinct()
        members = members.mutate(**{column: ibis.literal(True)})
        joined = wide.left_join(members, wide[key_col] == members[f"{column}__k"])
        return joined.drop(f"{column}__k")

    # ------------------------------------------------------------ pass two
    def _column(self, wide: ir.Table, resolved: Resolved, needs: _Needs) -> ir.Value:
        if resolved.side == "work":
            return wide[f"w__{resolved.column}"]
        if resolved.side == "dim":
            return wide[f"d__{resolved.column}"]
        return wide[f"{needs.chains[resolved.links]}{resolved.column}"]

    def _aggregate_value(self, wide: ir.Table, needs: _Needs, node: AggregateSpec) -> ir.Value:
        column, spec = needs.aggregates[id(node)]
        value = wide[column]
        if spec.fn in ("count", "count_distinct"):
            return value.fill_null(0)
        if spec.fn == "sum":
            return value.fill_null(0)
        return value

    def _predicate(self, rule: Any, wide: ir.Table, dimension: str,
                   schema: PortSchema | None, needs: _Needs) -> ir.BooleanValue:
        if isinstance(rule, All):
            preds = [self._predicate(r, wide, dimension, schema, needs) for r in rule.all]
            out = preds[0]
            for p in preds[1:]:
                out = out & p
            return out
        if isinstance(rule, AnyOf):
            preds = [self._predicate(r, wide, dimension, schema, needs) for r in rule.any]
            out = preds[0]
            for p in preds[1:]:
                out = out | p
            return out
        if isinstance(rule, Not):
            inner = self._predicate(rule.not_, wide, dimension, schema, needs)
            return ~inner.fill_null(False)
        if isinstance(rule, Condition):
            resolved = self.r.resolve(rule.field, dimension, schema)
            column = self._column(wide, resolved, needs)
            return self._compare(column, resolved.dtype, rule.op, rule.value, rule.field)
        if isinstance(rule, Exists):
            return wide[needs.aggregates[id(rule)][0]].fill_null(0) > 0
        if isinstance(rule, Aggregate):
            spec = rule.aggregate
            value = self._aggregate_value(wide, needs, spec)
            dtype = "int64" if spec.fn in ("count", "count_distinct") else (
                "float64" if spec.fn in ("sum", "avg") else
                self.r.table_columns(self.r.many_link(dimension, spec.link).table)[spec.field
                                                                                  or ""])
            return self._compare(value, dtype, rule.op, rule.value,
                                 f"{spec.fn}({spec.link}.{spec.field or '*'})")
        if isinstance(rule, InAudience):
            return wide[needs.audiences[rule.in_audience]].notnull()
        if isinstance(rule, Engagement):
            return self._engagement(rule, wide, dimension)
        raise RuleError(f"unsupported rule node {type(rule).__name__}")  # pragma: no cover

    def _engagement(self, rule: Engagement, wide: ir.Table, dimension: str) -> Any:
        """`CAST(key AS text) IN (the matching keys of the message log)`: see engagement.py."""
        key = self.r.key_of(dimension)
        column = wide[f"w__{key}"] if f"w__{key}" in wide.columns else wide[f"d__{key}"]
        try:
            return engagement.predicate(self.ctx.plane, rule.engagement, self.ctx.variables,
                                        dimension, column, self.ctx.clock)
        except ValueProblem as exc:
            raise RuleError(f"engagement.{exc}") from None

    def _substitute(self, raw: Any, what: str) -> Any:
        try:
            return substitute(raw, self.ctx.variables)
        except ValueProblem as exc:
            raise RuleError(f"{what}: {exc}") from None

    def _value(self, raw: Any, dtype: str, what: str) -> Any:
        try:
            value = substitute(raw, self.ctx.variables)
            return coerce(value, dtype)
        except ValueProblem as exc:
            raise RuleError(f"{what}: {exc}") from None

    def _compare(self, col: Any, dtype: str, op: str, raw: Any, what: str) -> Any:
        if op in NEGATIONS:
            positive = self._compare(col, dtype, NEGATIONS[op], raw, what)
            return ~positive.fill_null(False)
        family = type_family(dtype)
        if op == "is_empty":
            return col.isnull() | (col == "") if family == "string" else col.isnull()
        if op == "is_not_empty":
            return col.notnull() & (col != "") if family == "string" else col.notnull()
        if op in ("eq", "gt", "gte", "lt", "lte"):
            lit = ibis.literal(self._value(raw, dtype, what))
            return {"eq": col == lit, "gt": col > lit, "gte": col >= lit, "lt": col < lit,
                    "lte": col <= lit}[op]
        if op == "between":
            values = self._substitute(raw, what)
            if not isinstance(values, list) or len(values) != 2:
                raise RuleError(f"{what}: between takes [low, high]")
            low = ibis.literal(self._value(values[0], dtype, what))
            high = ibis.literal(self._value(values[1], dtype, what))
            return (col >= low) & (col <= high)
        if op == "in":
            values = self._substitute(raw, what)
            if not isinstance(values, list) or not values:
                raise RuleError(f"{what}: `in` takes a non-empty list")
            return col.isin([self._value(v, dtype, what) for v in values])
        if op in ("starts_with", "contains", "like"):
            if family != "string":
                raise RuleError(f"{what}: {op} works on text fields, not {dtype}")
            text = self._value(raw, dtype, what)
            if op == "starts_with":
                return col.startswith(text)
            if op == "contains":
                return col.contains(text)
            if self.ctx.plane.backend in ("postgres", "pyspark"):
                # PostgreSQL's and Spark's LIKE treat a backslash as an escape, DuckDB's not:
                # double it so that `\` matches itself on both, as the spec's LIKE has
                # only the % and _ wildcards
                text = text.replace("\\", "\\\\")
            return col.like(text)
        if op == "in_last":
            return self._in_last(col, dtype, raw, what)
        raise RuleError(f"{what}: unknown operator {op!r}")  # pragma: no cover

    def _in_last(self, col: Any, dtype: str, raw: Any, what: str) -> Any:
        try:
            span: timedelta = parse_duration(substitute(raw, self.ctx.variables))
        except ValueProblem as exc:
            raise RuleError(f"{what}: {exc}") from None
        now = self.ctx.clock
        if now.tzinfo is None:  # a naive clock is UTC (spec §3), not the machine's zone
            now = now.replace(tzinfo=UTC)
        family = type_family(dtype)
        if family not in ("date", "timestamp"):
            raise RuleError(f"{what}: in_last works on dates and date-times, not {dtype}")
        try:
            start = now - span
        except OverflowError:
            raise RuleError(f"{what}: {raw!r} reaches back before the year 1") from None
        if family == "date":
            local_now = now.astimezone(self.ctx.timezone).date()
            since = start.astimezone(self.ctx.timezone).date()
            return (col >= ibis.literal(since)) & (col <= ibis.literal(local_now))
        lo = coerce(start, dtype)
        hi = coerce(now, dtype)
        return (col >= ibis.literal(lo)) & (col <= ibis.literal(hi))

    # ------------------------------------------------------------ related rows
    def _restricted(self, link: Any, dimension: str, restrict: ir.Column | None) -> ir.Table:
        """The linked table, cut down to the work table's profiles when there is one.

        Aggregating only the rows of the profiles at hand, not the whole table, is what
        keeps enrichment of a small audience cheap on a large history.
        """
        table = self.ctx.plane.table(link.table)
        key = self.r.key_of(dimension)
        if restrict is not None and list(link.on) == [key]:
            theirs = next(iter(link.on.values()))
            table = table.filter(table[theirs].isin(restrict))
        return table

    def _scope_rows(self, table_name: str, rows: ir.Table, rules: dict[str, Any]) -> ir.Table:
        """`rows` of `table_name` (all columns) plus one boolean column per rule."""
        rules = {name: expand_filters(rule, self.ctx.filters_dir) for name, rule in rules.items()}
        needs = _Needs()
        for rule in rules.values():
            self._collect(rule, table_name, None, needs)
        needs.dim = True
        key = self.r.key_of(table_name)
        wide = rows.select(*[rows[c].name(f"d__{c}") for c in rows.columns])
        wide = self._add_joins(wide, table_name, None, needs, f"d__{key}")
        computed = {name: self._predicate(rule, wide, table_name, None, needs).fill_null(False)
                    for name, rule in rules.items()}
        return wide.select(*[wide[f"d__{c}"].name(c) for c in rows.columns], **computed)

    def _collect_columns(self, wide: ir.Table, dimension: str, spec: CollectSpec,
                         prefix: str, restrict: ir.Column | None
                         ) -> tuple[ir.Table, list[tuple[str, str]]]:
        """The top `count` related rows joined as NAME_<i>_<FIELD> columns."""
        link = self.r.many_link(dimension, spec.link)
        related = self._restricted(link, dimension, restrict)
        if spec.where is not None:
            related = self._scope_rows(link.table, related, {"_m": spec.where})
            related = related.filter(related["_m"]).drop("_m")
        theirs = list(link.on.values())
        rel_key = self.r.key_of(link.table)
        sort_col = related[spec.sort.by]
        order = [sort_col.desc() if spec.sort.order == "desc" else sort_col.asc(),
                 related[rel_key].asc()]
        ranked = related.mutate(
            _rank=ibis.row_number().over(group_by=[related[c] for c in theirs], order_by=order))
        names: list[tuple[str, str]] = []
        for i in range(spec.count):
            tag = f"c__{spec.name}_{i}__"
            nth = ranked.filter(ranked._rank == i)
            cols = [nth[c].name(f"{tag}k{j}") for j, c in enumerate(theirs)]
            cols += [nth[f].name(f"{tag}{f}") for f in spec.fields]
            nth = nth.select(*cols)
            cond = [wide[f"{prefix}{mine}"] == nth[f"{tag}k{j}"]
                    for j, mine in enumerate(link.on.keys())]
            wide = wide.left_join(nth, cond).drop(*[f"{tag}k{j}" for j in range(len(theirs))])
            names += [(f"{tag}{f}", f"{spec.name}_{i + 1}_{f}") for f in spec.fields]
        return wide, names
