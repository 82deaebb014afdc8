"""Reports (spec §9): a campaign's figures and breakdowns, the same JSON as
`overture report --format json`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from overture.server.auth import Viewer
from overture.server.errors import ApiError

router = APIRouter(prefix="/api", tags=["reports"])


@router.get("/campaigns/{name}/report",
            summary="The campaign's report: figures and breakdowns of its live runs")
def report(request: Request, name: str, user: Viewer,
           run: str | None = Query(None, min_length=1, max_length=200,
                                   description="only this live run (id or unique prefix)"),
           activity: str | None = Query(None, min_length=1, max_length=200,
                                        description="only this channel activity"),
           include_machine: bool = Query(False, description="count machine opens and "
                                                            "clicks with people's")
           ) -> dict[str, Any]:
    from overture.reports import ReportError, report_resource

    ws = request.app.state.server.ws
    try:
        return report_resource(ws, name, run, activity, include_machine=include_machine)
    except ReportError as exc:  # unknown campaign or run, or nothing sent yet
        raise ApiError(404, exc.code, str(exc)) from None
