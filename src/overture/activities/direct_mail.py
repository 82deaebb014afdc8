"""direct_mail: the profiles a print provider mails, and (live) the extract file it gets.

Like the other channels, the activity leaves out, and counts, the profiles without a
postal address (`no_address`) and, when the channel declares a consent column, those
who did not agree (`no_consent`); port `out` holds the others.

In a live run it writes the extract: one row per profile of `out`, ordered by the
key, with the key, the address column, then the `columns` asked for. The data plane's
engine writes it (DuckDB `COPY` through Ibis `to_csv`/`to_parquet`; no Python loop
over rows) into a temporary file beside the target, which is then renamed over it:
a reader never sees half a file, and a resumed run rewrites the same file whole.
A test run writes nothing and logs what it would write.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import ibis
import ibis.expr.types as ir

from overture.activities.base import ActivityError, ExecContext, Outcome, PortInput, executes
from overture.definition import activities as act
from overture.rules.compiler import RuleError
from overture.rules.resolve import PortSchema, ResolveError, Resolver

#: the first reason that applies wins, in this order (as for the other channels)
EXCLUSION_ORDER = ("no_address", "no_consent")
#: the folder of the workspace that relative extract paths start from
EXPORTS_DIR = "exports"
#: the names a `path` may hold in braces
PLACEHOLDERS = ("campaign", "activity", "run")
_SUFFIXES = {"csv": (".csv",), "parquet": (".parquet", ".pq")}


def default_path(fmt: str) -> str:
    """The path when the activity gives none, relative to `exports/`."""
    return f"{{campaign}}-{{activity}}-{{run}}.{fmt}"


def path_problems(path: str, fmt: str) -> list[str]:
    """What is wrong with a `path` setting: unknown placeholders, a wrong extension."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv
                  in string.Formatter().parse(path) if name is not None]
    except ValueError as exc:
        return [f"{exc}: write placeholders as {{run}}, and a brace itself as {{{{ or }}}}"]
    problems: list[str] = []
    for name, spec, conv in fields:
        if name not in PLACEHOLDERS or spec or conv:
            shown = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") \
                + "}"
            problems.append(f"unknown placeholder {shown}: use "
                            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
    suffix = Path(path).suffix.lower()
    if suffix and suffix in {s for ss in _SUFFIXES.values() for s in ss} \
            and suffix not in _SUFFIXES[fmt]:
        problems.append(f"the file ends in {suffix} but `format` is {fmt}")
    return problems


def extract_columns(a: act.DirectMail, dimension: str, schema: PortSchema,
                    resolver: Resolver, address: str
                    ) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """The file's columns, {name: field}: the key, the address, then `columns`.

    Each entry of `columns` is a column of the work table or of the dimension, or a
    field through one-links (`store.name`, written `store_name`). Also returns the
    problems, as (index in `columns`, message), of the entries left out.
    """
    key = resolver.key_of(dimension)
    out = {key: key, address: address}
    problems: list[tuple[int, str]] = []
    for index, name in enumerate(a.columns):
        try:
            alias = resolver.resolve(name, dimension, schema).alias
        except ResolveError as exc:
            problems.append((index, str(exc)))
            continue
        if alias in out:
            problems.append((index, f"column {alias!r} is in the extract already (the key "
                                    "and the address come first)"))
            continue
        out[alias] = name
    return out, problems


def exports_dir(ctx: ExecContext) -> Path:
    """The workspace's `exports/` folder (the workspace holds `filters/`)."""
    if ctx.filters_dir is None:
        raise ActivityError("no workspace folder to write the extract into")
    return ctx.filters_dir.parent / EXPORTS_DIR


def extract_path(a: act.DirectMail, ctx: ExecContext) -> Path:
    """The file to write: `path` (or the default) with its placeholders filled in."""
    template = a.path or default_path(a.format)
    problems = path_problems(template, a.format)
    if problems:
        raise ActivityError(f"path: {problems[0]}")
    path = Path(template.format(campaign=ctx.campaign.name, activity=a.id, run=ctx.run_id))
    return path if path.is_absolute() else exports_dir(ctx) / path


def _engine_write(ctx: ExecContext, expr: ir.Table, fmt: str, path: Path) -> None:
    """Write `expr` to `path` in the data plane's engine (COPY on DuckDB)."""
    if fmt == "parquet" and ctx.plane.backend == "pyspark":
        # Spark writes a folder of part files: one file, written by Arrow, from its batches
        import pyarrow.parquet as pq

        batches = expr.to_pyarrow_batches()
        with pq.ParquetWriter(path, batches.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
    elif fmt == "parquet":
        ctx.plane.con.to_parquet(expr, path)
    else:
        ctx.plane.con.to_csv(expr, path)


def write_atomically(ctx: ExecContext, expr: ir.Table, fmt: str, path: Path) -> None:
    """Write into a temporary file beside `path`, flush it to disk, rename it over `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ActivityError(f"cannot create the folder {path.parent}: "
                            f"{exc.strerror or exc}") from None
    temp = path.with_name(f".{path.name}.{ctx.run_id}.tmp")  # a resume reuses (and clears) it
    try:
        temp.unlink(missing_ok=True)
        _engine_write(ctx, expr, fmt, temp)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except Exception as exc:  # the engine's I/O errors vary by backend
        temp.unlink(missing_ok=True)
        raise ActivityError(f"cannot write the extract {path}: {exc}") from None


@executes("direct_mail")
def direct_mail(a: act.DirectMail, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    source = inputs[0]
    dim = source.dimension
    spec = ctx.catalog.tables[dim].channels.get("direct_mail")
    if spec is None:
        raise ActivityError(f"{dim!r} declares no direct_mail channel in schema.yaml")
    columns, problems = extract_columns(a, dim, source.schema, ctx.resolver, spec.address)
    if problems:
        index, message = problems[0]
        raise ActivityError(f"columns[{index}]: {message}")
    aliases = {name: f"_dm_{i}" for i, name in enumerate(columns)}
    fields = {aliases[name]: field for name, field in columns.items()}
    if spec.consent:
        fields["_dm_consent"] = spec.consent
    try:
        wide = ctx.compiler.scope(dim, ctx.read(source), source.schema, fields=fields)
    except RuleError as exc:
        raise ActivityError(str(exc)) from None
    address = wide[aliases[spec.address]].cast("string").strip()
    reasons = [(address.isnull() | (address == ""), "no_address")]
    if spec.consent:
        reasons.append((~wide["_dm_consent"].fill_null(False), "no_consent"))
    reason = ibis.cases(*[(cond, ibis.literal(name)) for cond, name in reasons],
                        else_=ibis.literal(None, type="string"))
    wide = wide.mutate(_dm_reason=reason)
    kept = wide.filter(wide._dm_reason.isnull())
    out = ctx.write(a.id, "out", kept.select(*source.schema.columns))
    dropped = wide.filter(wide._dm_reason.notnull())
    counts = dropped.group_by("_dm_reason").aggregate(n=dropped.count()) \
        .to_pyarrow().to_pylist()
    found = {row["_dm_reason"]: int(row["n"]) for row in counts}
    excluded = {name: found[name] for name in EXCLUSION_ORDER if name in found}

    path = extract_path(a, ctx)
    extract = kept.select(*[kept[aliases[name]].name(name) for name in columns]) \
        .order_by(ctx.key_of(dim))
    rows = out.count or 0
    described = f"{rows} rows ({a.format}; columns {', '.join(columns)}) to {path}"
    if ctx.live:
        write_atomically(ctx, extract, a.format, path)
        ctx.log(f"wrote {described}; excluded {excluded or 'none'}")
    else:
        ctx.log(f"test mode: would write {described}; excluded {excluded or 'none'}")
    return Outcome({"out": out}, excluded=excluded)


__all__ = ["EXCLUSION_ORDER", "default_path", "direct_mail", "extract_columns",
           "extract_path", "path_problems"]
