"""Targeting activities: each builds one Ibis expression per output port and materialises it.

Nothing here loops over rows: sets are built by the data plane's engine.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from overture.activities.base import (
    ActivityError,
    ExecContext,
    Outcome,
    PortInput,
    PortOutput,
    executes,
    seeded_hash,
)
from overture.activities.files import read_rows_file
from overture.data import audiences, history, text_values
from overture.definition import activities as act
from overture.rules.compiler import RuleError
from overture.rules.resolve import PortSchema, type_family


def _out_schema(ctx: ExecContext, activity: str, port: str = "out") -> PortSchema:
    return ctx.ports[f"{activity}.{port}"]


def _compile(func: Any) -> Any:
    """Rule errors found at run time (a missing audience, say) fail the activity cleanly."""
    try:
        return func()
    except RuleError as exc:
        raise ActivityError(str(exc)) from None


# ---------------------------------------------------------------- sources
@executes("build_audience")
def build_audience(a: act.BuildAudience, _: list[PortInput], ctx: ExecContext) -> Outcome:
    dim = _out_schema(ctx, a.id).dimension
    assert dim is not None
    expr = _compile(lambda: ctx.compiler.filter(dim, a.rule))
    return Outcome({"out": ctx.write(a.id, "out", expr)})


@executes("incremental_query")
def incremental_query(a: act.IncrementalQuery, _: list[PortInput], ctx: ExecContext) -> Outcome:
    dim = _out_schema(ctx, a.id).dimension
    assert dim is not None
    key = ctx.key_of(dim)
    expr = _compile(lambda: ctx.compiler.filter(dim, a.rule))
    if a.mode == "exclude_previous":
        since = ctx.clock - timedelta(days=a.history_days) if a.history_days else None
        previous = history.previous_keys(ctx.plane, ctx.campaign.name, a.id, since, ctx.run_id)
        if previous is not None:
            expr = without(expr, expr[key].cast("string"), previous.key)
    else:
        mark = history.watermark(ctx.plane, ctx.campaign.name, a.id, ctx.run_id)
        if mark is not None:
            assert a.field is not None
            newer = ctx.compiler.scope(dim, expr, _out_schema(ctx, a.id),
                                       fields={"_since": a.field})
            dtype = str(newer["_since"].type())
            # a DATE column compares with the campaign-local date of the last run (spec §3)
            local = (mark if mark.tzinfo else mark.replace(tzinfo=UTC)).astimezone(ctx.timezone)
            literal = local.date() if type_family(dtype) == "date" else mark.replace(tzinfo=None)
            expr = newer.filter(newer["_since"] > ibis.literal(literal)).select(key)
    result = ctx.write(a.id, "out", expr)
    if ctx.live:
        assert result.table is not None
        history.remember(ctx.plane, ctx.campaign.name, a.id, ctx.run_id, ctx.clock,
                         ctx.plane.table_any(result.table), key, a.mode)
    else:
        ctx.log("test mode: incremental history left unchanged")
    return Outcome({"out": result})


@executes("read_audience")
def read_audience(a: act.ReadAudience, _: list[PortInput], ctx: ExecContext) -> Outcome:
    info = audiences.lookup(ctx.plane, a.audience)
    if info is None:
        raise ActivityError(f"saved audience {a.audience!r} does not exist "
                            "(save_audience in a live run, or `overture audiences save`)")
    schema = _out_schema(ctx, a.id)
    table = ctx.plane.table_any(info.table_name)
    missing = [c for c in schema.columns if c not in table.columns]
    if missing:
        raise ActivityError(f"saved audience {a.audience!r} lacks columns {missing}")
    return Outcome({"out": ctx.write(a.id, "out", table.select(*schema.columns))})


@executes("load_file")
def load_file(a: act.LoadFile, _: list[PortInput], ctx: ExecContext) -> Outcome:
    rows, rejects = read_rows_file(ctx, a)
    try:
        out = ctx.write(a.id, "out", rows)
        bad = ctx.write(a.id, "rejects", rejects)
    finally:
        ctx.plane.drop(ctx.table_name(a.id, "_raw"))  # the staged text, now typed
    if bad.count:
        first = ctx.plane.table_any(bad.table or "").order_by("_line").limit(1)
        example = first.to_pyarrow().to_pylist()[0]
        message = f"{bad.count} rejected rows, first at line {example['_line']}: " \
                  f"{example['_reason']}"
        if a.on_error == "fail":
            raise ActivityError(message)
        ctx.log(message)
    return Outcome({"out": out, "rejects": bad})


@executes("reconcile")
def reconcile(a: act.Reconcile, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    source = inputs[0]
    rows = ctx.read(source)
    schema = _out_schema(ctx, a.id)
    dim = schema.dimension
    assert dim is not None
    key = schema.key
    target = ctx.plane.table(dim)
    wanted = [key, *[c for c in dict.fromkeys(a.match.values()) if c != key]]
    right = target.select(*[target[c].name(f"t__{c}") for c in wanted])
    left = rows.select("_line", *[rows[c].name(f"f__{c}") for c in a.match])
    conditions = [_match_value(left[f"f__{file_col}"], right[f"t__{target_col}"],
                               ctx.plane.backend)
                  == _profile_value(right[f"t__{target_col}"])
                  for file_col, target_col in a.match.items()]
    pairs = left.inner_join(right, conditions).select("_line", _key=right[f"t__{key}"])
    per_line = pairs.group_by("_line").aggregate(_n=pairs.count(), _key=pairs._key.min())
    single = per_line.filter(per_line._n == 1)
    single = single.select(single._line.name("_sline"), single._key)
    matched = rows.inner_join(single, rows._line == single._sline)
    kept = [c for c in schema.columns if c != key]
    matched = matched.select(matched["_key"].name(key), *kept, _first=matched._line)
    ranked = matched.mutate(_rank=ibis.row_number().over(group_by=key, order_by="_first"))
    out_expr = ranked.filter(ranked._rank == 0).select(key, *kept)
    out = ctx.write(a.id, "out", out_expr)
    unmatched_expr = without(rows, rows._line, single._sline)
    ports = {"out": out}
    if a.keep_unmatched:
        ports["unmatched"] = ctx.write(a.id, "unmatched", unmatched_expr)
        n_unmatched = ports["unmatched"].count or 0
    else:
        n_unmatched = ctx.plane.count(unmatched_expr)
    several = ctx.plane.count(per_line.filter(per_line._n > 1))
    duplicates = ctx.plane.count(ranked.filter(ranked._rank > 0))
    action = "kept on port unmatched" if a.keep_unmatched else "dropped"
    ctx.log(f"{n_unmatched} file rows matched no profile or several ({several} several), "
            f"{action}; {duplicates} rows named a profile already matched by an earlier line")
    return Outcome(ports)


def _profile_value(target_col: ir.Value) -> ir.Value:
    """Profile text is trimmed too: stray spaces on either side never hide a match."""
    return target_col.strip() if target_col.type().is_string() else target_col


def _match_value(file_col: ir.Value, target_col: ir.Value, backend: str) -> ir.Value:
    """The file's text, trimmed and typed like the target column (untypeable: no match),
    by the same rules on every engine (data.text_values)."""
    text = file_col.cast("string").strip()
    dtype = target_col.type()
    if not text_values.supported(dtype):
        raise ActivityError(f"reconcile cannot match on {target_col.get_name()[3:]!r}: "
                            f"its type {dtype} has no text form; match on a text, number, "
                            "boolean, date, timestamp or uuid column")
    return text_values.parse_text(text, dtype, backend)


# ---------------------------------------------------------------- set operations
@executes("combine")
def combine(a: act.Combine, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    schema = _out_schema(ctx, a.id)
    key = schema.key
    cols = list(schema.columns)
    primary_index = a.inputs.index(a.primary) if a.primary else 0
    # exclusion keeps the primary's columns: the other inputs need only hold the key
    tables = [ctx.read(p).select(*(cols if a.operation != "exclusion" or i == primary_index
                                   else [key])) for i, p in enumerate(inputs)]
    ports: dict[str, PortOutput] = {}
    if a.operation == "union":
        ports["out"] = ctx.write(a.id, "out", _union(tables, key, cols))
        return Outcome(ports)
    primary = tables[primary_index]
    others = [t for i, t in enumerate(tables) if i != primary_index]
    if a.operation == "intersection":
        expr = primary
        for other in others:
            expr = expr.filter(expr[key].isin(other[key]))
        ports["out"] = ctx.write(a.id, "out", expr)
        if a.complement:
            assert ports["out"].table is not None
            inter = ctx.plane.table_any(ports["out"].table)
            union = _union([primary, *others], key, cols)
            ports["complement"] = ctx.write(a.id, "complement",
                                            without(union, union[key], inter[key]))
    else:  # exclusion
        removed = ibis.literal(False)
        kept = primary
        for other in others:
            removed = removed | primary[key].isin(other[key])
            kept = without(kept, kept[key], other[key])
        ports["out"] = ctx.write(a.id, "out", kept)
        if a.complement:
            ports["complement"] = ctx.write(a.id, "complement", primary.filter(removed))
    return Outcome(ports)


def without(table: ir.Table, value: ir.Value, others: ir.Column) -> ir.Table:
    """The rows of `table` whose `value` is none of `others`: a left join keeping the
    rows without a match, which every engine plans as a hash anti-join. `NOT IN
    (subquery)`, what a negated `isin` compiles to, is rescanned for every row by
    PostgreSQL once the subquery outgrows `work_mem` (a 10M-customer exclusion never
    finished); Ibis's own anti-join comes out as `LEFT ANTI JOIN` on PostgreSQL when
    nested, which it does not parse."""
    keys = others.name("_without_key").as_table()
    joined = table.left_join(keys, value == keys._without_key)
    return joined.filter(joined._without_key.isnull()).select(*table.columns)


def _union(tables: list[ir.Table], key: str, cols: list[str]) -> ir.Table:
    """Distinct profiles of all inputs; a profile's columns come from the first input holding it."""
    if cols == [key]:
        return ibis.union(*tables, distinct=True)
    tagged = ibis.union(*[t.mutate(_src=ibis.literal(i)) for i, t in enumerate(tables)],
                        distinct=False)
    ranked = tagged.mutate(_rank=ibis.row_number().over(group_by=key, order_by="_src"))
    return ranked.filter(ranked._rank == 0).select(*cols)


