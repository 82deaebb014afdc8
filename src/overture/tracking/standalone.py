"""`overture tracking serve`: the tracking endpoints alone, to scale apart from the
server. It writes events to the data plane, so the data plane must take several
writers: PostgreSQL. (A DuckDB file has one writer: there, `overture serve` answers
tracking itself.)"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from overture.data.workspace import SharedWorkspace
from overture.errors import OvertureError


class TrackingServeError(OvertureError):
    pass


def serve_tracking(root: Path, host: str, port: int, announce: Any = print) -> None:
    import uvicorn
    from fastapi import FastAPI

    from overture.tracking.endpoints import TrackingApp, tracking_router
    from overture.tracking.setup import tracking_for
    from overture.tracking.webhooks import webhook_router

    ws = SharedWorkspace.hold(root)
    if ws.data_url.startswith("duckdb:"):
        raise TrackingServeError(
            "`overture tracking serve` needs a PostgreSQL data plane ([data] url = "
            "\"postgresql://…\"): a DuckDB file has one writer. With DuckDB, `overture "
            "serve` answers the tracking links itself.")
    sink, tracker = tracking_for(ws)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sink.start()
        announce(f"tracking {ws.root} at http://{host}:{port} (/o/, /c/, /u/, /hooks/)")
        try:
            yield
        finally:
            sink.close()  # what is queued is appended before the process ends
            announce(f"stopped cleanly: {sink.stats.stored} events stored")

    app = FastAPI(title="Overture tracking", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.include_router(tracking_router(tracker))
    app.include_router(webhook_router(lambda: ws.config, lambda: ws.data))
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: None)  # as in `overture serve`
    config = uvicorn.Config(TrackingApp(app, tracker), host=host, port=port,
                            log_level="warning", lifespan="on")
    try:
        uvicorn.Server(config).run()
    finally:
        ws.close()
