"""Export and forget one person on the hand-countable workspace, after a live run.

The world: one live run of MAIL (all -> mail -> next) over ROWS; a saved audience `vip`
of customers 1, 5 and 7; email unsubscribes of 5 and 2; plain suppressions of Eve's and
Ben's addresses; an open event and a tracked link for the messages of 5 and 2.
Everything expected is written from ROWS by hand.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

import ibis
import pytest

from channels.test_live_runs import EMAILABLE, MAIL, read_outbox
from engine.kit import ALL_IDS, BY_ID, PURCHASES, STORES, Harness
from overture.channels.identity import message_id
from overture.data import audiences, events, messages, suppressions
from overture.data.plane import IBIS_PREFIX
from overture.privacy import PrivacyError, export_profile, find_profile, forget_profile
from support.workspace import TYPES

EVE, BEN = 5, 2


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def world(h: Harness) -> str:
    """Set the world up; the live run's id."""
    result = h.run(MAIL % "", mode="live")
    assert result["status"] == "done", result
    run = result["run"]
    plane = h.ws.data
    customers = plane.table("customers")
    audiences.save(plane, "vip", "customers",
                   customers.filter(customers.customer_id.isin([1, 5, 7]))
                   .select("customer_id", "first_name"))
    for key in (EVE, BEN):
        assert suppressions.record_unsubscribe(plane, "customers", key, "email", source="test")
    suppressions.add_suppressions(plane, "email", ["EVE@example.com", "ben@example.com"])
    sent = datetime(2027, 3, 1, 9, 30)
    stored = events.append(plane, [
        {"event_id": f"open-{key}", "message_id": str(message_id(run, "mail", key)),
         "type": "open", "at": sent, "source": "tracking"} for key in (EVE, BEN)])
    assert stored.stored == 2
    events.record_links(plane, [
        {"message_id": str(message_id(run, "mail", key)), "link": 0,
         "url": f"https://shop.example/{key}"} for key in (EVE, BEN)])
    return run


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


def status_counts(h: Harness) -> dict[str, int]:
    log = messages.message_log(h.ws.data)
    assert log is not None
    rows = log.group_by("status").aggregate(n=log.count()).to_pyarrow().to_pylist()
    return {r["status"]: r["n"] for r in rows}


def keys_of(h: Harness, table: str, column: str = "customer_id") -> set[Any]:
    return set(h.ws.data.table(table).to_pyarrow().column(column).to_pylist())


# ---------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------

def test_export_holds_exactly_the_persons_rows(h: Harness) -> None:
    run = world(h)
    data = export_profile(h.ws, str(EVE))
    assert (data["dimension"], data["key_column"], data["key"]) == ("customers",
                                                                    "customer_id", EVE)
    assert data["profile"] == jsonable(BY_ID[EVE])
    purchases = data["linked"]["purchases"]
    assert (purchases["table"], purchases["cardinality"]) == ("purchases", "many")
    assert [r["purchase_id"] for r in purchases["rows"]] == [7, 8]
    assert [r["purchase_id"] for r in purchases["rows"]] == sorted(
        p["purchase_id"] for p in PURCHASES if p["customer_id"] == EVE)
    assert data["linked"]["store"]["rows"] == []  # Eve has no store
    assert data["audiences"] == [{"audience": "vip",
                                  "rows": [{"customer_id": EVE, "first_name": "Eve"}]}]
    eve_message = str(message_id(run, "mail", EVE))
    assert [(m["message_id"], m["profile_key"], m["address"], m["status"])
            for m in data["messages"]] == [(eve_message, "5", "eve@example.com", "sent")]
    assert [e["event_id"] for e in data["events"]] == ["open-5"]
    assert data["tracked_links"] == [{"message_id": eve_message, "link": 0,
                                      "url": "https://shop.example/5"}]
    assert [(u["dimension"], u["profile_key"], u["channel"]) for u in data["unsubscribes"]] \
        == [("customers", "5", "email")]
    assert [(s["channel"], s["address"]) for s in data["suppressions"]] == [
        ("email", "eve@example.com")]
    assert data["runs"] == [
        {"run": run, "activity": a, "port": p, "table": f"ovw_{run}_{a}_{p}"}
        for a, p in (("all", "out"), ("mail", "out"), ("next", "all"))]
    text = json.dumps(data)  # plain JSON, and no one else's data in it
    for other in ("ben@example.com", "Ben", "ana@example.com", str(message_id(run, "mail", 2)),
                  "open-2", "https://shop.example/2"):
        assert other not in text


