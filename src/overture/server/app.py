"""The FastAPI application: every route under /api, each declaring the role it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from overture import __version__
from overture.auth import Role
from overture.server import (
    errors,
    routes_campaigns,
    routes_data,
    routes_editor,
    routes_ops,
    routes_preview,
    routes_reports,
    routes_runs,
    routes_users,
)
from overture.server.auth import needs
from overture.server.state import ServerState
from overture.tracking.endpoints import tracking_router
from overture.tracking.webhooks import webhook_router

#: where `web/` builds to (vite's outDir); not committed
STATIC = Path(__file__).parent / "static"


def create_app(state: ServerState) -> FastAPI:
    app = FastAPI(title="Overture", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Orchestrated marketing campaigns. Authenticate with a session "
                              "cookie (POST /api/auth/login) or `Authorization: Bearer "
                              "TOKEN`. Errors are `{\"error\": {\"code\", \"message\"}}`.")
    app.state.server = state
    errors.install(app)
    for module in (routes_users, routes_campaigns, routes_preview, routes_runs, routes_data,
                   routes_editor, routes_reports):
        app.include_router(module.router)
    app.include_router(tracking_router(state.tracker))  # open: the token is the credential
    app.include_router(webhook_router(lambda: state.ws.config, lambda: state.ws.data))
    app.include_router(routes_ops.router)  # /metrics (scrape token or a user), /health

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(user: Any = Depends(needs(Role.VIEWER))) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/docs", include_in_schema=False)
    def docs(user: Any = Depends(needs(Role.VIEWER))) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/api/openapi.json", title="Overture API")

    _web_app(app)
    return app


def _web_app(app: FastAPI) -> None:
    """The web app's built files at `/`: an app shell holding no data (it logs in through
    the API), so it answers without login, like the tracking links."""
    if (STATIC / "index.html").exists():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="web")
        return

    async def not_built(_: Request) -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>Overture</title><h1>Overture</h1><p>The web app is not "
            "built here (<code>make demo</code> builds it). The API is at "
            "<a href='/api/docs'>/api/docs</a>.</p>")

    app.add_route("/", not_built, include_in_schema=False)  # a plain route, like the mount
