"""Simulate content: the message one profile would get from a channel activity of a
campaign, as `overture preview` renders it (`overture.channels.preview`).

Without `run`, the preview makes a test run of the document (trigger `preview`): it
sends nothing, is not the campaign's last execution in the list, and the newest
`PREVIEW_RUNS_KEPT` of them are kept so that their id can be passed back as `run` to
preview other profiles at once; older ones are pruned (work tables dropped, marked
pruned) each time a new one is made.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from overture.data.plane import run_prefix
from overture.data.workspace import Workspace
from overture.server.auth import Manager, actor
from overture.server.errors import ApiError
from overture.server.routes_campaigns import PREVIEW_TRIGGER

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])

#: preview runs of a campaign kept for `run`; older ones are pruned
PREVIEW_RUNS_KEPT = 3


class PreviewIn(BaseModel):
    document: dict[str, Any] | None = Field(
        None, description="The campaign document as edited (default: the stored draft, "
                          "else the latest version)")
    activity: str = Field(min_length=1, max_length=200, description="A channel activity")
    profile: str = Field(min_length=1, max_length=500,
                         description="The profile's key value, in the activity's dimension")
    run: str | None = Field(None, min_length=4, max_length=64,
                            description="Take the profile's row from this run of the "
                                        "campaign (default: a new test run)")
    variables: dict[str, Any] = Field(default_factory=dict)


@router.post("/{name}/preview",
             summary="The message one profile would get from a channel activity")
def preview_message(request: Request, name: str, body: PreviewIn, user: Manager
                    ) -> dict[str, Any]:
    from overture.channels.preview import NotReached, PreviewError, preview_profile
    from overture.store.repository import RunNotFound

    state = request.app.state.server
    life = state.lifecycle
    record = life.get(name)
    if body.document is not None:
        document = body.document
    elif record.draft is not None:
        document = record.draft
    elif record.latest_version is not None:
        document = life.campaigns.version(name, record.latest_version).document
    else:  # pragma: no cover - a campaign is created with a draft
        raise ApiError(409, "conflict", f"campaign {name!r} has no document to preview")
    if document.get("name") != name:
        raise ApiError(422, "invalid", f"the document's name must be {name!r}, the "
                                       "campaign previewed")
    try:
        shown = preview_profile(
            state.ws, document, body.activity, body.profile, base_dir=life.base_dir,
            run_id=body.run, clock=None if body.run else state.clock.now(),
            variables=body.variables or None, trigger=PREVIEW_TRIGGER,
            started_by=actor(user))
    except NotReached as exc:
        raise ApiError(422, "not_reached", str(exc),
                       drops=[asdict(drop) for drop in exc.drops]) from None
    except RunNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except PreviewError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    finally:
        if body.run is None:
            prune_preview_runs(state.ws, name)
    return shown.to_json()


def prune_preview_runs(ws: Workspace, campaign: str, keep: int = PREVIEW_RUNS_KEPT) -> list[str]:
    """Prune the finished preview runs of a campaign but the newest `keep`: their work
    tables are dropped and they are marked pruned. Returns their ids."""
    runs = [r for r in ws.control.runs_by_trigger(campaign, PREVIEW_TRIGGER)
            if r.pruned_at is None]
    old = [r for r in runs[keep:] if r.status.is_finished()]
    if not old:
        return []
    tables = ws.data.list_tables(include_internal=True)
    for run in old:
        prefix = run_prefix(run.id)
        for table in tables:
            if table.startswith(prefix):
                ws.data.drop(table)
        ws.control.mark_pruned(run.id)
    return [r.id for r in old]
