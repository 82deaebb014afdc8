"""The data catalog for the canvas's field and value pickers, profiles to preview, saved
audiences, and rules."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from overture.server.auth import Viewer
from overture.server.errors import ApiError

router = APIRouter(prefix="/api", tags=["data"])


class RuleIn(BaseModel):
    document: dict[str, Any] = Field(description="The campaign document holding the rule")
    activity: str = Field(min_length=1, max_length=401,
                          description="ACTIVITY, or ACTIVITY.SUBSET for a split subset")


@router.get("/data/tables", summary="Tables of the data plane, with the schema's links")
def tables(request: Request, user: Viewer) -> dict[str, Any]:
    ws = request.app.state.server.ws
    columns = ws.data.columns_of()
    catalog = ws.catalog
    out = []
    for name, cols in sorted(columns.items()):
        spec = catalog.tables.get(name)
        out.append({"name": name, "key": spec.key if spec else None,
                    "target": name == catalog.target, "columns": len(cols),
                    "links": sorted(spec.links) if spec else []})
    return {"target": catalog.target, "tables": out}


@router.get("/data/tables/{table}/columns", summary="Columns of a table and their types")
def table_columns(request: Request, table: str, user: Viewer) -> dict[str, Any]:
    ws = request.app.state.server.ws
    columns = ws.data.columns_of()
    if table not in columns:
        raise ApiError(404, "not_found", f"no table {table!r} in the data plane")
    spec = ws.catalog.tables.get(table)
    links = []
    if spec:
        for name, link in spec.links.items():
            links.append({"name": name, "table": link.table,
                          "cardinality": link.cardinality})
    return {"table": table, "columns": [{"name": c, "type": t}
                                        for c, t in columns[table].items()],
            "links": links}


@router.get("/data/tables/{table}/columns/{column}/values",
            summary="The most frequent values of a column, with their counts (value picker)")
def column_values(request: Request, table: str, column: str, user: Viewer,
                  limit: int = Query(50, ge=1, le=500),
                  prefix: str = Query("", max_length=200,
                                      description="Only values whose text starts with "
                                                  "this (any case)")) -> dict[str, Any]:
    import ibis

    plane = request.app.state.server.ws.data
    rows = _user_table(plane, table)
    schema = rows.schema()
    if column not in schema:
        raise ApiError(404, "not_found", f"no column {column!r} in table {table!r}")
    values = rows[column]
    picked = rows.filter(values.notnull())
    if prefix:  # an Ibis literal (quoted by Ibis's compiler), never formatted into SQL here
        picked = picked.filter(values.cast("string").lower().startswith(prefix.lower()))
    counted = (picked.group_by(value=picked[column]).aggregate(count=ibis._.count())
               .order_by([ibis.desc("count"), "value"]).limit(limit))
    found = _fetch(counted, f"the values of {table}.{column} ({schema[column]})")
    return {"table": table, "column": column, "type": str(schema[column]),
            "values": [{"value": _json(r["value"]), "count": int(r["count"])} for r in found]}


#: display columns of a profile, in this order, when the table has them (after the
#: email address of schema.yaml's channels)
PROFILE_COLUMNS = ("first_name", "last_name", "name", "full_name", "company", "city")
MAX_PROFILE_COLUMNS = 5


@router.get("/data/profiles",
            summary="Profiles whose key or email starts with q (preview profile picker)")
def profiles(request: Request, user: Viewer,
             q: str = Query("", max_length=200, description="The start of a key or an "
                                                            "email address (any case)"),
             limit: int = Query(20, ge=1, le=100),
             table: str | None = Query(None, max_length=200,
                                       description="A dimension of schema.yaml (default: "
                                                   "its target)")) -> dict[str, Any]:
    import ibis

    ws = request.app.state.server.ws
    catalog = ws.catalog
    dimension = table or catalog.target
    spec = catalog.tables.get(dimension) if dimension else None
    if spec is None or dimension is None:
        raise ApiError(404, "not_found", f"no dimension {dimension!r} in schema.yaml")
    rows = _user_table(ws.data, dimension)
    present = set(rows.schema())
    if spec.key not in present:
        raise ApiError(404, "not_found", f"table {dimension!r} has no key column {spec.key!r}")
    email = spec.channels["email"].address if "email" in spec.channels else "email"
    email = email if email in present else None
    display: list[str] = []
    for name in (email, *PROFILE_COLUMNS,
                 *(c.address for kind, c in spec.channels.items() if kind != "email")):
        if name and name in present and name != spec.key and name not in display:
            display.append(name)
    display = display[:MAX_PROFILE_COLUMNS]
    key = rows[spec.key]
    picked = rows
    start = q.strip().lower()
    if start:  # Ibis literals, quoted by Ibis's compiler (STARTS_WITH: no wildcards)
        matches = key.cast("string").lower().startswith(start)
        if email is not None:
            matches = matches | rows[email].cast("string").lower().startswith(start)
        picked = rows.filter(matches)
    chosen = picked.select(spec.key, *display).order_by(ibis.asc(spec.key)).limit(limit)
    found = _fetch(chosen, f"the profiles of {dimension}")
    return {"table": dimension, "key": spec.key, "columns": [spec.key, *display],
            "profiles": [{name: _json(value) for name, value in row.items()}
                         for row in found]}


def _user_table(plane: Any, table: str) -> Any:
    """A table loaded in the data plane (not a work table or an audience), or a 404."""
    if table not in plane.list_tables():
        raise ApiError(404, "not_found", f"no table {table!r} in the data plane")
    return plane.table(table)


def _fetch(expr: Any, what: str) -> list[dict[str, Any]]:
    try:
        rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    except Exception as exc:  # the engine's own error, say on a type it cannot group
        raise ApiError(400, "bad_request", f"cannot read {what}: "
                                           f"{type(exc).__name__}: {exc}") from None
    return rows


def _json(value: Any) -> Any:
    """A value of the data plane as JSON: dates and times in ISO 8601, decimals as
    numbers, bytes as hex."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@router.get("/audiences", summary="Saved audiences")