def test_export_of_a_profile_not_sent_to_lists_only_where_its_key_is(h: Harness) -> None:
    run = world(h)
    data = export_profile(h.ws, "1")
    assert [s["store_id"] for s in data["linked"]["store"]["rows"]] == [1]
    assert data["linked"]["store"]["rows"][0] == STORES[0]
    assert [r["purchase_id"] for r in data["linked"]["purchases"]["rows"]] == [1, 2, 3]
    # Chloé (3) has no consent: in the audience, not in the mail's output
    chloe = export_profile(h.ws, "3")
    assert [(r["activity"], r["port"]) for r in chloe["runs"]] == [("all", "out")]
    assert [(m["status"], m["reason"]) for m in chloe["messages"]] == [("excluded",
                                                                         "no_consent")]
    assert chloe["events"] == chloe["unsubscribes"] == chloe["audiences"] == []
    # her address normalises to Ana's, which no one suppressed
    assert chloe["suppressions"] == []
    assert all(r["run"] == run for r in chloe["runs"])


def test_the_key_is_compared_as_the_key_columns_type(h: Harness) -> None:
    assert find_profile(h.ws, "05").key == 5  # a number, not the text "05"
    assert find_profile(h.ws, " 12 ").rows[0]["first_name"] == "Lou"
    store = find_profile(h.ws, "2", dimension="stores")
    assert (store.dimension, store.key, store.rows) == ("stores", 2, [STORES[1]])
    with pytest.raises(PrivacyError, match=r"'abc' is not a key of customers\.customer_id"):
        find_profile(h.ws, "abc")
    with pytest.raises(PrivacyError, match="no profile '99' in 'customers'"):
        find_profile(h.ws, "99")
    with pytest.raises(PrivacyError, match=r"'nope' is not a table of schema.yaml \(tables: "
                                           "customers, products, purchases, stores\\)"):
        find_profile(h.ws, "1", dimension="nope")


def test_a_text_key_is_matched_as_text(h: Harness) -> None:
    h.ws.data.con.create_table("accounts", ibis.memtable(
        {"code": ["007", "7"], "email": ["a@x.io", "b@x.io"]}))
    (h.ws.root / "schema.yaml").write_text(
        (h.ws.root / "schema.yaml").read_text() + "  accounts:\n    key: code\n")
    h.ws.__dict__.pop("catalog", None)
    assert find_profile(h.ws, "007", dimension="accounts").rows == [
        {"code": "007", "email": "a@x.io"}]
    assert find_profile(h.ws, "7", dimension="accounts").rows[0]["email"] == "b@x.io"


# ---------------------------------------------------------------------------------------
# forget
# ---------------------------------------------------------------------------------------

def test_forget_removes_the_person_everywhere_and_keeps_the_counts(h: Harness) -> None:
    run = world(h)
    before = status_counts(h)
    events_before = h.ws.data.count(h.ws.data.table(events.EVENTS))
    report = forget_profile(h.ws, str(EVE))

    assert report.count("customers", "deleted") == 1
    assert report.count("purchases", "deleted") == 2
    assert report.count(audiences.audience_table_name("vip"), "deleted") == 1
    for a, p in (("all", "out"), ("mail", "out"), ("next", "all")):
        assert report.count(f"ovw_{run}_{a}_{p}", "deleted") == 1
    assert report.count(messages.MESSAGES, "anonymised") == 1
    assert report.count(suppressions.UNSUBSCRIBES, "deleted") == 1
    assert report.count(suppressions.SUPPRESSIONS, "suppressed") == 2  # email and phone
    assert report.count(suppressions.SUPPRESSIONS, "deleted") == 1     # plain eve@

    assert keys_of(h, "customers") == ALL_IDS - {EVE}
    assert keys_of(h, "purchases", "purchase_id") == {
        p["purchase_id"] for p in PURCHASES if p["customer_id"] != EVE}
    assert keys_of(h, audiences.audience_table_name("vip")) == {1, 7}
    info = audiences.lookup(h.ws.data, "vip")
    assert info is not None and info.rows == 2
    assert keys_of(h, f"ovw_{run}_all_out") == ALL_IDS - {EVE}
    assert keys_of(h, f"ovw_{run}_mail_out") == EMAILABLE - {EVE}
    assert keys_of(h, "stores", "store_id") == {1, 2, 3}  # `one` links are shared: kept

    assert status_counts(h) == before
    log = messages.message_log(h.ws.data)
    assert log is not None
    rows = {r["message_id"]: r for r in log.to_pyarrow().to_pylist()}
    eve = rows[str(message_id(run, "mail", EVE))]
    assert (eve["profile_key"], eve["address"], eve["status"]) == (
        sha("customers:5"), None, "sent")
    assert "5" not in {r["profile_key"] for r in rows.values()}
    ben = rows[str(message_id(run, "mail", BEN))]
    assert (ben["profile_key"], ben["address"]) == ("2", "ben@example.com")
    assert h.ws.data.count(h.ws.data.table(events.EVENTS)) == events_before

    unsubscribed = suppressions.unsubscribed_keys(h.ws.data, "customers", "email")
    assert unsubscribed is not None
    assert unsubscribed.to_pyarrow().column(0).to_pylist() == ["2"]
    listed = {(r["channel"], r["address"], r["reason"])
              for r in suppressions.list_suppressions(h.ws.data)}
    assert listed == {("email", "ben@example.com", "manual"),
                      ("email", sha("eve@example.com"), "erasure"),
                      ("sms", sha("+33600000005"), "erasure")}

    with pytest.raises(PrivacyError, match="no profile '5'"):
        export_profile(h.ws, "5")
    with pytest.raises(PrivacyError, match="no profile '5'"):
        forget_profile(h.ws, "5")


