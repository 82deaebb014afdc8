"""enrich (one-link attributes, aggregates with where, top-N collect) and change_dimension."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.kit import ALL_IDS, BY_ID, CLOCK, PURCHASES, STORES, Harness, where
from overture.definition.errors import InvalidDocument

STORE = {s["store_id"]: s for s in STORES}
NOW = CLOCK.replace(tzinfo=None)  # purchased_at is a naive UTC timestamp


def purchases_of(cid: int, keep=lambda p: True) -> list[dict]:
    return [p for p in PURCHASES if p["customer_id"] == cid and keep(p)]


def test_attributes_through_one_links_and_of_the_profile(shared: Harness) -> None:
    result = shared.run("""
        - {id: all, type: build_audience}
        - {id: more, type: enrich, inputs: [all], attributes: [store.region, store.name, age]}
    """)
    rows = shared.rows(result, "more")
    assert list(rows[0]) == ["customer_id", "store_region", "store_name", "age"]
    expected = []
    for cid in sorted(ALL_IDS):
        store = STORE.get(BY_ID[cid]["store_id"], {})
        expected.append({"customer_id": cid, "store_region": store.get("region"),
                         "store_name": store.get("name"), "age": BY_ID[cid]["age"]})
    assert rows == expected
    assert rows[4]["store_region"] is None  # Eve (5) has no store


def test_aggregates_with_and_without_where(shared: Harness) -> None:
    result = shared.run("""
        - {id: all, type: build_audience}
        - id: more
          type: enrich
          inputs: [all]
          aggregates:
            - {name: recent, link: purchases, fn: sum, field: amount,
               where: {field: purchased_at, op: in_last, value: 90 days}}
            - {name: big, link: purchases, fn: count, where: {field: amount, op: gte, value: 80}}
            - {name: average, link: purchases, fn: avg, field: amount}
            - {name: last_at, link: purchases, fn: max, field: purchased_at}
            - {name: products, link: purchases, fn: count_distinct, field: product_id}
    """)
    since = NOW - timedelta(days=90)
    expected = []
    for cid in sorted(ALL_IDS):
        mine = purchases_of(cid)
        amounts = [p["amount"] for p in mine]
        expected.append({
            "customer_id": cid,
            "recent": sum(p["amount"] for p in mine if since <= p["purchased_at"] <= NOW),
            "big": sum(1 for a in amounts if a >= 80),
            "average": sum(amounts) / len(amounts) if amounts else None,
            "last_at": max((p["purchased_at"] for p in mine), default=None),
            "products": len({p["product_id"] for p in mine}),
        })
    assert shared.rows(result, "more") == expected
    # by hand: Ana 80+35 (the 5 of June 2026 is too old), Lou 80 (the 09:01 one is after
    # the clock), Dan 5 (2 Dec 2026 is inside the 90 days), Gus 0 (30 Nov 2026 is not)
    recent = {r["customer_id"]: r["recent"] for r in expected}
    assert (recent[1], recent[12], recent[4], recent[7]) == (115, 80, 5, 0)


def test_collect_top_n_related_rows_with_sort_and_where(shared: Harness) -> None:
    result = shared.run("""
        - {id: all, type: build_audience}
        - id: more
          type: enrich
          inputs: [all]
          collect:
            - {name: top, link: purchases, fields: [amount, product_id], count: 2,
               sort: {by: amount, order: desc}}
            - {name: cheap, link: purchases, fields: [purchased_at], count: 1,
               sort: {by: purchased_at, order: asc}, where: {field: amount, op: lt, value: 50}}
    """)
    expected = []
    for cid in sorted(ALL_IDS):
        top = sorted(purchases_of(cid), key=lambda p: -p["amount"])[:2]
        top += [None] * (2 - len(top))
        cheap = sorted(purchases_of(cid, lambda p: p["amount"] < 50),
                       key=lambda p: p["purchased_at"])[:1] or [None]
        expected.append({
            "customer_id": cid,
            "top_1_amount": top[0] and top[0]["amount"],
            "top_2_amount": top[1] and top[1]["amount"],
            "top_1_product_id": top[0] and top[0]["product_id"],
            "top_2_product_id": top[1] and top[1]["product_id"],
            "cheap_1_purchased_at": cheap[0] and cheap[0]["purchased_at"],
        })
    rows = shared.rows(result, "more")
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    ana = rows[0]  # 80 (shoes), 35 (lamp), 5 (socks)
    assert (ana["top_1_amount"], ana["top_2_amount"], ana["top_1_product_id"]) == (80, 35, 1)


def test_enriched_columns_drive_later_rules(shared: Harness) -> None:
    result = shared.run("""
        - {id: all, type: build_audience}
        - id: more
          type: enrich
          inputs: [all]
          attributes: [store.region]
          aggregates: [{name: spent, link: purchases, fn: sum, field: amount}]
        - id: tiers
          type: split
          inputs: [more]
          subsets:
            - {id: north_buyers, rule: {all: [{field: store_region, op: eq, value: north},
                                              {field: spent, op: gt, value: 0}]}}
          complement: true
    """)
    north = {sid for sid, s in STORE.items() if s["region"] == "north"}
    expected = where(lambda r: r["store_id"] in north and purchases_of(r["customer_id"]))
    assert expected == {1, 4, 9, 12}
    shared.check(result, "tiers", "north_buyers", expected)
    shared.check(result, "tiers", "complement", ALL_IDS - expected)


def test_an_enriched_name_clashing_with_the_work_table_is_rejected(shared: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        shared.run("""
            - {id: all, type: build_audience}
            - id: more
              type: enrich
              inputs: [all]
              aggregates: [{name: customer_id, link: purchases, fn: count}]
        """)
    assert any("more.aggregates[0].name" in str(p) for p in caught.value.problems)


# ---------------------------------------------------------------- change_dimension
def test_change_dimension_through_a_one_link(shared: Harness) -> None:
    result = shared.run("""
        - {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
        - {id: shops, type: change_dimension, inputs: [gold], target: stores, link: store}
        - {id: north, type: split, inputs: [shops],
           subsets: [{id: north, rule: {field: region, op: eq, value: north}}],
           complement: true}
    """)
    gold = where(lambda r: r["loyalty_tier"] == "gold")
    shops = {BY_ID[c]["store_id"] for c in gold} - {None}
    assert shops == {1, 2, 3}
    shared.check(result, "shops", "out", shops, key="store_id")
    assert list(shared.rows(result, "shops")[0]) == ["store_id"]  # only the new key
    shared.check(result, "north", "north", {1, 3}, key="store_id")
    shared.check(result, "north", "complement", {2}, key="store_id")


def test_change_dimension_drops_profiles_without_a_linked_row(shared: Harness) -> None:
    result = shared.run("""
        - {id: nostore, type: build_audience, rule: {field: store_id, op: is_empty}}
        - {id: shops, type: change_dimension, inputs: [nostore], target: stores, link: store}
    """)
    assert where(lambda r: r["store_id"] is None) == {5, 8}
    shared.check(result, "shops", "out", set(), key="store_id")


def test_change_dimension_through_a_many_link(shared: Harness) -> None:
    result = shared.run("""
        - {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
        - {id: bought, type: change_dimension, inputs: [gold], target: purchases,
           link: purchases}
    """)
    gold = where(lambda r: r["loyalty_tier"] == "gold")
    expected = {p["purchase_id"] for p in PURCHASES if p["customer_id"] in gold}
    assert expected == {1, 2, 3, 6, 9, 10, 11, 12}
    shared.check(result, "bought", "out", expected, key="purchase_id")


def test_change_dimension_link_must_lead_to_the_target(shared: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        shared.run("""
            - {id: all, type: build_audience}
            - {id: shops, type: change_dimension, inputs: [all], target: stores,
               link: purchases}
        """)
    assert any("shops.target" in str(p) and "leads to 'purchases'" in str(p)
               for p in caught.value.problems)