def list_audiences(request: Request, user: Viewer) -> dict[str, Any]:
    from overture.data import audiences

    plane = request.app.state.server.ws.data
    return {"audiences": [{"name": a.name, "dimension": a.dimension, "rows": a.rows,
                           "saved_at": a.saved_at.isoformat(), "run": a.run_id}
                          for a in audiences.list_audiences(plane)]}


@router.get("/audiences/{name}", summary="A saved audience: size and columns")
def get_audience(request: Request, name: str, user: Viewer) -> dict[str, Any]:
    from overture.data import audiences

    plane = request.app.state.server.ws.data
    info = audiences.lookup(plane, name)
    if info is None:
        raise ApiError(404, "not_found", f"no audience {name!r}")
    return {"name": info.name, "dimension": info.dimension, "rows": info.rows,
            "saved_at": info.saved_at.isoformat(), "run": info.run_id,
            "columns": audiences.columns(plane, info)}


def _rule(request: Request, body: RuleIn) -> Any:
    from overture.engine.rules import rule_expression

    state = request.app.state.server
    return rule_expression(state.ws, body.document, body.activity,
                           base_dir=state.lifecycle.base_dir,
                           clock=state.clock.now())


@router.post("/rules/count", summary="Count the profiles a rule matches (calculate)")
def rule_count(request: Request, body: RuleIn, user: Viewer) -> dict[str, Any]:
    found = _rule(request, body)
    ws = request.app.state.server.ws
    return {"count": ws.data.count(found.expr),
            "over_whole_dimension": found.over_whole_dimension}


@router.post("/rules/sql", summary="The SQL the engine runs for a rule (code view)")
def rule_sql(request: Request, body: RuleIn, user: Viewer) -> dict[str, Any]:
    found = _rule(request, body)
    ws = request.app.state.server.ws
    return {"sql": ws.data.sql(found.expr), "over_whole_dimension": found.over_whole_dimension}
