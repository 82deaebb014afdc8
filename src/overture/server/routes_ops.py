"""What operators and their tools call, outside /api: metrics and health checks.

- `GET /health`: liveness, no login: the process answers (200 `{"status": "ok"}`);
- `GET /health/ready`: readiness, no login: 200 when the control plane and the data
  plane answer and the scheduler, the workers and the tracking sink run, else 503; the
  body says which check failed and why (it names parts, never addresses or secrets);
- `GET /metrics`: the Prometheus text format (OpenMetrics when the scraper's `Accept`
  asks for it, as Prometheus does). It needs credentials (its counts
  describe the business): the scrape token of `[server] metrics_token_env` (default
  `OVERTURE_METRICS_TOKEN`) as `Authorization: Bearer`, or any user's token or session
  (viewer and up); `[server] metrics_public = true` opens it, for a network that only
  Prometheus reaches. See docs/decisions.md.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from overture.auth import Role
from overture.observability import metrics
from overture.server.auth import current_user, needs

router = APIRouter(include_in_schema=False)
_viewer = needs(Role.VIEWER)


def metrics_access(request: Request) -> None:
    """The scrape token, else a user of any role; nothing when /metrics is public."""
    state = request.app.state.server
    if state.metrics_public:
        return
    header = request.headers.get("authorization", "")
    secret = state.metrics_token
    if secret and header.lower().startswith("bearer ") and hmac.compare_digest(
            header[7:].strip().encode(), secret.encode()):
        return
    _viewer(current_user(request))


#: for the role matrix test: what /metrics asks of a user without the scrape token
metrics_access.min_role = Role.VIEWER  # type: ignore[attr-defined]


@router.get("/metrics")
async def prometheus_metrics(request: Request,
                             _: Annotated[None, Depends(metrics_access)]) -> Response:
    state = request.app.state.server
    body, content_type = await run_in_threadpool(metrics.exposition, state.collector,
                                                 request.headers.get("accept", ""))
    return Response(body, media_type=None, headers={"Content-Type": content_type,
                                                    "Cache-Control": "no-store"})


@router.get("/health")
async def liveness() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/health/ready")
async def readiness(request: Request) -> JSONResponse:
    state: Any = request.app.state.server
    status, body = await run_in_threadpool(state.readiness)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
