"""split: ordered subsets, first match wins, limits (count, percent), sort, random, overlap."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.kit import ALL_IDS, BY_ID, Harness, where

FR = where(lambda r: r["country"] == "FR")
GOLD = where(lambda r: r["loyalty_tier"] == "gold")


def _split(h: Harness, settings: str) -> dict:
    return h.run("- {id: all, type: build_audience}\n"
                 "- id: split\n  type: split\n  inputs: [all]\n"
                 + textwrap.indent(textwrap.dedent(settings).strip("\n"), "  ") + "\n")


def test_hand_counted_sets() -> None:
    assert ({1, 3, 5, 10, 12}, {1, 4, 7, 9, 12}) == (FR, GOLD)


def test_first_match_wins_and_complement(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: fr, rule: {field: country, op: eq, value: FR}}
          - {id: gold, rule: {field: loyalty_tier, op: eq, value: gold}}
        complement: true
    """)
    shared.check(result, "split", "fr", FR)
    shared.check(result, "split", "gold", GOLD - FR)
    shared.check(result, "split", "complement", ALL_IDS - FR - GOLD)
    assert {4, 7, 9} == GOLD - FR


def test_without_complement_there_is_no_complement_port(shared: Harness) -> None:
    result = _split(shared, """
        subsets: [{id: fr, rule: {field: country, op: eq, value: FR}}]
    """)
    assert result["activities"]["split"]["ports"] == {"fr": 5}


def test_overlap_gives_every_subset_all_its_matches(shared: Harness) -> None:
    result = _split(shared, """
        overlap: true
        subsets:
          - {id: fr, rule: {field: country, op: eq, value: FR}}
          - {id: gold, rule: {field: loyalty_tier, op: eq, value: gold}}
        complement: true
    """)
    shared.check(result, "split", "fr", FR)
    shared.check(result, "split", "gold", GOLD)
    shared.check(result, "split", "complement", ALL_IDS - FR - GOLD)


def test_count_limit_without_sort_takes_the_lowest_keys(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: two_gold, rule: {field: loyalty_tier, op: eq, value: gold}, limit: {count: 2}}
          - {id: three, limit: {count: 3}}
        complement: true
    """)
    shared.check(result, "split", "two_gold", {1, 4})
    # 7, 9 and 12 were cut by the limit: they stay open to the next subset
    shared.check(result, "split", "three", {2, 3, 5})
    shared.check(result, "split", "complement", ALL_IDS - {1, 4, 2, 3, 5})


def test_percent_is_of_the_unassigned_matches_rounded_down(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: gold, rule: {field: loyalty_tier, op: eq, value: gold}}
          - {id: half_fr, rule: {field: country, op: eq, value: FR}, limit: {percent: 50}}
        complement: true
    """)
    shared.check(result, "split", "gold", GOLD)
    # FR still unassigned: 3, 5, 10 (1 and 12 are gold); 50% of 3 = 1.5 -> 1, the lowest key
    shared.check(result, "split", "half_fr", {3})
    shared.check(result, "split", "complement", ALL_IDS - GOLD - {3})


def test_rows_cut_by_a_percent_go_on_to_later_subsets(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: half_fr, rule: {field: country, op: eq, value: FR}, limit: {percent: 50}}
          - {id: gold, rule: {field: loyalty_tier, op: eq, value: gold}}
        complement: true
    """)
    shared.check(result, "split", "half_fr", {1, 3})     # 50% of 5 = 2.5 -> 2
    shared.check(result, "split", "gold", {4, 7, 9, 12})  # 12 was cut from half_fr
    shared.check(result, "split", "complement", {2, 5, 6, 8, 10, 11})


def test_percent_edges(shared: Harness) -> None:
    result = _split(shared, """
        overlap: true
        subsets:
          - {id: none, limit: {percent: 0}}
          - {id: tiny, limit: {percent: 8}}
          - {id: some, limit: {percent: 9}}
          - {id: all, limit: {percent: 100}}
    """)
    shared.check(result, "split", "none", set())
    shared.check(result, "split", "tiny", set())   # 12 * 8% = 0.96 -> 0
    shared.check(result, "split", "some", {1})     # 12 * 9% = 1.08 -> 1
    shared.check(result, "split", "all", ALL_IDS)


def _nulls_last(value, descending: bool) -> tuple:
    if value is None:
        return (1, 0)
    return (0, -value if descending else value)


def test_sort_decides_which_rows_a_limit_keeps(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: oldest, limit: {count: 3}, sort: {by: age, order: desc}}
          - {id: youngest_fr, rule: {field: country, op: eq, value: FR}, limit: {percent: 50},
             sort: {by: age}}
        complement: true
    """)
    oldest = sorted(ALL_IDS, key=lambda c: (_nulls_last(BY_ID[c]["age"], True), c))[:3]
    assert set(oldest) == {11, 4, 6}  # 67, 61, 52
    shared.check(result, "split", "oldest", set(oldest))
    fr = sorted(FR, key=lambda c: (_nulls_last(BY_ID[c]["age"], False), c))[:2]
    assert set(fr) == {12, 3}  # 19, 29
    shared.check(result, "split", "youngest_fr", set(fr))