@executes("deduplicate")
def deduplicate(a: act.Deduplicate, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    source = inputs[0]
    schema = source.schema
    dim = source.dimension
    key = schema.key
    work = ctx.read(source)
    cols = list(work.columns)
    if a.keep_count == 0:
        out = ctx.passthrough(source) if source.table else ctx.write(a.id, "out", work)
        ports = {"out": out}
        if a.complement:
            ports["complement"] = ctx.write(a.id, "complement", work.limit(0))
        return Outcome(ports)
    fields = {f"_k{i}": k for i, k in enumerate(a.keys)}
    if a.keep.by:
        fields["_by"] = a.keep.by
    wide = _compile(lambda: ctx.compiler.scope(dim, work, schema, fields=fields))
    keys = []
    for i in range(len(a.keys)):
        col = wide[f"_k{i}"]
        if a.normalize == "lower_trim" and col.type().is_string():
            col = col.strip().lower()
        keys.append(col.name(f"_n{i}"))
    wide = wide.mutate(*keys)
    null_key = ibis.literal(False)
    for i in range(len(a.keys)):
        null_key = null_key | wide[f"_n{i}"].isnull()
    groups = [wide[f"_n{i}"] for i in range(len(a.keys))]
    if a.keep.method == "first" and a.keep_count == 1:
        # the lowest key of each group: a GROUP BY, cheaper than numbering every row
        firsts = wide.filter(~null_key).group_by(groups).aggregate(_first=wide[key].min())
        ranked = wide.mutate(_kept=null_key | wide[key].isin(firsts._first))
    else:
        order = _keep_order(a.keep, wide, key)
        ranked = wide.mutate(_rank=ibis.row_number().over(group_by=groups, order_by=order))
        ranked = ranked.mutate(_kept=null_key | (ranked._rank < a.keep_count))
    ports = {"out": ctx.write(a.id, "out", ranked.filter(ranked._kept).select(*cols))}
    if a.complement:
        ports["complement"] = ctx.write(a.id, "complement",
                                        ranked.filter(~ranked._kept).select(*cols))
    return Outcome(ports)


def _keep_order(keep: act.KeepSpec, wide: ir.Table, key: str) -> list[Any]:
    tie = wide[key].asc()
    if keep.method == "first":
        return [tie]
    if keep.method == "random":
        return [seeded_hash(wide[key], keep.seed).asc(), tie]
    by = wide["_by"]
    if keep.method == "expression":
        return [by.desc(nulls_first=False) if keep.order == "desc" else by.asc(), tie]
    if keep.method == "non_empty":
        empty = by.isnull() | (by.cast("string") == "")
        return [ibis.ifelse(empty, 1, 0).asc(), tie]
    values = keep.values or []
    rank = ibis.cases(*[(by == v, i) for i, v in enumerate(values)], else_=len(values))
    return [rank.asc(), tie]


@executes("enrich")
def enrich(a: act.Enrich, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    source = inputs[0]
    schema = source.schema
    dim = source.dimension
    work = ctx.read(source)
    resolver = ctx.resolver
    fields = {}
    for attr in a.attributes:
        resolved = resolver.resolve(attr, dim, schema)
        if resolved.side != "work":
            fields[resolved.alias] = attr
    expr = _compile(lambda: ctx.compiler.scope(dim, work, schema, fields=fields,
                                               aggregates=a.aggregates, collect=a.collect))
    out_cols = list(_out_schema(ctx, a.id).columns)
    return Outcome({"out": ctx.write(a.id, "out", expr.select(*out_cols))})


@executes("split")
def split(a: act.Split, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    source = inputs[0]
    schema = source.schema
    dim = source.dimension
    key = schema.key
    work = ctx.read(source)
    cols = list(work.columns)
    rules = {f"_r{i}": s.rule for i, s in enumerate(a.subsets) if s.rule is not None}
    fields = {f"_s{i}": s.sort.by for i, s in enumerate(a.subsets) if s.sort}
    scope_name = ctx.table_name(a.id, "_scope")
    ctx.plane.materialize(_compile(lambda: ctx.compiler.scope(dim, work, schema, rules=rules,
                                                              fields=fields)), scope_name)
    try:
        scope = ctx.plane.table_any(scope_name)
        ports: dict[str, PortOutput] = {}
        remaining = scope
        taken_tables: list[ir.Table] = []
        for i, subset in enumerate(a.subsets):
            pool = scope if a.overlap else remaining
            candidates = pool.filter(pool[f"_r{i}"]) if subset.rule is not None else pool
            chosen = _limit(ctx, subset, candidates, i, key)
            out = ctx.write(a.id, subset.id, chosen.select(*cols))
            ports[subset.id] = out
            assert out.table is not None
            taken = ctx.plane.table_any(out.table)
            taken_tables.append(taken)
            if not a.overlap:
                remaining = without(remaining, remaining[key], taken[key])
        if a.complement:
            rest = remaining
            if a.overlap:
                for taken in taken_tables:
                    rest = without(rest, rest[key], taken[key])
            ports["complement"] = ctx.write(a.id, "complement", rest.select(*cols))
    finally:
        ctx.plane.drop(scope_name)
    return Outcome(ports)


def _limit(ctx: ExecContext, subset: act.Subset, candidates: ir.Table, index: int,
           key: str) -> ir.Table:
    if subset.limit is None:
        return candidates
    if subset.limit.count is not None:
        n = subset.limit.count
    else:
        assert subset.limit.percent is not None
        total = ctx.plane.count(candidates)
        n = int(total * subset.limit.percent // 100)
    if subset.sort is not None:
        by = candidates[f"_s{index}"]
        order = [by.desc(nulls_first=False) if subset.sort.order == "desc" else by.asc(),
                 candidates[key].asc()]
    elif subset.random is not None:
        order = [seeded_hash(candidates[key], subset.random.seed).asc(), candidates[key].asc()]
    else:
        order = [candidates[key].asc()]
    return candidates.order_by(order).limit(n)


@executes("change_dimension")
def change_dimension(a: act.ChangeDimension, inputs: list[PortInput], ctx: ExecContext
                     ) -> Outcome:
    source = inputs[0]
    schema = source.schema
    dim = source.dimension
    link = ctx.catalog.link(dim, a.link)
    fields = {f"_c{i}": mine for i, mine in enumerate(link.on)}
    wide = _compile(lambda: ctx.compiler.scope(dim, ctx.read(source), schema, fields=fields))
    target = ctx.plane.table(a.target)
    new_key = ctx.key_of(a.target)
    cond = [wide[f"_c{i}"] == target[theirs] for i, theirs in enumerate(link.on.values())]
    joined = wide.inner_join(target.select(*{new_key, *link.on.values()}), cond)
    expr = joined.select(joined[new_key]).distinct()
    return Outcome({"out": ctx.write(a.id, "out", expr)})


@executes("save_audience")
def save_audience(a: act.SaveAudience, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    source = inputs[0]
    dim = source.dimension
    if ctx.live:
        table = ctx.read(source)
        info = audiences.save(ctx.plane, a.audience, dim,
                              table.select(source.schema.key, *a.attributes),
                              run_id=ctx.run_id, activity=a.id)
        ctx.log(f"audience {a.audience!r} saved: {info.rows} profiles")
    else:
        ctx.log(f"test mode: audience {a.audience!r} not written")
    return Outcome({"out": ctx.passthrough(source)})
