"""Runs: their state, port counts, previews of work tables, log, tasks, actions, and a
stream of live updates (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from overture.server import views
from overture.server.auth import Approver, Manager, Viewer, actor
from overture.server.errors import ApiError
from overture.service.lifecycle import Lifecycle
from overture.store.status import ActivityStatus

router = APIRouter(prefix="/api", tags=["runs"])


class BreakpointsIn(BaseModel):
    activities: list[str] = Field(default_factory=list)


def _life(request: Request) -> Lifecycle:
    return request.app.state.server.lifecycle


def _summary(life: Lifecycle, run_id: str) -> dict[str, Any]:
    return life.run_resource(run_id)


@router.get("/runs", summary="Runs, newest first")
def list_runs(request: Request, user: Viewer, campaign: str | None = None,
              limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    runs = _life(request).ws.control.list_runs(campaign, limit=limit)
    return {"runs": [views.run(r) for r in runs]}


@router.get("/runs/{run_id}", summary="A run with every activity's status and port counts")
def get_run(request: Request, run_id: str, user: Viewer) -> dict[str, Any]:
    return _summary(_life(request), run_id)


@router.get("/runs/{run_id}/activities", summary="Activity runs, as stored")
def list_activity_runs(request: Request, run_id: str, user: Viewer) -> dict[str, Any]:
    life = _life(request)
    run = life.run(run_id)
    return {"activities": [views.activity_run(a)
                           for a in life.ws.control.activity_runs(run.id).values()]}


@router.get("/runs/{run_id}/activities/{activity_id}/ports/{port}/rows",
            summary="A page of the rows that went through a transition")
def port_rows(request: Request, run_id: str, activity_id: str, port: str, user: Viewer,
              offset: int = Query(0, ge=0, le=10_000_000),
              limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    life = _life(request)
    run = life.run(run_id)
    state = life.ws.control.activity_runs(run.id).get(activity_id)
    table = (state.tables or {}).get(port) if state is not None else None
    if table is None:
        raise ApiError(404, "not_found", f"run {run.id} has no rows on {activity_id}.{port}")
    if run.pruned_at is not None:
        raise ApiError(410, "gone", f"run {run.id} was pruned: its work tables are gone")
    plane = life.ws.data
    expr = plane.table_any(table)
    key = expr.columns[0]
    page = expr.order_by(key).limit(limit, offset=offset).to_pyarrow().to_pylist()
    total = (state.ports or {}).get(port) if state is not None else None
    return {"total": total, "offset": offset, "limit": limit,
            "columns": list(expr.columns), "rows": json.loads(json.dumps(page, default=str))}


@router.get("/runs/{run_id}/log", summary="The run's log, oldest first")
def run_log(request: Request, run_id: str, user: Viewer,
            after: int = Query(0, ge=0, description="only entries with a larger id")
            ) -> dict[str, Any]:
    life = _life(request)
    run = life.run(run_id)
    return {"log": [views.log(e) for e in life.ws.control.logs(run.id) if e.id > after]}


@router.get("/runs/{run_id}/tasks", summary="What the run waits for from people")
def run_tasks(request: Request, run_id: str, user: Viewer) -> dict[str, Any]:
    life = _life(request)
    return {"tasks": _tasks(life, life.run(run_id).id)}


@router.get("/tasks", summary="Every open task: confirmations, breakpoints, paused sends")
def all_tasks(request: Request, user: Viewer) -> dict[str, Any]:
    life = _life(request)
    from overture.store.status import RunStatus

    tasks: list[dict[str, Any]] = []
    for run in life.ws.control.runs_with_status(RunStatus.WAITING, RunStatus.PAUSED):
        tasks.extend(_tasks(life, run.id))
    return {"tasks": tasks}


def _tasks(life: Lifecycle, run_id: str) -> list[dict[str, Any]]:
    out = []
    for state in life.ws.control.activity_runs(run_id).values():
        if state.status != ActivityStatus.WAITING:
            continue
        out.append({"run": run_id, "activity": state.activity_id, "kind": state.waiting_for,
                    "wake_at": state.wake_at.isoformat() if state.wake_at else None,
                    "message": state.error})
    return out


def _run_action(name: str, call: Any) -> Any:
    def endpoint(request: Request, run_id: str, user: Approver) -> dict[str, Any]:
        life = _life(request)
        result = call(life, run_id, actor(user))
        run = result if isinstance(result, str) else result.id
        return _summary(life, run)

    endpoint.__name__ = f"{name}_run"
    return endpoint


for _name, _call in (("pause", Lifecycle.pause_run), ("resume", Lifecycle.resume_run),
                     ("stop", Lifecycle.stop_run), ("restart", Lifecycle.restart_run)):
    router.add_api_route(f"/runs/{{run_id}}/{_name}", _run_action(_name, _call),
                         methods=["POST"], summary=f"{_name.capitalize()} the run")


@router.post("/runs/{run_id}/activities/{activity_id}/confirm",
             summary="Give the go-ahead for a channel activity waiting for confirmation")
def confirm(request: Request, run_id: str, activity_id: str, user: Approver) -> dict[str, Any]:
    life = _life(request)
    life.confirm(run_id, activity_id, actor(user))
    return _summary(life, run_id)


@router.put("/runs/{run_id}/breakpoints", summary="Set the activities the run stops before")
def set_breakpoints(request: Request, run_id: str, body: BreakpointsIn, user: Manager
                    ) -> dict[str, Any]:
    life = _life(request)
    life.set_breakpoints(run_id, body.activities, actor(user))
    return _summary(life, run_id)


@router.post("/runs/{run_id}/activities/{activity_id}/continue",
             summary="Continue past a breakpoint")
def continue_run(request: Request, run_id: str, activity_id: str, user: Manager
                 ) -> dict[str, Any]:
    life = _life(request)
    life.continue_breakpoint(run_id, activity_id, actor(user))
    return _summary(life, run_id)


@router.get("/runs/{run_id}/events", summary="Live updates (server-sent events)",
            response_class=StreamingResponse)
async def run_events(request: Request, run_id: str, user: Viewer,
                     once: bool = Query(False, description="send the current state and end")
                     ) -> StreamingResponse:
    """One `run` event whenever the run's status, an activity's status or a port count
    changes; the stream ends after the run finishes."""
    life = _life(request)
    run = await asyncio.to_thread(life.run, run_id)

    async def stream() -> AsyncIterator[str]:
        last = None
        while True:
            summary = await asyncio.to_thread(_summary, life, run.id)
            text = json.dumps(summary, default=str)
            if text != last:
                last = text
                yield f"event: run\ndata: {text}\n\n"
            if once or summary["status"] in ("done", "failed", "stopped") \
                    or await request.is_disconnected():
                return
            await asyncio.sleep(0.5)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})
