"""Sources: build_audience, read_audience (and save_audience, which feeds it), incremental_query."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from engine.kit import ALL_IDS, BY_ID, CLOCK, PURCHASES, ROWS, Harness, where
from overture.data import audiences
from overture.definition.errors import InvalidDocument


# ---------------------------------------------------------------- build_audience
def test_build_audience_without_rule_takes_every_profile(shared: Harness) -> None:
    result = shared.run("""
        - {id: everyone, type: build_audience}
    """)
    shared.check(result, "everyone", "out", ALL_IDS)
    assert len(ALL_IDS) == 12


def test_build_audience_with_a_rule(shared: Harness) -> None:
    result = shared.run("""
        - id: buyers
          type: build_audience
          rule:
            all:
              - {field: country, op: in, value: [FR, ES]}
              - aggregate: {link: purchases, fn: sum, field: amount}
                op: gte
                value: 100
    """)
    spent = {cid: sum(p["amount"] for p in PURCHASES if p["customer_id"] == cid)
             for cid in ALL_IDS}
    expected = where(lambda r: r["country"] in ("FR", "ES") and spent[r["customer_id"]] >= 100)
    assert expected == {1, 2, 5, 12}  # 120, 195, 320, 115
    shared.check(result, "buyers", "out", expected)


def test_build_audience_on_another_dimension(shared: Harness) -> None:
    result = shared.run("""
        - {id: north, type: build_audience, target: stores,
           rule: {field: region, op: eq, value: north}}
    """)
    shared.check(result, "north", "out", {1, 3}, key="store_id")


# ---------------------------------------------------------------- read_audience
def test_read_audience_saved_through_the_data_api(fresh: Harness) -> None:
    plane = fresh.ws.data
    customers = plane.table("customers")
    audiences.save(plane, "golds", "customers",
                   customers.filter(customers.loyalty_tier == "gold").select("customer_id"))
    result = fresh.run("""
        - {id: golds, type: read_audience, audience: golds}
        - {id: fr, type: split, inputs: [golds],
           subsets: [{id: fr, rule: {field: country, op: eq, value: FR}}]}
    """)
    gold = where(lambda r: r["loyalty_tier"] == "gold")
    assert gold == {1, 4, 7, 9, 12}
    fresh.check(result, "golds", "out", gold)
    fresh.check(result, "fr", "fr", {1, 12})


def test_save_audience_live_then_read_audience_with_its_attributes(fresh: Harness) -> None:
    saved = fresh.run("""
        - {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
        - id: spend
          type: enrich
          inputs: [fr]
          aggregates: [{name: spent, link: purchases, fn: sum, field: amount}]
        - {id: keep, type: save_audience, inputs: [spend], audience: french, attributes: [spent]}
    """, name="saver", mode="live")
    french = where(lambda r: r["country"] == "FR")
    assert french == {1, 3, 5, 10, 12}
    fresh.check(saved, "keep", "out", french)
    info = audiences.lookup(fresh.ws.data, "french")
    assert info is not None and info.rows == 5 and info.run_id == saved["run"]

    read = fresh.run("""
        - {id: back, type: read_audience, audience: french}
    """, name="reader")
    rows = fresh.rows(read, "back")
    expected = {cid: sum(p["amount"] for p in PURCHASES if p["customer_id"] == cid)
                for cid in french}
    assert {r["customer_id"]: r["spent"] for r in rows} == expected
    assert expected == {1: 120.0, 3: 0, 5: 320.0, 10: 0, 12: 115.0}  # sum over no rows is 0


def test_save_audience_replaces_the_whole_audience(fresh: Harness) -> None:
    for country in ("FR", "ES"):
        fresh.run(f"""
            - {{id: who, type: build_audience, rule: {{field: country, op: eq, value: {country}}}}}
            - {{id: keep, type: save_audience, inputs: [who], audience: people}}
        """, mode="live")
    read = fresh.run("""
        - {id: back, type: read_audience, audience: people}
    """)
    fresh.check(read, "back", "out", where(lambda r: r["country"] == "ES"))


def test_save_audience_in_test_mode_writes_nothing_but_passes_input_on(fresh: Harness) -> None:
    result = fresh.run("""
        - {id: golds, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
        - {id: keep, type: save_audience, inputs: [golds], audience: never_written}
        - {id: after, type: split, inputs: [keep], subsets: [{id: two, limit: {count: 2}}],
           complement: true}
    """)
    fresh.check(result, "keep", "out", {1, 4, 7, 9, 12})
    fresh.check(result, "after", "two", {1, 4})
    fresh.check(result, "after", "complement", {7, 9, 12})
    assert audiences.lookup(fresh.ws.data, "never_written") is None
    assert not [t for t in fresh.ws.data.list_tables(include_internal=True)
                if "never_written" in t]


def test_read_audience_missing_fails_the_activity_clearly(shared: Harness) -> None:
    result = shared.run("""
        - {id: gone, type: read_audience, audience: no_such_audience}
        - {id: after, type: split, inputs: [gone], subsets: [{id: a}]}
    """)
    assert result["status"] == "failed"
    entry = result["activities"]["gone"]
    assert entry["status"] == "failed"
    assert "no_such_audience" in entry["error"] and "does not exist" in entry["error"]
    assert result["activities"]["after"] == {"status": "pending", "ports": None}
    assert result["error"].startswith("gone: ")


# ---------------------------------------------------------------- incremental_query
INCREMENTAL = """
    - id: query
      type: incremental_query
      mode: exclude_previous
      {history}
      rule: {{field: country, op: in, value: {countries}}}
"""


def _incremental(h: Harness, countries: list[str], *, mode: str, clock_days: int,
                 history: str = "") -> dict:
    doc = INCREMENTAL.format(history=history, countries="[" + ", ".join(countries) + "]")
    return h.run(doc, name="weekly", mode=mode, clock=CLOCK + timedelta(days=clock_days))


def test_exclude_previous_uses_the_history_of_live_runs_only(fresh: Harness) -> None:
    fr = where(lambda r: r["country"] == "FR")
    es = where(lambda r: r["country"] == "ES")
    assert (fr, es) == ({1, 3, 5, 10, 12}, {2, 7})

    # a test run first: it must not count as history
    first_test = _incremental(fresh, ["FR"], mode="test", clock_days=0)
    fresh.check(first_test, "query", "out", fr)
    assert any("history left unchanged" in m for m in fresh.logs(first_test, "query"))

    live1 = _incremental(fresh, ["FR"], mode="live", clock_days=0)
    fresh.check(live1, "query", "out", fr)  # the test run excluded nobody
    live2 = _incremental(fresh, ["FR", "ES"], mode="live", clock_days=2)
    fresh.check(live2, "query", "out", es)  # FR went out in live1

    # a later run with no window excludes what both live runs returned
    everyone = _incremental(fresh, ["FR", "ES", "DE"], mode="test", clock_days=4)
    fresh.check(everyone, "query", "out", where(lambda r: r["country"] == "DE"))
    # history_days 3 at day 4: only live2 (day 2) is inside the window, live1 (day 0) is not
    window = _incremental(fresh, ["FR", "ES", "DE"], mode="test", clock_days=4,
                          history="history_days: 3")
    fresh.check(window, "query", "out", fr | where(lambda r: r["country"] == "DE"))
    # history_days 5 reaches back to day 0 again
    wide = _incremental(fresh, ["FR", "ES", "DE"], mode="test", clock_days=4,
                        history="history_days: 5")
    fresh.check(wide, "query", "out", {4})

    # the test runs above wrote nothing: a live run sees only live1 and live2
    live3 = _incremental(fresh, ["FR", "ES", "DE"], mode="live", clock_days=4)
    fresh.check(live3, "query", "out", {4})


def test_exclude_previous_history_is_per_campaign(fresh: Harness) -> None:
    _incremental(fresh, ["FR"], mode="live", clock_days=0)
    other = fresh.run(INCREMENTAL.format(history="", countries="[FR]"), name="other",
                      mode="test")
    fresh.check(other, "query", "out", where(lambda r: r["country"] == "FR"))


def test_date_field_takes_rows_newer_than_the_last_live_run(fresh: Harness) -> None:
    doc = """
        - id: query
          type: incremental_query
          mode: date_field
          field: signup_date
          rule: {field: loyalty_tier, op: ne, value: bronze}
    """
    not_bronze = where(lambda r: r["loyalty_tier"] != "bronze")
    first = fresh.run(doc, name="signups", mode="live", clock=CLOCK - timedelta(days=400))
    fresh.check(first, "query", "out", not_bronze)  # no earlier live run: every match
    # a test run at a later clock neither writes a watermark nor is limited by its own
    test_run = fresh.run(doc, name="signups", mode="test", clock=CLOCK)
    watermark = (CLOCK - timedelta(days=400)).date()  # 2026-01-25
    newer = {cid for cid in not_bronze if BY_ID[cid]["signup_date"] > watermark}
    assert newer == {10, 12}  # 2026-12-24 and 2026-02-28
    fresh.check(test_run, "query", "out", newer)
    second = fresh.run(doc, name="signups", mode="live", clock=CLOCK)
    fresh.check(second, "query", "out", newer)
    third = fresh.run(doc, name="signups", mode="live", clock=CLOCK + timedelta(days=1))
    fresh.check(third, "query", "out", set())


def test_date_field_must_be_a_date(shared: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        shared.run("""
            - {id: query, type: incremental_query, mode: date_field, field: first_name}
        """)
    assert any("query.field" in str(p) and "not a date" in str(p)
               for p in caught.value.problems)


def test_live_history_is_readable_with_sql(fresh: Harness) -> None:
    """The history holds the live run's keys: checked with a query written here."""
    live = _incremental(fresh, ["ES"], mode="live", clock_days=0)
    history = fresh.ws.data.table_any("overture_incremental")
    mine = history.filter(history.run_id == live["run"])
    keys = {int(k) for k in mine.key.to_pyarrow().to_pylist()}
    assert keys == {2, 7}
    assert mine.count().execute() == 2


def test_date_field_compares_with_the_campaign_local_date(tmp_path: Path,
                                                          data_url: str | None) -> None:
    """The watermark of a run at 12:00 UTC on 1 March is 2 March in Auckland (UTC+13)."""
    base = ROWS["customers"][0]
    customers = [{**base, "customer_id": 1, "signup_date": date(2027, 3, 1)},
                 {**base, "customer_id": 2, "signup_date": date(2027, 3, 2)},
                 {**base, "customer_id": 3, "signup_date": date(2027, 3, 3)}]
    h = Harness(tmp_path, rows={**ROWS, "customers": customers}, data_url=data_url)
    try:
        doc = """
            - {id: query, type: incremental_query, mode: date_field, field: signup_date}
        """
        noon = datetime.fromisoformat("2027-03-01T12:00:00+00:00")
        first = h.run(doc, name="nz", mode="live", clock=noon, timezone="Pacific/Auckland")
        h.check(first, "query", "out", {1, 2, 3})
        # a day later: only what is newer than 2 March, Auckland's date at the first run
        second = h.run(doc, name="nz", mode="live", clock=noon + timedelta(days=1),
                       timezone="Pacific/Auckland")
        h.check(second, "query", "out", {3})
    finally:
        h.close()
