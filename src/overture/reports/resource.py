"""The report resource the API and the CLI share: `campaign_report` on a workspace, with
the run given by id or unique prefix, the variants in their document's order, and
errors that say what is missing (an unknown campaign, a test run, nothing sent yet)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from overture.data.workspace import Workspace
from overture.reports.figures import ReportError, campaign_report

#: the newest live runs whose documents give the variants' order
ORDER_RUNS = 50


def report_resource(ws: Workspace, campaign: str, run: str | None = None,
                    activity: str | None = None, now: datetime | None = None, *,
                    include_machine: bool = False) -> dict[str, Any]:
    from overture.store.repository import RunNotFound

    run_id = None
    if run is not None:
        try:
            record = ws.control.get_run(run)
        except RunNotFound as exc:
            raise ReportError("not_found", str(exc)) from None
        if record.campaign != campaign:
            raise ReportError("not_found", f"run {record.id} is a run of campaign "
                                           f"{record.campaign!r}, not of {campaign!r}")
        if record.mode != "live":
            raise ReportError("no_live_run", f"run {record.id} is a {record.mode} run: it "
                                             "sent nothing, reports count live runs")
        run_id = record.id
    try:
        return campaign_report(ws.data, campaign, run_id, activity, now,
                               include_machine=include_machine,
                               variant_order=variant_orders(ws, campaign, run_id))
    except ReportError as exc:
        if run_id is None and not _known(ws, campaign):
            raise ReportError("not_found", f"no campaign {campaign!r}") from None
        raise exc from None


def variant_orders(ws: Workspace, campaign: str, run_id: str | None = None
                   ) -> dict[str, list[str]]:
    """Per channel activity, its variant ids in the order of the newest live run's
    document that has them (the first is the baseline of the significance tests)."""
    if run_id is not None:
        runs = [ws.control.get_run(run_id)]
    else:
        runs = [r for r in ws.control.list_runs(campaign, limit=ORDER_RUNS) if r.mode == "live"]
    out: dict[str, list[str]] = {}
    for record in runs:  # newest first
        document = record.document if isinstance(record.document, dict) else {}
        for activity in document.get("activities") or []:
            if not isinstance(activity, dict) or not isinstance(activity.get("variants"), list):
                continue
            ids = [str(v["id"]) for v in activity["variants"]
                   if isinstance(v, dict) and v.get("id") is not None]
            if ids:
                out.setdefault(str(activity.get("id")), ids)
    return out


def _known(ws: Workspace, campaign: str) -> bool:
    """A campaign of the control plane, or one that has runs (a file run)."""
    from overture.store.campaigns import CampaignNotFound, CampaignRepository

    try:
        CampaignRepository(ws.control).get(campaign)
    except CampaignNotFound:
        return bool(ws.control.list_runs(campaign, limit=1))
    return True
