"""`exists` and aggregates over many-links, with `where`, and the empty-set rules:
count and sum over no rows are 0; avg, min and max are NULL (unknown)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from statistics import mean
from typing import Any

import pytest

from overture.data.workspace import Workspace
from overture.rules.compiler import RuleError
from support.workspace import ROWS

from .helpers import ALL_IDS, Match, matching, sql_ids

PRODUCTS = {p["product_id"]: p for p in ROWS["products"]}
Pred = Callable[[dict[str, Any]], bool]


def bought(cid: int, where: Pred = lambda p: True) -> list[dict[str, Any]]:
    return [p for p in ROWS["purchases"] if p["customer_id"] == cid and where(p)]


def customers_where(test: Callable[[list[dict[str, Any]]], bool],
                    where: Pred = lambda p: True) -> set[int]:
    return {cid for cid in ALL_IDS if test(bought(cid, where))}


def amounts(rows: list[dict[str, Any]]) -> list[float]:
    return [p["amount"] for p in rows]


BIG = {"field": "amount", "op": "gt", "value": 100}
APPAREL = {"field": "product.category", "op": "eq", "value": "apparel"}
CLOCK_NAIVE = datetime(2027, 3, 1, 9, 0)


def apparel(p: dict[str, Any]) -> bool:
    return PRODUCTS[p["product_id"]]["category"] == "apparel"


# ---------------------------------------------------------------- exists
def test_exists(match: Match) -> None:
    got = match({"exists": {"link": "purchases"}})
    assert got == customers_where(bool) == {1, 2, 4, 5, 7, 9, 12}


def test_not_exists(match: Match) -> None:
    assert match({"not": {"exists": {"link": "purchases"}}}) == \
        customers_where(lambda rows: not rows) == {3, 6, 8, 10, 11}


def test_exists_where(match: Match) -> None:
    assert match({"exists": {"link": "purchases", "where": BIG}}) == \
        customers_where(bool, lambda p: p["amount"] > 100) == {2, 5}
    assert match({"not": {"exists": {"link": "purchases", "where": BIG}}}) == \
        ALL_IDS - {2, 5}


def test_exists_where_through_a_one_link_of_the_related_table(match: Match) -> None:
    assert match({"exists": {"link": "purchases", "where": APPAREL}}) == \
        customers_where(bool, apparel)


def test_exists_where_in_last(match: Match) -> None:
    rule = {"exists": {"link": "purchases",
                       "where": {"field": "purchased_at", "op": "in_last", "value": "30 days"}}}
    from datetime import timedelta
    since = CLOCK_NAIVE - timedelta(days=30)
    assert match(rule) == customers_where(
        bool, lambda p: since <= p["purchased_at"] <= CLOCK_NAIVE) == {1, 2, 5, 12}


def test_exists_where_with_a_group_and_a_negation(match: Match) -> None:
    where = {"all": [APPAREL, {"not": BIG}]}
    assert match({"exists": {"link": "purchases", "where": where}}) == \
        customers_where(bool, lambda p: apparel(p) and not p["amount"] > 100)


def test_exists_with_own_sql(ws: Workspace) -> None:
    rule = {"all": [{"exists": {"link": "purchases", "where": APPAREL}},
                    {"field": "country", "op": "ne", "value": "FR"}]}
    assert matching(ws, rule) == sql_ids(ws, """
        SELECT c.customer_id FROM customers c
        WHERE EXISTS (SELECT 1 FROM purchases p JOIN products d USING (product_id)
                      WHERE p.customer_id = c.customer_id AND d.category = 'apparel')
          AND (c.country = 'FR') IS NOT TRUE""")


def test_two_exists_in_one_rule(match: Match) -> None:
    rule = {"all": [{"exists": {"link": "purchases", "where": APPAREL}},
                    {"exists": {"link": "purchases", "where": {"not": APPAREL}}}]}
    assert match(rule) == customers_where(bool, apparel) & customers_where(
        bool, lambda p: not apparel(p))


# ---------------------------------------------------------------- aggregates
def agg(fn: str, field: str | None, op: str, value: Any, where: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"link": "purchases", "fn": fn}
    if field:
        spec["field"] = field
    if where:
        spec["where"] = where
    return {"aggregate": spec, "op": op, "value": value}


AGGREGATES = [
    ("count eq 0 = no purchase", agg("count", None, "eq", 0), lambda rows: len(rows) == 0),
    ("count gte 2", agg("count", None, "gte", 2), lambda rows: len(rows) >= 2),
    ("count lt 2 includes none", agg("count", None, "lt", 2), lambda rows: len(rows) < 2),
    ("count with where", agg("count", None, "eq", 0, BIG),
     lambda rows: sum(p["amount"] > 100 for p in rows) == 0),
    ("sum gte 100", agg("sum", "amount", "gte", 100), lambda rows: sum(amounts(rows)) >= 100),
    ("sum eq 0 = no purchase", agg("sum", "amount", "eq", 0),
     lambda rows: sum(amounts(rows)) == 0),
    ("sum lt 50 includes none", agg("sum", "amount", "lt", 50),
     lambda rows: sum(amounts(rows)) < 50),
    ("sum with where", agg("sum", "amount", "gte", 80, APPAREL),
     lambda rows: sum(p["amount"] for p in rows if apparel(p)) >= 80),
    ("sum where none matches is 0", agg("sum", "amount", "eq", 0, BIG),
     lambda rows: sum(p["amount"] for p in rows if p["amount"] > 100) == 0),
    ("avg gt 50", agg("avg", "amount", "gt", 50),
     lambda rows: bool(rows) and mean(amounts(rows)) > 50),
    ("avg lt 1000 excludes none (NULL)", agg("avg", "amount", "lt", 1000), bool),
    ("avg ne 97.5 keeps none (IS NOT TRUE)", agg("avg", "amount", "ne", 97.5),
     lambda rows: not rows or mean(amounts(rows)) != 97.5),
    ("avg is_empty = none", agg("avg", "amount", "is_empty", None), lambda rows: not rows),
    ("min lte 5", agg("min", "amount", "lte", 5),
     lambda rows: bool(rows) and min(amounts(rows)) <= 5),
    ("max gte 160", agg("max", "amount", "gte", 160),
     lambda rows: bool(rows) and max(amounts(rows)) >= 160),
    ("max between", agg("max", "amount", "between", [35, 80]),
     lambda rows: bool(rows) and 35 <= max(amounts(rows)) <= 80),
    ("min with where", agg("min", "amount", "gte", 80, APPAREL),
     lambda rows: any(apparel(p) for p in rows)
     and min(p["amount"] for p in rows if apparel(p)) >= 80),
    ("max of a timestamp", agg("max", "purchased_at", "gte", "2027-02-01"),
     lambda rows: bool(rows) and max(p["purchased_at"] for p in rows) >= datetime(2027, 2, 1)),
    ("max of a timestamp in_last", agg("max", "purchased_at", "in_last", "30 days"),
     lambda rows: bool(rows) and datetime(2027, 1, 30, 9)
     <= max(p["purchased_at"] for p in rows) <= CLOCK_NAIVE),
    ("count_distinct eq 1", agg("count_distinct", "product_id", "eq", 1),
     lambda rows: len({p["product_id"] for p in rows}) == 1),
    ("count_distinct gte 2", agg("count_distinct", "product_id", "gte", 2),
     lambda rows: len({p["product_id"] for p in rows}) >= 2),
    ("count_distinct eq 0 = none", agg("count_distinct", "product_id", "eq", 0),
     lambda rows: not rows),
    ("count_distinct with where", agg("count_distinct", "product_id", "eq", 1, APPAREL),
     lambda rows: len({p["product_id"] for p in rows if apparel(p)}) == 1),
    ("min of product name via where", agg("min", "amount", "lt", 40,
                                          {"field": "product.name", "op": "ne", "value": "Socks"}),
     lambda rows: any(PRODUCTS[p["product_id"]]["name"] != "Socks" for p in rows)
     and min(p["amount"] for p in rows if PRODUCTS[p["product_id"]]["name"] != "Socks") < 40),
]


@pytest.mark.parametrize(("rule", "test"), [pytest.param(r, t, id=n) for n, r, t in AGGREGATES])
def test_aggregate(match: Match, rule: dict[str, Any], test: Any) -> None:
    assert match(rule) == customers_where(test)


def test_aggregate_cases_are_not_trivial() -> None:
    sizes = [len(customers_where(t)) for _, _, t in AGGREGATES]
    assert all(0 < n < len(ALL_IDS) for n in sizes), sizes


@pytest.mark.parametrize("fn", ["avg", "min", "max"])
def test_avg_min_max_over_nothing_are_unknown(match: Match, fn: str) -> None:
    """No purchase: the comparison is unknown, neither true nor false; only `not` keeps it."""
    none = customers_where(lambda rows: not rows)
    assert none
    high = match(agg(fn, "amount", "gt", -1))
    low = match(agg(fn, "amount", "lte", -1))
    assert not (high | low) & none
    assert none <= match({"not": agg(fn, "amount", "gt", -1)})
    assert none <= match({"not": agg(fn, "amount", "lte", -1)})


@pytest.mark.parametrize("fn", ["count", "sum", "count_distinct"])
def test_count_and_sum_over_nothing_are_zero(match: Match, fn: str) -> None:
    none = customers_where(lambda rows: not rows)
    field = None if fn == "count" else "amount" if fn == "sum" else "product_id"
    assert none <= match(agg(fn, field, "eq", 0))
    assert not none & match({"not": agg(fn, field, "eq", 0)})


def test_aggregates_with_own_sql(ws: Workspace) -> None:
    rule = {"all": [agg("sum", "amount", "lt", 100), agg("avg", "amount", "gt", 5, APPAREL)]}
    assert matching(ws, rule) == sql_ids(ws, """
        SELECT c.customer_id FROM customers c
        LEFT JOIN (SELECT customer_id, SUM(amount) AS s FROM purchases GROUP BY 1) t
               USING (customer_id)
        LEFT JOIN (SELECT p.customer_id, AVG(p.amount) AS a FROM purchases p
                   JOIN products d USING (product_id) WHERE d.category = 'apparel'
                   GROUP BY 1) u USING (customer_id)
        WHERE COALESCE(t.s, 0) < 100 AND u.a > 5""")


def test_aggregate_and_exists_together(match: Match) -> None:
    rule = {"any": [agg("count", None, "gte", 3), {"not": {"exists": {"link": "purchases",
                                                                      "where": APPAREL}}}]}
    assert match(rule) == customers_where(lambda rows: len(rows) >= 3) | customers_where(
        lambda rows: not any(apparel(p) for p in rows))


def test_aggregate_on_another_dimension(ws: Workspace) -> None:
    """From stores there is no many-link: exists and aggregate are errors there."""
    with pytest.raises(RuleError, match="unknown link"):
        matching(ws, {"exists": {"link": "purchases"}}, "stores")


@pytest.mark.parametrize(("rule", "words"), [
    ({"exists": {"link": "store"}}, ["one-to-one", "store.FIELD"]),
    ({"exists": {"link": "nope"}}, ["unknown link", "nope"]),
    (agg("count", None, "eq", 1) | {"aggregate": {"link": "store", "fn": "count"}},
     ["one-to-one"]),
    (agg("sum", "nope", "eq", 1), ["unknown field", "nope", "purchases"]),
    (agg("max", "nope", "eq", 1), ["unknown field", "nope"]),
    (agg("sum", None, "eq", 1), ["unknown field", "None"]),
    (agg("avg", None, "eq", 1), ["unknown field"]),
    (agg("min", None, "eq", 1), ["unknown field"]),
    (agg("count_distinct", None, "eq", 1), ["unknown field"]),
    (agg("sum", "purchased_at", "eq", 1), ["sum needs a number", "purchased_at"]),
    (agg("avg", "purchased_at", "eq", 1), ["avg needs a number"]),
    (agg("count", None, "eq", "many"), ["not a number"]),
    (agg("sum", "amount", "in_last", "3 days"), ["in_last works on dates"]),
    (agg("max", "purchased_at", "eq", 3), ["not a date-time"]),
    ({"exists": {"link": "purchases", "where": {"field": "nope", "op": "eq", "value": 1}}},
     ["unknown field", "nope", "purchases"]),
    ({"exists": {"link": "purchases", "where": {"field": "country", "op": "eq", "value": "FR"}}},
     ["country"]),  # the where applies to purchases, not to customers
])
def test_related_errors_are_rule_errors(ws: Workspace, rule: dict[str, Any],
                                        words: list[str]) -> None:
    with pytest.raises(RuleError) as info:
        matching(ws, rule)
    for word in words:
        assert word in str(info.value)
