"""Campaign reports (spec §9): figures and breakdowns of live runs, counted in the engine.

`campaign_report(plane, campaign, run_id=None, activity_id=None, now=None)` computes the
report on a data plane; `report_resource(ws, ...)` is what the API and the CLI serve;
`render` turns a report into a table, JSON or CSV, and `plot` into a picture.
"""

from overture.reports.figures import ReportError, campaign_report
from overture.reports.resource import report_resource

__all__ = ["ReportError", "campaign_report", "report_resource"]
