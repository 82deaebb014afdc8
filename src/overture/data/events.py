"""Engagement and feedback events: opens, clicks, unsubscribes, deliveries, bounces,
complaints — one row per event, appended in batches, joined to the message log by
message id for reports and retargeting.

Every event has an id: a provider's event id for webhooks, a hash of a bounce
report's Message-ID for DSNs, a fresh UUID for tracking hits. Appending skips ids
already stored (a webhook retried, a mailbox read twice) and refuses events whose
message is not in the log, in the same statement, so a batch is all-or-nothing and
counts are exact.

Beside Spark these tables are in PostgreSQL (`plane.log`): writes go there, and
`events` reads them from the engine that joins them with profiles.

The links table holds each sent email's tracked links (message id, index, URL): the
click endpoint redirects only to the URL stored here, never to one from the request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from overture.data.bulk import copy_arrow
from overture.data.messages import MESSAGES, RESULTS, utc_naive
from overture.data.plane import IBIS_PREFIX, INTERNAL_PREFIX, DataPlane

EVENTS = f"{INTERNAL_PREFIX}events"
LINKS = f"{INTERNAL_PREFIX}links"

#: what happened to a message; `failed` comes from the message log, not from here
EVENT_TYPES = ("delivered", "open", "click", "unsubscribe", "bounce", "complaint")

EVENT_SCHEMA = ibis.schema({
    "event_id": "string",
    "message_id": "string",
    "type": "string",          # one of EVENT_TYPES
    "at": "timestamp",         # UTC, naive
    "link": "int32",           # clicks: the link's index in the message
    "url": "string",           # clicks: the stored URL the click went to
    "machine": "boolean",      # opens and clicks by proxies, scanners or too soon
    "bounce_type": "string",   # bounces: hard | soft
    "detail": "string",        # user agent, diagnostic code, provider status
    "source": "string",        # tracking | webhook | dsn | arf | manual
})

LINK_SCHEMA = ibis.schema({"message_id": "string", "link": "int32", "url": "string"})


@dataclass(frozen=True)
class AppendResult:
    stored: int
    duplicates: int
    unknown: list[str]  # message ids not in the log (their events were refused)


def new_event_id() -> str:
    return uuid.uuid4().hex


def ensure_links(plane: DataPlane) -> None:
    """Create the tracked-links table before several workers append to it at once (the
    events table stays absent until the first event: rules read its absence as none)."""
    plane = plane.log
    if not plane.has_table(LINKS):
        plane.con.create_table(LINKS, schema=LINK_SCHEMA)


def ensure(plane: DataPlane) -> None:
    plane = plane.log
    for name, schema in ((EVENTS, EVENT_SCHEMA), (LINKS, LINK_SCHEMA)):
        if not plane.has_table(name):
            plane.con.create_table(name, schema=schema)


def _arrow(rows: list[dict[str, Any]], schema: ibis.Schema) -> pa.Table:
    data: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        for name in schema.names:
            value = row.get(name)
            if isinstance(value, datetime):
                value = utc_naive(value)
            data[name].append(value)
    return pa.table(data, schema=schema.to_pyarrow())


def known_messages(plane: DataPlane, message_ids: list[str]) -> set[str]:
    """The ids among these that the message log holds (sent or not), in one query with
    the ids bound as one array (an Ibis memtable would be one INSERT per id on
    PostgreSQL, and stay registered on DuckDB)."""
    plane = plane.log
    if not message_ids or not plane.has_table(MESSAGES):
        return set()
    wanted = sorted(set(message_ids))
    sql = f"SELECT DISTINCT message_id FROM {MESSAGES} WHERE message_id IN (SELECT unnest({{}}))"
    if plane.backend == "duckdb":
        rows = plane.con.con.execute(sql.format("?::VARCHAR[]"), [wanted]).fetchall()
    elif plane.backend == "postgres":
        with plane.con.con.cursor() as cursor:
            rows = cursor.execute(sql.format("%s::text[]"), [wanted]).fetchall()
    else:
        log = plane.con.table(MESSAGES)
        found = log.filter(log.message_id.isin(wanted)).select("message_id").distinct()
        rows = [(r["message_id"],) for r in found.to_pyarrow().to_pylist()]
    return {str(row[0]) for row in rows}


def append(plane: DataPlane, rows: list[dict[str, Any]], *,
           machine_window: float | None = None) -> AppendResult:
    """Append events (EVENT_SCHEMA rows) in one transaction, skipping ids stored already
    and refusing events of unknown messages.

    With `machine_window` (seconds), opens and clicks arriving that soon after their
    message was sent are flagged `machine` (mail scanners fetch at delivery).
    """
    if not rows:
        return AppendResult(0, 0, [])
    plane = plane.log
    ensure(plane)
    known = known_messages(plane, [str(r["message_id"]) for r in rows])
    unknown = sorted({str(r["message_id"]) for r in rows} - known)
    kept = [r for r in rows if str(r["message_id"]) in known]
    seen: set[str] = set()
    unique = []
    for row in kept:  # the same id twice in one batch: the first wins
        if row["event_id"] not in seen:
            seen.add(row["event_id"])
            unique.append(row)
    if not unique:
        return AppendResult(0, len(kept) - len(unique), unknown)
    staged = _arrow(unique, EVENT_SCHEMA)
    view = f"{IBIS_PREFIX}events_{uuid.uuid4().hex}"
    columns = ", ".join(f'"{c}"' for c in EVENT_SCHEMA.names)
    machine = "s.machine"
    joins = ""
    if machine_window is not None:
        # joins, not a subquery per event: PostgreSQL runs a correlated subquery once
        # per row, each a scan of the log
        joins = (f" LEFT JOIN (SELECT message_id, MAX(sent_at) AS sent_at FROM {MESSAGES} "
                 "WHERE message_id IN (SELECT message_id FROM {view}) GROUP BY message_id) m "
                 "ON m.message_id = s.message_id")
        sent = "m.sent_at"
        if plane.has_table(RESULTS):  # results not folded yet hold the sending time
            joins += (f' LEFT JOIN (SELECT message_id, MAX("at") AS "at" FROM {RESULTS} '
                      "WHERE message_id IN (SELECT message_id FROM {view}) "
                      "GROUP BY message_id) r ON r.message_id = s.message_id")
            sent = 'COALESCE(r."at", m.sent_at)'
        machine = (f"(s.machine OR (s.type IN ('open', 'click') AND s.\"at\" < {sent} + "
                   f"INTERVAL '{float(machine_window)} seconds'))")
    select = ", ".join(machine if c == "machine" else f's."{c}"' for c in EVENT_SCHEMA.names)
    exact = plane.backend in ("duckdb", "postgres")  # their INSERT says how many rows
    before = 0 if exact else _count(plane)
    inserted = _insert(plane, view, staged,
                       f"INSERT INTO {EVENTS} ({columns}) SELECT {select} FROM {{view}} s{joins} "
                       f"WHERE NOT EXISTS (SELECT 1 FROM {EVENTS} e "
                       "WHERE e.event_id = s.event_id)")
    # the statement's own count: the table's grows with other threads' appends too
    stored = inserted if inserted is not None else _count(plane) - before
    return AppendResult(stored, len(kept) - stored, unknown)


def _count(plane: DataPlane) -> int:
    return int(plane.con.table(EVENTS).count().execute())


def _insert(plane: DataPlane, view: str, staged: pa.Table, sql: str) -> int | None:
    """Stage the rows as `view` and run `sql` (an INSERT naming `{view}`) over them; the
    rows it inserted, where the engine says."""
    if plane.backend == "duckdb":
        raw = plane.con.con
        raw.register(view, staged)
        try:
            row = raw.execute(sql.format(view=view)).fetchone()  # DuckDB answers the count
        finally:
            raw.unregister(view)
        return int(row[0]) if row is not None else None
    if plane.backend == "postgres":
        # one transaction: a temporary table filled by COPY (an Ibis memtable would be
        # one INSERT per row), the INSERT, the table dropped at commit
        conn = plane.con.con
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(f'CREATE TEMPORARY TABLE "{view}" (LIKE {EVENTS}) ON COMMIT DROP')
            copy_arrow(cursor, view, staged)
            cursor.execute(sql.format(view=f'"{view}"'))
            return int(cursor.rowcount) if cursor.rowcount >= 0 else None
    temp = plane.con.create_table(view, ibis.memtable(staged), temp=True)
    try:
        plane.execute([(sql.format(view=temp.get_name()), [])])
        return None
    finally:
        plane.con.drop_table(view, force=True)


def record_links(plane: DataPlane, rows: list[dict[str, Any]]) -> None:
    """Append the tracked links of sent messages (LINK_SCHEMA rows)."""
    if not rows:
        return
    ensure(plane)
    plane.append(LINKS, _arrow(rows, LINK_SCHEMA))


def message_links(plane: DataPlane, message_id: str) -> dict[int, str]:
    """Every tracked link of one message, by index: one indexed-size query, bound values
    (a click endpoint runs this once per message, then caches it)."""
    plane = plane.log
    sql = f"SELECT link, url FROM {LINKS} WHERE message_id = ?"
    if plane.backend == "duckdb":
        import duckdb

        try:  # asking whether the table exists costs more than the query
            rows = plane.con.con.execute(sql, [message_id]).fetchall()
        except duckdb.CatalogException:
            return {}
    elif not plane.has_table(LINKS):
        return {}
    elif plane.backend == "postgres":
        with plane.con.con.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), [message_id])
            rows = cursor.fetchall()
    else:
        links = plane.con.table(LINKS)
        found = links.filter(links.message_id == message_id).select("link", "url")
        rows = [(r["link"], r["url"]) for r in found.to_pyarrow().to_pylist()]
    out: dict[int, str] = {}
    for link, url in rows:
        out.setdefault(int(link), str(url))
    return out


def link_url(plane: DataPlane, message_id: str, index: int) -> str | None:
    return message_links(plane, message_id).get(index)


def events(plane: DataPlane) -> ir.Table | None:
    return plane.table_any(EVENTS) if plane.has_table(EVENTS) else None
