"""Message identity (spec §5): one UUID per (run, activity, profile), stable forever."""

from __future__ import annotations

import hashlib
import uuid

import ibis
import pytest

from overture.channels.identity import message_id, message_id_header, message_id_sql


def test_deterministic_and_pinned() -> None:
    first = message_id("run-1", "vip_mail", "c42")
    assert first == message_id("run-1", "vip_mail", "c42")
    assert first.version == 3 and first.variant == uuid.RFC_4122
    # pinned: a change of encoding would re-identify every past message
    digest = hashlib.md5(b"5:run-1|8:vip_mail|c42").hexdigest()
    assert str(first) == "03f13d89-87db-378b-8902-b678943cfb81"
    assert first.hex[:12] == digest[:12] and first.hex[17:] == digest[17:]


KEYS = ["c42", "1", "é", "x|y", "", "999999", "3:a|b"] + [str(n) for n in range(40)]


def _engine_ids(con: ibis.BaseBackend) -> dict[str, str]:
    table = ibis.memtable({"k": KEYS})
    expr = table.mutate(mid=message_id_sql("run-1", "vip_mail", table.k))
    return {row["k"]: row["mid"] for row in con.execute(expr).to_dict("records")}


def test_the_engine_computes_the_same_ids_on_duckdb() -> None:
    ids = _engine_ids(ibis.duckdb.connect())
    assert ids == {k: str(message_id("run-1", "vip_mail", k)) for k in KEYS}


@pytest.mark.postgres
def test_the_engine_computes_the_same_ids_on_postgres(postgres_url: str) -> None:
    ids = _engine_ids(ibis.connect(postgres_url))
    assert ids == {k: str(message_id("run-1", "vip_mail", k)) for k in KEYS}


@pytest.mark.parametrize("other", [
    ("run-2", "vip_mail", "c42"),
    ("run-1", "vip_mail2", "c42"),
    ("run-1", "vip_mail", "c43"),
])
def test_any_part_changes_the_id(other: tuple[str, str, str]) -> None:
    assert message_id(*other) != message_id("run-1", "vip_mail", "c42")


def test_length_prefix_keeps_boundaries() -> None:
    assert message_id("a", "bc", "d") != message_id("ab", "c", "d")
    assert message_id("r", "a|b", "c") != message_id("r", "a", "b|c")
    assert message_id("r", "a", "1:b") != message_id("r", "a:1", "b")


def test_distinct_for_many_triples() -> None:
    triples = {(f"run{r}", f"act{a}", str(p)) for r in range(3) for a in range(3)
               for p in range(200)}
    assert len({message_id(*t) for t in triples}) == len(triples)


def test_integer_profile_keys() -> None:
    assert message_id("r", "a", 7) == message_id("r", "a", "7")


def test_header() -> None:
    value = message_id("r", "a", "p")
    assert message_id_header(value, "mail.example.com") == f"<{value}@mail.example.com>"
    assert message_id_header(value, "@example.com") == f"<{value}@example.com>"
    with pytest.raises(ValueError):
        message_id_header(value, " ")
