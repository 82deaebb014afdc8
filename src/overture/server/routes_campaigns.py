"""Campaigns, drafts, versions, publication, lifecycle actions, schedules and signals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from overture.server import views
from overture.server.auth import Approver, Manager, Viewer, actor
from overture.server.errors import ApiError
from overture.server.routes_editor import schedule_starts
from overture.service.lifecycle import TRANSITIONS, Lifecycle, LifecycleError

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
NAME = r"^[a-z0-9][a-z0-9_-]*$"


class DocumentIn(BaseModel):
    document: dict[str, Any] = Field(description="The campaign document (spec §2)")


class DuplicateIn(BaseModel):
    name: str = Field(pattern=NAME, max_length=100)


class RunIn(BaseModel):
    variables: dict[str, Any] = Field(default_factory=dict)
    breakpoints: list[str] = Field(default_factory=list)


class SignalIn(BaseModel):
    variables: dict[str, Any] = Field(default_factory=dict)


def _life(request: Request) -> Lifecycle:
    return request.app.state.server.lifecycle


def _detail(life: Lifecycle, name: str) -> dict[str, Any]:
    record = life.get(name)
    out = views.campaign(record)
    out["versions"] = [views.version(v, with_document=False)
                       for v in life.campaigns.versions(name)]
    out["problems"] = [p.to_dict() for p in life.problems(record.draft)] \
        if record.draft is not None else []
    return out


@router.get("", summary="List campaigns")
def list_campaigns(request: Request, user: Viewer) -> dict[str, Any]:
    return {"campaigns": [views.campaign(c) for c in _life(request).campaigns.all()]}


@router.post("", status_code=201, summary="Create a draft campaign")
def create_campaign(request: Request, body: DocumentIn, user: Manager) -> dict[str, Any]:
    life = _life(request)
    record = life.create(body.document, actor(user))
    return _detail(life, record.name)


@router.get("/{name}", summary="A campaign with its draft, versions and draft problems")
def get_campaign(request: Request, name: str, user: Viewer) -> dict[str, Any]:
    return _detail(_life(request), name)


@router.put("/{name}/draft", summary="Replace the draft document")
def update_draft(request: Request, name: str, body: DocumentIn, user: Manager
                 ) -> dict[str, Any]:
    life = _life(request)
    life.update_draft(name, body.document, actor(user))
    return _detail(life, name)


@router.delete("/{name}", status_code=204, summary="Delete a draft (never published)")
def delete_campaign(request: Request, name: str, user: Manager) -> None:
    _life(request).delete(name, actor(user))


@router.post("/{name}/duplicate", status_code=201, summary="Copy as a new draft")
def duplicate_campaign(request: Request, name: str, body: DuplicateIn, user: Manager
                       ) -> dict[str, Any]:
    life = _life(request)
    life.duplicate(name, body.name, actor(user))
    return _detail(life, body.name)


@router.post("/{name}/validate", summary="Problems of the draft")
def validate_draft(request: Request, name: str, user: Viewer) -> dict[str, Any]:
    life = _life(request)
    record = life.get(name)
    problems = life.problems(record.draft) if record.draft is not None else []
    return {"valid": not problems, "problems": [p.to_dict() for p in problems]}


@router.get("/{name}/versions", summary="Published versions")
def list_versions(request: Request, name: str, user: Viewer) -> dict[str, Any]:
    life = _life(request)
    life.get(name)
    return {"versions": [views.version(v, with_document=False)
                         for v in life.campaigns.versions(name)]}


@router.get("/{name}/versions/{number}", summary="One frozen version")
def get_version(request: Request, name: str, number: int, user: Viewer) -> dict[str, Any]:
    life = _life(request)
    life.get(name)
    try:
        return views.version(life.campaigns.version(name, number))
    except LookupError:
        raise ApiError(404, "not_found", f"campaign {name!r} has no version {number}") from None
    except Exception as exc:
        raise LifecycleError("not_found", str(exc)) from None


@router.get("/{name}/history", summary="Who changed what, and when")
def get_history(request: Request, name: str, user: Viewer) -> dict[str, Any]:
    life = _life(request)
    life.get(name)
    return {"history": [views.history(h) for h in life.campaigns.history(name)]}


@router.post("/{name}/publish", summary="Validate, freeze as a new version, start or schedule")
def publish(request: Request, name: str, user: Approver) -> dict[str, Any]:
    life = _life(request)
    version = life.publish(name, actor(user))
    out = _detail(life, name)
    out["published"] = version.number
    return out


@router.post("/{name}/unpublish", summary="Back to draft while the version never ran")
def unpublish(request: Request, name: str, user: Approver) -> dict[str, Any]:
    life = _life(request)
    life.unpublish(name, actor(user))
    return _detail(life, name)


def _action(action: str) -> Any:
    def endpoint(request: Request, name: str, user: Approver) -> dict[str, Any]:
        life = _life(request)
        life.act(name, action, actor(user))
        return _detail(life, name)

    endpoint.__name__ = f"{action}_campaign"
    return endpoint


for _name in TRANSITIONS:
    router.add_api_route(f"/{{name}}/{_name}", _action(_name), methods=["POST"],
                         summary=f"{_name.capitalize()} the campaign")


@router.post("/{name}/test-runs", status_code=202, summary="Start a test run of the draft")
def start_test_run(request: Request, name: str, body: RunIn, user: Manager) -> dict[str, Any]:
    run_id = _life(request).start_test_run(name, actor(user), body.variables or None,
                                           body.breakpoints or None)
    return {"run": run_id}


@router.post("/{name}/signal", status_code=202,
             summary="Start a signal-scheduled campaign (429 inside min_interval)")
def signal(request: Request, name: str, body: SignalIn, user: Approver) -> dict[str, Any]:
    run_id = _life(request).signal(name, actor(user), body.variables or None)
    return {"run": run_id}


@router.get("/{name}/schedule", summary="The next starts of the latest version (or draft)")
def schedule_preview(request: Request, name: str, user: Viewer,
                     after: datetime | None = None,
                     count: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    life = _life(request)
    record = life.get(name)
    document = life.campaigns.version(name, record.latest_version).document \
        if record.latest_version else (record.draft or {})
    raw = document.get("schedule")
    if not raw:
        return {"kind": None, "starts": []}
    zone = str(document.get("timezone") or "UTC")
    return schedule_starts(raw, zone, after, count, life.clock.now())
