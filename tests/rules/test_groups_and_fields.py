"""Groups (all, any, not, nested), three-valued logic, field resolution: one-links,
`work.NAME` / `TABLE.NAME`, the ambiguity error and unknown fields."""

from __future__ import annotations

from typing import Any

import ibis
import pytest
from pydantic import ValidationError

from overture.data.workspace import Workspace
from overture.rules.compiler import RULE_ADAPTER, Compiler, RuleError
from overture.rules.resolve import PortSchema
from support.workspace import ROWS, ids

from .helpers import CUSTOMERS, Match, context, matching, sql_ids

STORES = {s["store_id"]: s for s in ROWS["stores"]}
FR = {"field": "country", "op": "eq", "value": "FR"}
OVER_30 = {"field": "age", "op": "gt", "value": 30}
GOLD = {"field": "loyalty_tier", "op": "eq", "value": "gold"}


def fr(r: dict[str, Any]) -> bool | None:
    return None if r["country"] is None else r["country"] == "FR"


def over_30(r: dict[str, Any]) -> bool | None:
    return None if r["age"] is None else r["age"] > 30


def gold(r: dict[str, Any]) -> bool:
    return r["loyalty_tier"] == "gold"


def and3(*vals: bool | None) -> bool | None:
    if any(v is False for v in vals):
        return False
    return None if any(v is None for v in vals) else True


def or3(*vals: bool | None) -> bool | None:
    if any(v is True for v in vals):
        return True
    return None if any(v is None for v in vals) else False


def not_(v: bool | None) -> bool:
    return v is not True  # the spec's `IS NOT TRUE`


GROUPS = [
    ("all", {"all": [FR, OVER_30]}, lambda r: and3(fr(r), over_30(r)) is True),
    ("any", {"any": [FR, OVER_30]}, lambda r: or3(fr(r), over_30(r)) is True),
    ("not", {"not": FR}, lambda r: not_(fr(r))),
    ("not all keeps the unknown", {"not": {"all": [FR, OVER_30]}},
     lambda r: not_(and3(fr(r), over_30(r)))),
    ("not any keeps the unknown", {"not": {"any": [FR, OVER_30]}},
     lambda r: not_(or3(fr(r), over_30(r)))),
    ("not not", {"not": {"not": FR}}, lambda r: fr(r) is True),
    ("all of one", {"all": [FR]}, lambda r: fr(r) is True),
    ("any with a not inside", {"any": [{"not": FR}, GOLD]},
     lambda r: not_(fr(r)) or gold(r)),
    ("nested", {"all": [{"any": [FR, GOLD]}, {"not": {"all": [OVER_30, GOLD]}}]},
     lambda r: or3(fr(r), gold(r)) is True and not_(and3(over_30(r), gold(r)))),
    ("deep", {"any": [{"all": [{"not": {"any": [FR, OVER_30]}}, {"not": GOLD}]},
                      {"all": [{"all": [{"all": [GOLD]}]}, {"not": {"not": FR}}]}]},
     lambda r: (not_(or3(fr(r), over_30(r))) and not gold(r)) or (gold(r) and fr(r) is True)),
]


@pytest.mark.parametrize(("rule", "expected"), [pytest.param(r, p, id=n) for n, r, p in GROUPS])
def test_groups(match: Match, rule: dict[str, Any], expected: Any) -> None:
    assert match(rule) == ids(CUSTOMERS, expected)


def test_not_of_an_unknown_and_keeps_eve(match: Match) -> None:
    """Eve is in France with no age: `FR and age > 30` is unknown, so `not` keeps her."""
    assert 5 not in match({"all": [FR, OVER_30]})
    assert 5 in match({"not": {"all": [FR, OVER_30]}})
    # Hal has no country and is 23: `FR or age > 30` is unknown for him
    assert 8 not in match({"any": [FR, OVER_30]})
    assert 8 in match({"not": {"any": [FR, OVER_30]}})


def test_groups_with_own_sql(ws: Workspace) -> None:
    got = matching(ws, {"not": {"all": [FR, OVER_30]}})
    assert got == sql_ids(ws, "SELECT customer_id FROM customers "
                              "WHERE (country = 'FR' AND age > 30) IS NOT TRUE")


