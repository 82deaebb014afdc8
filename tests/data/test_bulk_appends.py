"""The message log's results, tracked links and feedback events are appended in one
statement per batch on every engine, whatever the batch's size: on PostgreSQL by COPY,
never one INSERT per row (what an Ibis memtable does there, through psycopg's
executemany). Values come back as they were given: NULL apart from the empty string,
instants to the microsecond."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import ibis
import psycopg
import pytest

from overture.data import events, messages
from overture.data.plane import DataPlane

T0 = datetime(2027, 3, 1, 9, 0, 0, 123456)


def planned(plane: DataPlane, count: int, run: str = "r1") -> list[str]:
    """`count` messages in the log, written by one set-based statement as engines do."""
    ids = [f"{run}-{i:06d}" for i in range(count)]
    plane.con.create_table(f"ovw_ids_{run}", ibis.memtable({"m": ids}), overwrite=True)
    t = plane.table_any(f"ovw_ids_{run}")
    row = {name: ibis.null(dtype) for name, dtype in messages.MESSAGE_SCHEMA.items()}
    row.update(message_id=t.m, run_id=ibis.literal(run), campaign=ibis.literal("c"),
               activity_id=ibis.literal("mail"), channel=ibis.literal("email"),
               status=ibis.literal("pending"), created_at=ibis.literal(T0))
    messages.write_plan(plane, t.select(**row))
    return ids


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement psycopg sends meanwhile, an executemany counting one per row."""
    sent: list[str] = []
    cursor = psycopg.Cursor
    execute, executemany, copy = cursor.execute, cursor.executemany, cursor.copy

    def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query)[:60])
        return execute(self, query, *args, **kwargs)

    def counted_executemany(self: Any, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        params_seq = list(params_seq)
        sent.extend([str(query)[:60]] * len(params_seq))
        return executemany(self, query, params_seq, **kwargs)

    def counted_copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(statement)[:60])
        return copy(self, statement, *args, **kwargs)

    cursor.execute, cursor.executemany, cursor.copy = (  # type: ignore[method-assign]
        counted_execute, counted_executemany, counted_copy)
    try:
        yield sent
    finally:
        cursor.execute, cursor.executemany, cursor.copy = (  # type: ignore[method-assign]
            execute, executemany, copy)


def appends(plane: DataPlane, ids: list[str]) -> None:
    messages.record_results(plane, [
        {"message_id": m, "status": "sent", "provider": "p", "attempts": 1,
         "at": T0 + timedelta(seconds=i)} for i, m in enumerate(ids)])
    events.record_links(plane, [{"message_id": m, "link": 0, "url": "https://a.example/"}
                                for m in ids])
    result = events.append(plane, [
        {"event_id": f"e-{m}", "message_id": m, "type": "open", "at": T0 + timedelta(hours=1),
         "machine": False, "source": "tracking"} for m in ids], machine_window=60)
    assert (result.stored, result.duplicates, result.unknown) == (len(ids), 0, [])


def test_postgresql_appends_send_as_many_statements_for_2000_rows_as_for_2(
        postgres_url: str) -> None:
    plane = DataPlane.connect(postgres_url)
    try:
        few, many = planned(plane, 2, "few"), planned(plane, 2000, "many")
        messages.record_results(plane, [{"message_id": "warm-up", "status": "sent"}])
        events.ensure(plane)  # tables exist: both counts below are of appends alone
        with statements() as for_few:
            appends(plane, few)
        with statements() as for_many:
            appends(plane, many)
        assert len(for_many) == len(for_few), for_many
        assert len(for_few) <= 30, for_few  # most are catalog lookups (has_table)
        assert sum(s.startswith("COPY") for s in for_many) == 3  # results, links, events
        stored = plane.table_any(events.EVENTS).count().execute()
        assert stored == 2002
    finally:
        plane.close()


def test_values_come_back_as_given(plane: DataPlane) -> None:
    ids = planned(plane, 3)
    messages.record_results(plane, [
        {"message_id": ids[0], "status": "sent", "provider": "p", "provider_id": "",
         "error": None, "attempts": 1, "at": T0},
        {"message_id": ids[1], "status": "failed", "provider": "p", "provider_id": None,
         "error": 'a "quoted", multi\nline error', "attempts": 3, "at": None}])
    log = messages.of_activity(plane, "r1", "mail")
    assert log is not None
    rows = {r["message_id"]: r for r in log.to_pyarrow().to_pylist()}
    assert (rows[ids[0]]["provider_id"], rows[ids[0]]["error"]) == ("", None)
    assert rows[ids[0]]["sent_at"] == T0
    assert (rows[ids[1]]["provider_id"], rows[ids[1]]["error"]) == (
        None, 'a "quoted", multi\nline error')
    assert (rows[ids[1]]["attempts"], rows[ids[1]]["sent_at"]) == (3, None)
    assert rows[ids[2]]["status"] == "pending"
    result = events.append(plane, [
        {"event_id": "e1", "message_id": ids[0], "type": "open", "at": T0 + timedelta(seconds=30),
         "machine": False, "detail": "", "source": "tracking"},
        {"event_id": "e2", "message_id": ids[0], "type": "click", "link": 2, "url": "u",
         "at": T0 + timedelta(hours=1), "machine": False, "source": "tracking"},
        {"event_id": "e3", "message_id": ids[1], "type": "bounce", "at": T0,
         "bounce_type": "hard", "source": "dsn"},
        {"event_id": "e1", "message_id": ids[0], "type": "open", "at": T0, "source": "x"},
        {"event_id": "e4", "message_id": "nobody", "type": "open", "at": T0}],
        machine_window=60)
    assert (result.stored, result.duplicates, result.unknown) == (3, 1, ["nobody"])
    table = events.events(plane)
    assert table is not None
    stored = {r["event_id"]: r for r in table.to_pyarrow().to_pylist()}
    # e1 came 30 s after its message was sent: a machine open; e3 has no machine flag
    assert (stored["e1"]["machine"], stored["e1"]["detail"]) == (True, "")
    assert (stored["e2"]["machine"], stored["e2"]["link"], stored["e2"]["url"]) == (False, 2, "u")
    assert (stored["e3"]["machine"], stored["e3"]["bounce_type"]) == (None, "hard")
    assert stored["e1"]["at"] == T0 + timedelta(seconds=30)
    again = events.append(plane, [{"event_id": "e2", "message_id": ids[0], "type": "click",
                                   "at": T0, "source": "tracking"}])
    assert (again.stored, again.duplicates) == (0, 1)


@pytest.mark.parametrize("count", [1, 1500])
def test_links_are_found_by_message(plane: DataPlane, count: int) -> None:
    ids = planned(plane, count)
    events.record_links(plane, [{"message_id": m, "link": i, "url": f"https://s.example/{i}"}
                                for m in ids for i in range(2)])
    assert events.message_links(plane, ids[-1]) == {0: "https://s.example/0",
                                                    1: "https://s.example/1"}
