"""The data catalog for the canvas's field picker, saved audiences, and rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
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