def test_after_forget_no_table_holds_the_persons_name_or_addresses(h: Harness) -> None:
    world(h)
    forget_profile(h.ws, str(EVE))
    plane = h.ws.data
    found = []
    for name in plane.list_tables(include_internal=True):
        if name.startswith(IBIS_PREFIX):  # the test's own in-memory copies of ROWS
            continue
        for row in plane.table(name).to_pyarrow().to_pylist():
            text = " ".join(str(v).lower() for v in row.values())
            if any(s in text for s in ("eve@example.com", "+33600000005", "'eve'")) \
                    or "Eve" in row.values():
                found.append((name, row))
    assert found == []


def test_the_next_live_run_to_the_same_address_excludes_it_as_suppressed(h: Harness) -> None:
    world(h)
    forget_profile(h.ws, str(EVE))
    newcomer = {**BY_ID[EVE], "customer_id": 13, "first_name": "Eva",
                "email": " EVE@Example.com"}
    h.ws.data.con.insert("customers", ibis.memtable([newcomer],
                                                   schema=ibis.schema(TYPES["customers"])))
    result = h.run(MAIL % "", mode="live")
    assert result["status"] == "done", result
    entry = result["activities"]["mail"]
    assert entry["excluded"]["suppressed"] == 1
    assert entry["excluded"]["unsubscribed"] == 1  # Ben, whose unsubscribe stays
    rows = messages.of_activity(h.ws.data, result["run"], "mail")
    assert rows is not None
    by_key = {r["profile_key"]: r for r in rows.to_pyarrow().to_pylist()}
    assert (by_key["13"]["status"], by_key["13"]["reason"]) == ("excluded", "suppressed")
    expected = EMAILABLE - {EVE, BEN}
    h.check(result, "mail", "out", expected)
    ids = {str(message_id(result["run"], "mail", k)) for k in ALL_IDS | {13}}
    sent = sorted(m["to"] for m in read_outbox(h.ws.state_dir, "email")
                  if m["message_id"] in ids)
    assert sent == sorted(BY_ID[k]["email"] for k in expected)


def test_a_link_not_joined_on_the_key_is_kept_and_said(h: Harness) -> None:
    schema = (h.ws.root / "schema.yaml").read_text().replace(
        "      store: {table: stores, on: {store_id: store_id}, cardinality: one}\n",
        "      store: {table: stores, on: {store_id: store_id}, cardinality: one}\n"
        "      neighbours: {table: customers, on: {store_id: store_id}, cardinality: many}\n")
    (h.ws.root / "schema.yaml").write_text(schema)
    h.ws.__dict__.pop("catalog", None)
    data = export_profile(h.ws, "1")
    assert {r["customer_id"] for r in data["linked"]["neighbours"]["rows"]} == {
        k for k, r in BY_ID.items() if r["store_id"] == 1}
    report = forget_profile(h.ws, "1")
    kept = [s for s in report.steps if s.action == "kept"]
    assert [(s.table, s.count) for s in kept] == [("customers", 4)]
    assert keys_of(h, "customers") == ALL_IDS - {1}  # the neighbours stay


def test_work_tables_of_another_dimension_with_the_same_key_name_are_left_alone(
        h: Harness) -> None:
    h.ws.data.con.create_table("people", ibis.memtable({"id": [1, 2], "email": ["p1@x.io",
                                                                                "p2@x.io"]}))
    h.ws.data.con.create_table("shops", ibis.memtable({"id": [1, 3], "name": ["A", "C"]}))
    (h.ws.root / "schema.yaml").write_text(
        (h.ws.root / "schema.yaml").read_text()
        + "  people:\n    key: id\n    channels:\n      email: {address: email}\n"
        + "  shops:\n    key: id\n")
    h.ws.__dict__.pop("catalog", None)
    result = h.run("""
        - {id: p, type: build_audience, target: people}
        - {id: s, type: build_audience, target: shops}
    """)
    assert result["status"] == "done", result
    data = export_profile(h.ws, "1", dimension="people")
    assert [(r["activity"], r["port"]) for r in data["runs"]] == [("p", "out")]
    forget_profile(h.ws, "1", dimension="people")
    assert keys_of(h, h.table_name(result, "p"), "id") == {2}
    assert keys_of(h, h.table_name(result, "s"), "id") == {1, 3}
