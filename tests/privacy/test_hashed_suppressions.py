"""Suppressions stored as hashes: Python and the engine agree, and the delivery plan
excludes a profile whose address only the hash of matches."""

from __future__ import annotations

import hashlib

import ibis
import pytest

from channels.test_live_runs import EMAILABLE, MAIL
from engine.kit import BY_ID, Harness
from overture.data import suppressions


@pytest.mark.parametrize("channel, raw, normal", [
    ("email", " Ann@Example.COM\u00a0", "ann@example.com"),
    ("email", "Élodie@exemple.fr", "Élodie@exemple.fr"),  # non-ASCII letters kept
    ("sms", "+33 6 12-34.56", "+336123456"),
    ("push", " TokenABC123 ", "TokenABC123"),
])
def test_python_and_engine_hashes_agree(h: Harness, channel: str, raw: str,
                                        normal: str) -> None:
    expected = "sha256:" + hashlib.sha256(normal.encode()).hexdigest()
    assert suppressions.hash_address(raw, channel) == expected
    plane = h.ws.data
    expr = suppressions.hash_address_sql(
        suppressions.normalize_address_sql(ibis.literal(raw), channel), plane.backend)
    assert plane.con.execute(expr) == expected


def test_hashed_addresses_are_stored_once_and_never_in_clear(h: Harness) -> None:
    plane = h.ws.data
    first = suppressions.add_hashed_suppressions(plane, "email",
                                                 ["Ann@x.io", "ann@x.io ", "", "bo@x.io"])
    assert (first.added, first.already, first.invalid) == (2, 1, 1)
    again = suppressions.add_hashed_suppressions(plane, "email", ["ANN@x.io"])
    assert (again.added, again.already) == (0, 1)
    rows = suppressions.list_suppressions(plane, "email")
    assert sorted(r["address"] for r in rows) == sorted(
        "sha256:" + hashlib.sha256(a.encode()).hexdigest() for a in ("ann@x.io", "bo@x.io"))
    assert {r["reason"] for r in rows} == {suppressions.HASHED_REASON}
    hashed = suppressions.hashed_suppressions(plane, "email")
    assert hashed is not None and plane.count(hashed) == 2
    assert suppressions.hashed_suppressions(plane, "sms") is None
    # lifted like any other: `overture suppress remove sha256:<hex>`
    ann = suppressions.hash_address("ann@x.io", "email")
    assert suppressions.remove_suppressions(plane, "email", [ann]) == 1
    assert [r["address"] for r in suppressions.list_suppressions(plane, "email")] == [
        suppressions.hash_address("bo@x.io", "email")]


def test_a_live_run_excludes_an_address_suppressed_only_as_a_hash(h: Harness) -> None:
    # Ben's address, messy as customer 7 has it too; 7 has no consent, so 2 is the one
    suppressions.add_hashed_suppressions(h.ws.data, "email", [" BEN@example.com"])
    suppressions.add_suppressions(h.ws.data, "email", ["hal@example.com"])  # plain: both work
    result = h.run(MAIL % "")
    entry = result["activities"]["mail"]
    assert entry["excluded"]["suppressed"] == 2
    h.check(result, "mail", "out", EMAILABLE - {2, 8})
    assert BY_ID[2]["email"] == "ben@example.com" and BY_ID[8]["email"] == "hal@example.com"
