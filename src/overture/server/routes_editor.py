"""What the web canvas's editors need beside the campaigns: the document's JSON Schema
(the forms are generated from it), schedule previews of unsaved schedules, the saved
filters a rule may name, and the template files content may reference."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from overture.definition.errors import Problem
from overture.server.auth import Viewer
from overture.service.lifecycle import LifecycleError

router = APIRouter(prefix="/api", tags=["editor"])

#: what a channel's `{file: PATH}` may name, for the content editor's choice
CONTENT_SUFFIXES = frozenset({".html", ".htm", ".mjml", ".txt", ".md"})
MAX_CONTENT_FILES = 500
#: directory entries looked at before giving up on a huge tree
MAX_WALKED = 20_000


# ---- the campaign document's JSON Schema ----

@cache
def _campaign_schema() -> tuple[bytes, str]:
    """The schema as JSON bytes and its ETag, computed once per process."""
    from overture.definition.campaign import campaign_json_schema

    body = json.dumps(campaign_json_schema(), ensure_ascii=False,
                      separators=(",", ":")).encode()
    return body, f'"schema-{hashlib.sha256(body).hexdigest()[:32]}"'


@router.get("/schema/campaign", summary="The JSON Schema of campaign documents",
            response_model=dict[str, Any])
def campaign_schema(request: Request, user: Viewer) -> Response:
    body, etag = _campaign_schema()
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in entity_tags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def entity_tags(header: str | None) -> set[str]:
    """The entity tags an If-Match / If-None-Match header lists (`W/` dropped: weak
    tags compare like strong ones), `*` included."""
    if not header:
        return set()
    out = set()
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag:
            out.add(tag)
    return out


# ---- schedules ----

class SchedulePreviewIn(BaseModel):
    schedule: dict[str, Any] = Field(description="A `schedule:` mapping (spec §7)")
    timezone: str = Field("UTC", min_length=1, max_length=100,
                          description="The IANA zone the schedule is read in")
    after: datetime | None = Field(None, description="List the starts after this instant "
                                                     "(default: now); without an offset, "
                                                     "read in `timezone`")
    count: int = Field(10, ge=1, le=100)


def schedule_starts(raw: Any, zone: str, after: datetime | None, count: int,
                    now: datetime) -> dict[str, Any]:
    """`{"kind", "timezone", "starts"}`: the next `count` starts of a schedule mapping
    read in `zone`, after `after` (else `now`). A schedule with problems or an unknown
    zone is a 422 `invalid` with the parser's sentence."""
    from overture.schedules import ScheduleError, parse_schedule

    try:
        schedule = parse_schedule(raw)
    except ScheduleError as exc:
        problems = [Problem(f"schedule.{path}" if path else "schedule", message)
                    for path, message in exc.problems]
        raise LifecycleError("invalid", str(exc), problems=problems) from None
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise LifecycleError("invalid", f"timezone: {zone!r} is not an IANA time zone "
                                        "(such as Europe/Paris or UTC)") from None
    moment = after or now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        starts = schedule.starts(zone, moment, count)
    except (ValueError, OverflowError) as exc:
        raise LifecycleError("invalid", f"after: {exc}") from None
    return {"kind": schedule.kind, "timezone": zone,
            "starts": [s.isoformat() for s in starts]}


@router.post("/schedules/preview", summary="The next starts of a schedule (not saved)")
def preview_schedule(request: Request, body: SchedulePreviewIn, user: Viewer
                     ) -> dict[str, Any]:
    clock = request.app.state.server.clock
    return schedule_starts(body.schedule, body.timezone, body.after, body.count, clock.now())


# ---- saved filters ----

@router.get("/filters", summary="Saved filters (filters/NAME.yaml) a rule may name")
def list_filters(request: Request, user: Viewer) -> dict[str, Any]:
    from overture.definition import yamlio
    from overture.rules.compiler import load_filter

    folder: Path = request.app.state.server.ws.filters_dir
    out = []
    files = sorted(folder.rglob("*.yaml")) if folder.is_dir() else []
    for path in files:
        if not path.is_file():
            continue
        name = path.relative_to(folder).with_suffix("").as_posix()
        entry: dict[str, Any] = {"name": name}
        try:
            data = yamlio.load(path.read_text(encoding="utf-8"))
        except Exception:  # the engine's own reading below says what is wrong
            data = None
        if isinstance(data, dict):
            for key in ("label", "description"):
                if isinstance(data.get(key), str):
                    entry[key] = data[key]
        try:
            load_filter(folder, name)  # as `{filter: NAME}` resolves it
        except Exception as exc:  # RuleError, and unreadable files
            entry["error"] = str(exc)
        out.append(entry)
    return {"filters": out}


# ---- content files ----

@router.get("/content/files",
            summary="Template files (html, mjml, txt, md) content may name as {file: PATH}")
def content_files(request: Request, user: Viewer) -> dict[str, Any]:
    base: Path = request.app.state.server.lifecycle.base_dir
    found: list[str] = []
    walked = 0
    for folder, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        walked += len(dirs) + len(names)
        here = Path(folder)
        for name in names:
            if not name.startswith(".") and Path(name).suffix.lower() in CONTENT_SUFFIXES:
                found.append((here / name).relative_to(base).as_posix())
        if walked > MAX_WALKED:
            break
    found.sort()
    return {"files": found[:MAX_CONTENT_FILES],
            "truncated": len(found) > MAX_CONTENT_FILES or walked > MAX_WALKED}
