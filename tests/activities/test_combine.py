"""combine: union, intersection and exclusion, with their complements and column rules."""

from __future__ import annotations

import pytest

from engine.kit import PURCHASES, Harness, where
from overture.definition.errors import InvalidDocument

FR = where(lambda r: r["country"] == "FR")
GOLD = where(lambda r: r["loyalty_tier"] == "gold")
ES = where(lambda r: r["country"] == "ES")

SOURCES = """
    - {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
    - {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
    - {id: es, type: build_audience, rule: {field: country, op: eq, value: ES}}
"""


def test_hand_counted_sources() -> None:
    assert {1, 3, 5, 10, 12} == FR
    assert {1, 4, 7, 9, 12} == GOLD
    assert {2, 7} == ES


def test_union(shared: Harness) -> None:
    result = shared.run(SOURCES + """
    - {id: both, type: combine, operation: union, inputs: [fr, gold, es]}
    """)
    shared.check(result, "both", "out", FR | GOLD | ES)


def test_intersection_and_its_complement(shared: Harness) -> None:
    result = shared.run(SOURCES + """
    - {id: inter, type: combine, operation: intersection, inputs: [fr, gold], complement: true}
    """)
    shared.check(result, "inter", "out", FR & GOLD)
    shared.check(result, "inter", "complement", (FR | GOLD) - (FR & GOLD))
    assert {1, 12} == FR & GOLD


def test_intersection_of_three(shared: Harness) -> None:
    result = shared.run(SOURCES + """
    - {id: inter, type: combine, operation: intersection, inputs: [gold, fr, es],
       complement: true}
    """)
    shared.check(result, "inter", "out", set())
    shared.check(result, "inter", "complement", FR | GOLD | ES)


def test_exclusion_and_the_removed_rows(shared: Harness) -> None:
    result = shared.run(SOURCES + """
    - {id: excl, type: combine, operation: exclusion, primary: gold, inputs: [fr, gold, es],
       complement: true}
    """)
    shared.check(result, "excl", "out", GOLD - FR - ES)
    shared.check(result, "excl", "complement", GOLD & (FR | ES))
    assert {4, 9} == GOLD - FR - ES


ENRICHED = """
    - {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
    - {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
    - id: fr_big
      type: enrich
      inputs: [fr]
      aggregates: [{name: n, link: purchases, fn: count, where: {field: amount, op: gt, value: 50}}]
    - id: gold_all
      type: enrich
      inputs: [gold]
      aggregates: [{name: n, link: purchases, fn: count}]
"""


def _count(cid: int, minimum: float | None = None) -> int:
    return sum(1 for p in PURCHASES if p["customer_id"] == cid
               and (minimum is None or p["amount"] > minimum))


@pytest.mark.parametrize("order", [["fr_big", "gold_all"], ["gold_all", "fr_big"]])
def test_union_takes_a_profiles_columns_from_the_first_input_holding_it(
        shared: Harness, order: list[str]) -> None:
    result = shared.run(ENRICHED + f"""
    - {{id: both, type: combine, operation: union, inputs: [{', '.join(order)}]}}
    """)
    shared.check(result, "both", "out", FR | GOLD)
    first_is_fr = order[0] == "fr_big"
    expected = {}
    for cid in FR | GOLD:
        from_fr = cid in FR and (first_is_fr or cid not in GOLD)
        expected[cid] = _count(cid, 50) if from_fr else _count(cid)
    assert {r["customer_id"]: r["n"] for r in shared.rows(result, "both")} == expected
    # customers 1 and 12 are in both: 3 and 2 purchases, 1 and 1 over 50
    assert (expected[1], expected[12]) == ((1, 1) if first_is_fr else (3, 2))


def test_combine_keeps_only_the_columns_common_to_all_inputs(shared: Harness) -> None:
    result = shared.run(ENRICHED + """
    - id: union
      type: combine
      operation: union
      inputs: [fr_big, gold]
    - id: inter
      type: combine
      operation: intersection
      inputs: [fr_big, gold_all]
    - id: excl
      type: combine
      operation: exclusion
      primary: fr_big
      inputs: [fr_big, gold]
    """)
    assert list(shared.rows(result, "union")[0]) == ["customer_id"]
    assert list(shared.rows(result, "inter")[0]) == ["customer_id", "n"]
    # exclusion keeps the primary's columns
    assert shared.rows(result, "excl") == [{"customer_id": c, "n": _count(c, 50)}
                                           for c in sorted(FR - GOLD)]


def test_inputs_of_different_dimensions_are_rejected_at_validation(shared: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        shared.run("""
            - {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
            - {id: shops, type: build_audience, target: stores}
            - {id: mixed, type: combine, operation: union, inputs: [fr, shops]}
        """)
    problems = [str(p) for p in caught.value.problems]
    assert any("mixed.inputs" in p and "same dimension" in p for p in problems), problems


def test_union_has_no_complement(shared: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        shared.run(SOURCES + """
    - {id: both, type: combine, operation: union, inputs: [fr, gold], complement: true}
        """)
    assert any("union has no complement" in str(p) for p in caught.value.problems)
