"""Campaigns, drafts, versions, publication, lifecycle actions, schedules and signals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from overture.server import views
from overture.server.auth import Approver, Manager, Viewer, actor
from overture.server.errors import ApiError
from overture.server.routes_editor import entity_tags, schedule_starts
from overture.service.lifecycle import TRANSITIONS, Lifecycle, LifecycleError
from overture.store.campaigns import CampaignRecord

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
NAME = r"^[a-z0-9][a-z0-9_-]*$"
#: the trigger of the test runs made to preview a message: not a campaign's execution
PREVIEW_TRIGGER = "preview"


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


def _detail(life: Lifecycle, name: str, response: Response) -> dict[str, Any]:
    """The campaign with its versions and its draft's problems; the draft's revision
    goes in the `ETag` header (see `update_draft`)."""
    record = life.get(name)
    out = views.campaign(record)
    out["versions"] = [views.version(v, with_document=False)
                       for v in life.campaigns.versions(name)]
    out["problems"] = [p.to_dict() for p in life.problems(record.draft)] \
        if record.draft is not None else []
    response.headers["ETag"] = views.draft_etag(record)
    return out


@router.get("", summary="List campaigns, with their label, draft problems and last run")
def list_campaigns(request: Request, user: Viewer) -> dict[str, Any]:
    from overture.definition.validation import validate
    from overture.engine.environment import environment_for

    life = _life(request)
    records = life.campaigns.all()
    # one query for every campaign's last run, one validation environment for all drafts
    last = life.ws.control.latest_runs(except_trigger=PREVIEW_TRIGGER)
    env = environment_for(life.ws, life.base_dir) \
        if any(r.draft is not None for r in records) else None
    out = []
    for record in records:
        item = views.campaign(record)
        if record.draft is not None:
            document: dict[str, Any] = record.draft
            item["problem_count"] = len(validate(record.draft, env).problems)
        else:
            document = life.campaigns.version(record.name, record.latest_version).document \
                if record.latest_version else {}
            item["problem_count"] = 0
        label = document.get("label")
        item["label"] = label if isinstance(label, str) and label else None
        item["last_run"] = views.run_brief(last.get(record.name))
        out.append(item)
    return {"campaigns": out}


@router.post("", status_code=201, summary="Create a draft campaign")
def create_campaign(request: Request, body: DocumentIn, user: Manager, response: Response
                    ) -> dict[str, Any]:
    life = _life(request)
    record = life.create(body.document, actor(user))
    return _detail(life, record.name, response)


@router.get("/{name}", summary="A campaign with its draft, versions and draft problems")
def get_campaign(request: Request, name: str, user: Viewer, response: Response
                 ) -> dict[str, Any]:
    return _detail(_life(request), name, response)


#: history actions that set the draft
DRAFT_ACTIONS = frozenset({"create", "edit", "unpublish", "duplicate"})


@router.put("/{name}/draft", summary="Replace the draft document (If-Match: its ETag)")
def update_draft(request: Request, name: str, body: DocumentIn, user: Manager,
                 response: Response,
                 if_match: Annotated[str | None, Header(
                     description="The ETag of the draft this edit started from: a draft "
                                 "changed since is not overwritten (412)")] = None,
                 ) -> dict[str, Any]:
    life = _life(request)
    with request.app.state.server.drafts:
        if if_match is not None:
            record = life.get(name)
            current = views.draft_etag(record)
            if not _matches(if_match, current):
                who, when = _last_saved(life, record)
                raise ApiError(412, "conflict_edit",
                               f"the draft changed since you opened it (saved by {who} at "
                               f"{when.isoformat(timespec='seconds')}): reload it",
                               etag=current, saved_by=who, saved_at=when.isoformat())
        life.update_draft(name, body.document, actor(user))
    return _detail(life, name, response)


def _matches(header: str, etag: str) -> bool:
    """Whether an If-Match header names this ETag (or is `*`)."""
    tags = entity_tags(header)
    return "*" in tags or etag in tags


def _last_saved(life: Lifecycle, record: CampaignRecord) -> tuple[str, datetime]:
    """Who saved the draft last, and when (the campaign's last change if no history
    entry says)."""
    for entry in reversed(life.campaigns.history(record.name)):
        if entry.action in DRAFT_ACTIONS:
            return entry.actor, entry.at
    return record.updated_by, record.updated_at


@router.delete("/{name}", status_code=204, summary="Delete a draft (never published)")
def delete_campaign(request: Request, name: str, user: Manager) -> None:
    _life(request).delete(name, actor(user))


@router.post("/{name}/duplicate", status_code=201, summary="Copy as a new draft")
def duplicate_campaign(request: Request, name: str, body: DuplicateIn, user: Manager,
                       response: Response) -> dict[str, Any]:
    life = _life(request)
    life.duplicate(name, body.name, actor(user))
    return _detail(life, body.name, response)


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
def publish(request: Request, name: str, user: Approver, response: Response
            ) -> dict[str, Any]:
    life = _life(request)
    version = life.publish(name, actor(user))
    out = _detail(life, name, response)
    out["published"] = version.number
    return out


@router.post("/{name}/unpublish", summary="Back to draft while the version never ran")
def unpublish(request: Request, name: str, user: Approver, response: Response
              ) -> dict[str, Any]:
    life = _life(request)
    life.unpublish(name, actor(user))
    return _detail(life, name, response)


def _action(action: str) -> Any:
    def endpoint(request: Request, name: str, user: Approver, response: Response
                 ) -> dict[str, Any]:
        life = _life(request)
        life.act(name, action, actor(user))
        return _detail(life, name, response)

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