@pytest.mark.parametrize("rule", [{"all": []}, {"any": []}, {"not": []}, {"not": None},
                                  {"all": FR}, {"all": [FR], "any": [FR]}])
def test_malformed_groups_are_validation_errors(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RULE_ADAPTER.validate_python(rule)


# ---------------------------------------------------------------- one-links
def store_of(r: dict[str, Any]) -> dict[str, Any] | None:
    return STORES.get(r["store_id"])


def test_one_link_field(match: Match) -> None:
    got = match({"field": "store.region", "op": "eq", "value": "north"})
    assert got == ids(CUSTOMERS, lambda r: (s := store_of(r)) is not None
                      and s["region"] == "north")
    assert got == {1, 3, 4, 9, 10, 11, 12}


def test_one_link_negation_keeps_profiles_without_a_store(match: Match) -> None:
    got = match({"field": "store.region", "op": "ne", "value": "north"})
    assert got == ids(CUSTOMERS, lambda r: (s := store_of(r)) is None or s["region"] != "north")
    assert {5, 8} <= got  # Eve and Hal have no store


def test_one_link_is_empty_without_a_store(match: Match) -> None:
    assert match({"field": "store.name", "op": "is_empty"}) == \
        ids(CUSTOMERS, lambda r: r["store_id"] is None) == {5, 8}


def test_a_link_column_named_like_a_dimension_column(ws: Workspace, match: Match) -> None:
    """`store.country` is the store's country, `country` the customer's, `customers.country` too."""
    store_fr = match({"field": "store.country", "op": "eq", "value": "FR"})
    assert store_fr == ids(CUSTOMERS, lambda r: (s := store_of(r)) is not None
                           and s["country"] == "FR")
    assert match({"field": "customers.country", "op": "eq", "value": "FR"}) == match(FR) == \
        ids(CUSTOMERS, lambda r: r["country"] == "FR")
    assert store_fr == match(FR) - {5}  # Eve lives in France but has no store
    assert store_fr == sql_ids(ws, "SELECT c.customer_id FROM customers c "
                                   "JOIN stores s ON s.store_id = c.store_id "
                                   "WHERE s.country = 'FR'")


def test_one_link_inside_a_group(match: Match) -> None:
    rule = {"any": [{"field": "store.region", "op": "eq", "value": "south"}, GOLD]}
    assert match(rule) == ids(CUSTOMERS, lambda r: gold(r) or (
        (s := store_of(r)) is not None and s["region"] == "south"))


def test_links_chain_from_another_dimension(ws: Workspace) -> None:
    """From purchases: `customer.country` and two links deep `customer.store.region`."""
    purchases = ROWS["purchases"]
    customers = {c["customer_id"]: c for c in CUSTOMERS}
    got = matching(ws, {"field": "customer.country", "op": "eq", "value": "FR"}, "purchases")
    assert got == {p["purchase_id"] for p in purchases
                   if customers[p["customer_id"]]["country"] == "FR"}
    got = matching(ws, {"field": "customer.store.region", "op": "eq", "value": "south"},
                   "purchases")
    assert got == {p["purchase_id"] for p in purchases
                   if (s := store_of(customers[p["customer_id"]])) and s["region"] == "south"}
    assert got == {4, 5, 9}
    both = matching(ws, {"all": [{"field": "product.category", "op": "eq", "value": "apparel"},
                                 {"field": "customer.store.region", "op": "ne",
                                  "value": "south"}]}, "purchases")
    products = {p["product_id"]: p for p in ROWS["products"]}
    assert both == {p["purchase_id"] for p in purchases
                    if products[p["product_id"]]["category"] == "apparel"
                    and not ((s := store_of(customers[p["customer_id"]])) and
                             s["region"] == "south")}


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(("field", "words"), [
    ("nope", ["nope", "customers"]),
    ("store.nope", ["nope", "stores"]),
    ("nope.region", ["nope"]),
    ("purchases.amount", ["purchases", "exists or aggregate"]),
    ("work.age", ["work", "age"]),
    ("customers.nope", ["nope"]),
    ("Country", ["Country"]),  # names are case-sensitive too
])
def test_unknown_fields_are_rule_errors(ws: Workspace, field: str, words: list[str]) -> None:
    with pytest.raises(RuleError) as info:
        matching(ws, {"field": field, "op": "eq", "value": "x"})
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------- work tables
WORK_ROWS: list[dict[str, Any]] = [
    {"customer_id": 1, "age": 99, "score": 5},
    {"customer_id": 2, "age": 45, "score": 7},
    {"customer_id": 5, "age": None, "score": None},
    {"customer_id": 8, "age": 10, "score": 1},
    {"customer_id": 12, "age": 19, "score": 9},
]
WORK_SCHEMA = PortSchema("customers", "customer_id",
                         {"customer_id": "int64", "age": "int64", "score": "int64"})


def on_work(ws: Workspace, rule: dict[str, Any]) -> set[int]:
    work = ibis.memtable(WORK_ROWS, schema={"customer_id": "int64", "age": "int64",
                                            "score": "int64"})
    parsed = RULE_ADAPTER.validate_python(rule)
    out = Compiler(context(ws)).filter("customers", parsed, work=work, schema=WORK_SCHEMA)
    return {int(v) for v in out.execute()["customer_id"]}


def work_ids(pred: Any) -> set[int]:
    return {r["customer_id"] for r in WORK_ROWS if pred(r)}


def test_a_name_in_work_and_dimension_is_ambiguous(ws: Workspace) -> None:
    with pytest.raises(RuleError) as info:
        on_work(ws, {"field": "age", "op": "gt", "value": 30})
    assert "work.age" in str(info.value) and "customers.age" in str(info.value)


def test_work_and_table_qualification(ws: Workspace) -> None:
    customers = {c["customer_id"]: c for c in CUSTOMERS}
    assert on_work(ws, {"field": "work.age", "op": "gt", "value": 30}) == \
        work_ids(lambda r: r["age"] is not None and r["age"] > 30) == {1, 2}
    assert on_work(ws, {"field": "customers.age", "op": "gt", "value": 30}) == \
        work_ids(lambda r: (a := customers[r["customer_id"]]["age"]) is not None and a > 30)
    assert on_work(ws, {"field": "customers.age", "op": "gt", "value": 30}) == {1, 2}
    assert on_work(ws, {"field": "work.age", "op": "lt", "value": 20}) == {8, 12}
    assert on_work(ws, {"field": "customers.age", "op": "lt", "value": 20}) == {12}


def test_work_columns_then_dimension_then_links(ws: Workspace) -> None:
    customers = {c["customer_id"]: c for c in CUSTOMERS}
    # only in the work table
    assert on_work(ws, {"field": "score", "op": "gte", "value": 7}) == {2, 12}
    assert on_work(ws, {"field": "score", "op": "ne", "value": 7}) == {1, 5, 8, 12}
    # only in the dimension, joined by key: rows of the work table only
    assert on_work(ws, FR) == work_ids(lambda r: customers[r["customer_id"]]["country"] == "FR")
    # through a one-link of the dimension
    north = on_work(ws, {"field": "store.region", "op": "eq", "value": "north"})
    assert north == work_ids(lambda r: (s := store_of(customers[r["customer_id"]]))
                             is not None and s["region"] == "north") == {1, 12}
    # the key itself resolves without ambiguity
    assert on_work(ws, {"field": "customer_id", "op": "in", "value": [1, 3, 5]}) == {1, 5}
    # a group mixing the three
    rule = {"all": [{"field": "work.age", "op": "is_not_empty"}, {"not": FR},
                    {"field": "store.region", "op": "ne", "value": "north"}]}
    assert on_work(ws, rule) == {2, 8}


def test_no_work_table_means_no_work_prefix(ws: Workspace) -> None:
    with pytest.raises(RuleError, match="work table has no column"):
        matching(ws, {"field": "work.score", "op": "eq", "value": 1})
