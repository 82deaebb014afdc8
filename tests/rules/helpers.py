"""Helpers for the rule-language tests: compile a rule on a workspace, count with own SQL.

Expectations are computed from `ROWS` (Python) or with SQL written in the test, never
from the compiler's own output.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from overture.data import audiences
from overture.data.workspace import Workspace
from overture.rules.compiler import RULE_ADAPTER, Compiler, RuleContext
from overture.rules.resolve import Resolver
from support.workspace import CLOCK, ROWS

PARIS = ZoneInfo("Europe/Paris")
CUSTOMERS = ROWS["customers"]
ALL_IDS = {r["customer_id"] for r in CUSTOMERS}


_COLUMNS: dict[int, tuple[weakref.ref[Workspace], dict[str, dict[str, str]]]] = {}


def columns_of(ws: Workspace) -> dict[str, dict[str, str]]:
    """The data plane's column types, read once per workspace (tests never alter tables)."""
    cached = _COLUMNS.get(id(ws))
    if cached is None or cached[0]() is not ws:
        cached = _COLUMNS[id(ws)] = (weakref.ref(ws), ws.data.columns_of())
    return cached[1]


def context(ws: Workspace, *, clock: datetime = CLOCK, timezone: ZoneInfo = PARIS,
            variables: dict[str, Any] | None = None, filters_dir: Path | None = None,
            ) -> RuleContext:
    plane = ws.data

    def audience_table(name: str) -> tuple[str, str] | None:
        info = audiences.lookup(plane, name)
        return (info.table_name, info.dimension) if info else None

    return RuleContext(
        plane=plane, resolver=Resolver(ws.catalog, columns_of(ws)), clock=clock,
        timezone=timezone, variables=variables or {},
        filters_dir=filters_dir if filters_dir is not None else ws.filters_dir,
        audience_table=audience_table)


def compile_rule(ws: Workspace, rule: Any, dimension: str = "customers", **ctx: Any) -> Any:
    """The filtered table of `rule` (a dict, or an already parsed rule)."""
    parsed = RULE_ADAPTER.validate_python(rule) if isinstance(rule, dict) else rule
    return Compiler(context(ws, **ctx)).filter(dimension, parsed)


def matching(ws: Workspace, rule: Any, dimension: str = "customers", **ctx: Any) -> set[int]:
    """The keys of the rows of `dimension` where `rule` holds, as run by the engine."""
    expr = compile_rule(ws, rule, dimension, **ctx)
    key = ws.catalog.tables[dimension].key
    return {int(v) for v in expr.execute()[key]}


def escaped(ws: Workspace, value: str) -> str:
    """`value` as the engine's SQL literal: quotes doubled, or backslashed in Spark SQL."""
    if ws.data.backend == "pyspark":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


def sql_ids(ws: Workspace, query: str) -> set[int]:
    """The first column of a hand-written SQL query against the same data plane (SQL that
    DuckDB and PostgreSQL both read; on Spark, the Spark SQL `overture rule sql` prints)."""
    if ws.data.backend == "pyspark":  # a DataFrame, run by collect()
        return {int(row[0]) for row in ws.data.con.raw_sql(query).collect()}
    cursor = ws.data.con.raw_sql(query)
    try:
        return {int(row[0]) for row in cursor.fetchall()}
    finally:
        if ws.data.backend != "duckdb":  # DuckDB's is the connection itself
            cursor.close()


def rows_with(**extra: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A deep copy of ROWS with rows appended to some tables."""
    rows = copy.deepcopy(ROWS)
    for table, more in extra.items():
        rows[table].extend(more)
    return rows


Match = Callable[..., set[int]]