def test_sort_ties_break_by_key(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: two, limit: {count: 2}, sort: {by: loyalty_tier, order: desc}}
    """)
    # 'silver' sorts last of the tiers: 2, 6 and 10 tie, the lowest keys win
    shared.check(result, "split", "two", {2, 6})


def test_a_sort_through_a_one_link(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: south_first, limit: {count: 3}, sort: {by: store.region, order: desc}}
    """)
    shared.check(result, "split", "south_first", {2, 6, 7})  # the three south customers


def test_random_is_stable_for_a_seed_and_changes_with_it(shared: Harness) -> None:
    seeds = (1, 2, 3, 4, 5)
    doc = "- {id: all, type: build_audience}\n" + "".join(f"""
- id: s{seed}
  type: split
  inputs: [all]
  subsets:
    - {{id: lucky, rule: {{field: country, op: eq, value: FR}}, limit: {{count: 2}},
       random: {{seed: {seed}}}}}
    - {{id: rest_fr, rule: {{field: country, op: eq, value: FR}}}}
  complement: true
""" for seed in seeds)
    runs = [shared.run(doc) for _ in range(2)]
    picks = set()
    for seed in seeds:
        lucky = [shared.keys(r, f"s{seed}", "lucky") for r in runs]
        assert lucky[0] == lucky[1], seed  # the same seed, the same draw
        assert len(lucky[0]) == 2 and lucky[0] <= FR
        for r in runs:
            shared.check(r, f"s{seed}", "rest_fr", FR - lucky[0])
            shared.check(r, f"s{seed}", "complement", ALL_IDS - FR)
        picks.add(frozenset(lucky[0]))
    assert len(picks) > 1  # five seeds do not all draw the same pair


def test_random_without_a_rule_draws_from_everyone(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: a, limit: {percent: 50}, random: {seed: 11}}
          - {id: b, limit: {percent: 50}, random: {seed: 11}}
        complement: true
    """)
    a = shared.keys(result, "split", "a")
    b = shared.keys(result, "split", "b")
    assert len(a) == 6 and len(b) == 3 and not a & b  # 50% of 12, then 50% of 6
    shared.check(result, "split", "complement", ALL_IDS - a - b)
    assert a != {1, 2, 3, 4, 5, 6}  # not the lowest keys


def test_a_subset_without_rule_or_limit_takes_everything_left(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: fr, rule: {field: country, op: eq, value: FR}}
          - {id: rest}
        complement: true
    """)
    shared.check(result, "split", "rest", ALL_IDS - FR)
    shared.check(result, "split", "complement", set())


def test_negated_rules_keep_unknown_values(shared: Harness) -> None:
    result = _split(shared, """
        subsets:
          - {id: not_fr, rule: {field: country, op: ne, value: FR}}
        complement: true
    """)
    # Hal (8) has no country: `ne` keeps him (spec §3: IS NOT TRUE)
    shared.check(result, "split", "not_fr", ALL_IDS - FR)
    assert 8 in ALL_IDS - FR


@pytest.mark.postgres
def test_random_picks_the_same_rows_on_duckdb_and_postgresql(tmp_path: Path,
                                                             postgres_url: str) -> None:
    doc = """
        - {id: all, type: build_audience}
        - {id: split, type: split, inputs: [all], complement: true,
           subsets: [{id: lucky, limit: {count: 5}, random: {seed: 3}}]}
        - {id: dedup, type: deduplicate, inputs: [all], keys: [country],
           keep: {method: random, seed: 9}}
    """
    picked = []
    for name, url in (("duck", None), ("pg", postgres_url)):
        h = Harness(tmp_path / name, data_url=url)
        try:
            result = h.run(doc)
            picked.append((h.keys(result, "split", "lucky"), h.keys(result, "dedup")))
            assert len(picked[-1][0]) == 5
        finally:
            h.close()
    assert picked[0] == picked[1]
