"""The sink and tracker of a workspace, as `overture serve` and `overture tracking
serve` both build them."""

from __future__ import annotations

from overture.channels.tokens import Signer
from overture.data.workspace import Workspace
from overture.tracking.endpoints import Tracker
from overture.tracking.sink import EventSink

DEFAULT_MACHINE_WINDOW = 5.0


def tracking_for(ws: Workspace) -> tuple[EventSink, Tracker]:
    section = ws.config.get("tracking") or {}
    window = float(section.get("machine_window_seconds", DEFAULT_MACHINE_WINDOW))
    sink = EventSink(lambda: ws.data, machine_window=window if window > 0 else None)
    tracker = Tracker(Signer.for_workspace(ws.state_dir), sink, lambda: ws.data)
    return sink, tracker
