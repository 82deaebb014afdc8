"""`${vars.NAME}` values, saved filters (`filters/NAME.yaml`) and saved audiences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pytest

from overture.data import audiences
from overture.data.workspace import Workspace
from overture.rules.compiler import RULE_ADAPTER, RuleError, expand_filters, load_filter
from support.workspace import ROWS, ids

from .helpers import ALL_IDS, CUSTOMERS, Match, matching

FR = {"field": "country", "op": "eq", "value": "FR"}


# ---------------------------------------------------------------- variables
VARIABLES = {"n": 30, "low": 30.5, "pair": [30, 45], "codes": ["FR", "ES"], "tier": "gold",
             "since": "2024-01-01", "window": "67 days", "a": "An", "b": "a", "dom": "example",
             "pct": 100, "yes": True, "text30": "30"}

VAR_CASES = [
    ("int keeps its type", {"field": "age", "op": "gt", "value": "${vars.n}"},
     lambda r: r["age"] is not None and r["age"] > 30),
    ("float keeps its type", {"field": "age", "op": "lt", "value": "${vars.low}"},
     lambda r: r["age"] is not None and r["age"] < 30.5),
    ("a list for between", {"field": "age", "op": "between", "value": "${vars.pair}"},
     lambda r: r["age"] is not None and 30 <= r["age"] <= 45),
    ("a list for in", {"field": "country", "op": "in", "value": "${vars.codes}"},
     lambda r: r["country"] in ("FR", "ES")),
    ("a list for not_in", {"field": "country", "op": "not_in", "value": "${vars.codes}"},
     lambda r: r["country"] not in ("FR", "ES")),
    ("a variable inside a list", {"field": "loyalty_tier", "op": "in",
                                  "value": ["${vars.tier}", "silver"]},
     lambda r: r["loyalty_tier"] in ("gold", "silver")),
    ("a date string", {"field": "signup_date", "op": "gte", "value": "${vars.since}"},
     lambda r: str(r["signup_date"]) >= "2024-01-01"),
    ("a duration", {"field": "signup_date", "op": "in_last", "value": "${vars.window}"},
     lambda r: r["customer_id"] == 10),
    ("a boolean", {"field": "email_optin", "op": "eq", "value": "${vars.yes}"},
     lambda r: r["email_optin"] is True),
    ("two inside one string", {"field": "first_name", "op": "eq", "value": "${vars.a}${vars.b}"},
     lambda r: r["first_name"] == "Ana"),
    ("inside a string", {"field": "email", "op": "contains", "value": "@${vars.dom}.com"},
     lambda r: r["email"] is not None and "@example.com" in r["email"]),
    ("a number inside a string, then literal %", {"field": "email", "op": "starts_with",
                                                  "value": "kim_${vars.pct}%"},
     lambda r: r["customer_id"] == 11),
    ("a text variable stays text", {"field": "first_name", "op": "ne", "value": "${vars.text30}"},
     lambda r: True),
]


@pytest.mark.parametrize(("rule", "expected"), [pytest.param(r, p, id=n)
                                                for n, r, p in VAR_CASES])
def test_variables(match: Match, rule: dict[str, Any], expected: Any) -> None:
    assert match(rule, variables=VARIABLES) == ids(CUSTOMERS, expected)


@pytest.mark.parametrize("value", ["${vars.missing}", "kim_${vars.missing}",
                                   ["FR", "${vars.missing}"]])
def test_an_unknown_variable_is_a_rule_error(ws: Workspace, value: Any) -> None:
    op = "in" if isinstance(value, list) else "eq"
    with pytest.raises(RuleError, match="unknown variable 'missing'"):
        matching(ws, {"field": "country", "op": op, "value": value}, variables=VARIABLES)


@pytest.mark.parametrize(("rule", "words"), [
    ({"field": "age", "op": "gt", "value": "${vars.text30}"}, ["'30' is not a number"]),
    ({"field": "age", "op": "gt", "value": "${vars.missing}"}, ["unknown variable"]),
    ({"field": "signup_date", "op": "in_last", "value": "${vars.missing}"},
     ["unknown variable"]),
    ({"field": "signup_date", "op": "in_last", "value": "${vars.n}"}, ["not a duration"]),
    ({"field": "age", "op": "between", "value": "${vars.codes}"}, ["not a number"]),
    ({"field": "age", "op": "in", "value": "${vars.n}"}, ["non-empty list"]),
    ({"aggregate": {"link": "purchases", "fn": "count"}, "op": "gt",
      "value": "${vars.missing}"}, ["unknown variable"]),
])
def test_variable_problems_are_rule_errors(ws: Workspace, rule: dict[str, Any],
                                           words: list[str]) -> None:
    with pytest.raises(RuleError) as info:
        matching(ws, rule, variables=VARIABLES)
    for word in words:
        assert word in str(info.value)


def test_a_variable_is_bound_not_pasted(ws: Workspace) -> None:
    """A variable holding SQL is a value like any other."""
    got = matching(ws, {"field": "email", "op": "eq", "value": "${vars.v}"},
                   variables={"v": "x' OR '1'='1"})
    assert got == {9}


# ---------------------------------------------------------------- saved filters
def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def filters(tmp_path: Path) -> Path:
    folder = tmp_path / "filters"
    write(folder, "french", "field: country\nop: eq\nvalue: FR\n")
    write(folder, "gold", "label: Gold members\ndescription: the best\n"
                          "rule: {field: loyalty_tier, op: eq, value: gold}\n")
    write(folder, "french_gold", "all:\n  - filter: french\n  - filter: gold\n")
    write(folder, "big_basket", "{field: amount, op: gt, value: 100}\n")
    write(folder, "recent", "{field: signup_date, op: gte, value: 2024-01-01}\n")
    write(folder, "twice", "any: [{filter: french}, {not: {filter: french}}]\n")
    write(folder, "loop_a", "{filter: loop_b}\n")
    write(folder, "loop_b", "all: [{filter: french}, {filter: loop_a}]\n")
    write(folder, "self", "not: {filter: self}\n")
    write(folder, "broken_yaml", "all: [\n")
    write(folder, "not_a_rule", "{field: country, op: equals, value: FR}\n")
    write(folder, "dangling", "any: [{filter: french}, {filter: nowhere}]\n")
    return folder


def test_a_saved_filter(match: Match, filters: Path) -> None:
    assert match({"filter": "french"}, filters_dir=filters) == \
        ids(CUSTOMERS, lambda r: r["country"] == "FR")


def test_a_saved_filter_under_rule_with_label(match: Match, filters: Path) -> None:
    assert match({"filter": "gold"}, filters_dir=filters) == \
        ids(CUSTOMERS, lambda r: r["loyalty_tier"] == "gold")


def test_nested_saved_filters(match: Match, filters: Path) -> None:
    assert match({"filter": "french_gold"}, filters_dir=filters) == \
        ids(CUSTOMERS, lambda r: r["country"] == "FR" and r["loyalty_tier"] == "gold") == {1, 12}


def test_not_of_a_saved_filter_keeps_the_unknown(match: Match, filters: Path) -> None:
    assert match({"not": {"filter": "french"}}, filters_dir=filters) == \
        ids(CUSTOMERS, lambda r: r["country"] != "FR")
    assert 8 in match({"not": {"filter": "french"}}, filters_dir=filters)


def test_the_same_filter_twice_is_not_a_cycle(match: Match, filters: Path) -> None:
    assert match({"filter": "twice"}, filters_dir=filters) == ALL_IDS
    assert match({"all": [{"filter": "french"}, {"filter": "french_gold"}]},
                 filters_dir=filters) == {1, 12}


def test_a_saved_filter_inside_exists_and_aggregate(match: Match, filters: Path) -> None:
    big = {p["customer_id"] for p in ROWS["purchases"] if p["amount"] > 100}
    assert match({"exists": {"link": "purchases", "where": {"filter": "big_basket"}}},
                 filters_dir=filters) == big
    rule = {"aggregate": {"link": "purchases", "fn": "count", "where": {"filter": "big_basket"}},
            "op": "eq", "value": 0}
    assert match(rule, filters_dir=filters) == ALL_IDS - big


def test_a_saved_filter_with_a_yaml_date(match: Match, filters: Path) -> None:
    assert match({"filter": "recent"}, filters_dir=filters) == \
        ids(CUSTOMERS, lambda r: str(r["signup_date"]) >= "2024-01-01")


@pytest.mark.parametrize(("name", "words"), [
    ("loop_a", ["cycle", "loop_a -> loop_b -> loop_a"]),
    ("loop_b", ["cycle", "loop_b -> loop_a -> loop_b"]),
    ("self", ["cycle", "self -> self"]),
    ("nowhere", ["'nowhere' not found"]),
    ("dangling", ["'nowhere' not found"]),
    ("broken_yaml", ["'broken_yaml'", "not valid YAML"]),
    ("not_a_rule", ["'not_a_rule' is not a valid rule"]),
])
def test_saved_filter_problems_are_rule_errors(ws: Workspace, filters: Path, name: str,
                                               words: list[str]) -> None:
    with pytest.raises(RuleError) as info:
        matching(ws, {"all": [FR, {"filter": name}]}, filters_dir=filters)
    for word in words:
        assert word in str(info.value)


def test_expand_filters_replaces_every_reference(filters: Path) -> None:
    rule = RULE_ADAPTER.validate_python({"not": {"filter": "french_gold"}})
    expanded = expand_filters(rule, filters)
    assert "filter" not in repr(expanded).replace("filters", "")
    assert expanded == RULE_ADAPTER.validate_python(
        {"not": {"all": [FR, {"field": "loyalty_tier", "op": "eq", "value": "gold"}]}})


def test_no_workspace_no_filters() -> None:
    with pytest.raises(RuleError, match="no workspace"):
        load_filter(None, "french")


def test_a_filter_name_cannot_leave_the_filters_folder(ws: Workspace, tmp_path: Path) -> None:
    """`filters/NAME.yaml` only: `../x` must not read a YAML file elsewhere."""
    folder = tmp_path / "filters"
    folder.mkdir()
    write(tmp_path, "outside", "{field: country, op: eq, value: FR}\n")
    with pytest.raises(RuleError, match="outside"):
        matching(ws, {"filter": "../outside"}, filters_dir=folder)


# ---------------------------------------------------------------- audiences
def save(ws: Workspace, name: str, keys: list[int], dimension: str = "customers") -> None:
    key = ws.catalog.tables[dimension].key
    audiences.save(ws.data, name, dimension, ibis.memtable({key: keys},
                                                           schema={key: "int64"}))


def test_in_audience(fresh_ws: Workspace) -> None:
    gold = sorted(ids(CUSTOMERS, lambda r: r["loyalty_tier"] == "gold"))
    save(fresh_ws, "gold members", gold + gold[:2])  # duplicates do not duplicate profiles
    assert matching(fresh_ws, {"in_audience": "gold members"}) == set(gold)
    expr_rows = len(matching_rows(fresh_ws, {"in_audience": "gold members"}))
    assert expr_rows == len(gold)
    assert matching(fresh_ws, {"not": {"in_audience": "gold members"}}) == ALL_IDS - set(gold)
    both = matching(fresh_ws, {"all": [{"in_audience": "gold members"}, FR]})
    assert both == ids(CUSTOMERS, lambda r: r["loyalty_tier"] == "gold" and r["country"] == "FR")


def test_two_audiences_in_one_rule(fresh_ws: Workspace) -> None:
    save(fresh_ws, "a", [1, 2, 3])
    save(fresh_ws, "b", [3, 4])
    assert matching(fresh_ws, {"any": [{"in_audience": "a"}, {"in_audience": "b"}]}) == \
        {1, 2, 3, 4}
    assert matching(fresh_ws, {"all": [{"in_audience": "a"}, {"in_audience": "b"}]}) == {3}
    assert matching(fresh_ws, {"all": [{"in_audience": "a"},
                                       {"not": {"in_audience": "b"}}]}) == {1, 2}


def test_an_empty_audience(fresh_ws: Workspace) -> None:
    save(fresh_ws, "nobody", [])
    assert matching(fresh_ws, {"in_audience": "nobody"}) == set()


def test_a_missing_audience_is_a_rule_error(fresh_ws: Workspace) -> None:
    with pytest.raises(RuleError, match="'ghosts' does not exist"):
        matching(fresh_ws, {"any": [FR, {"in_audience": "ghosts"}]})


def test_an_audience_of_another_dimension_is_a_rule_error(fresh_ws: Workspace) -> None:
    save(fresh_ws, "lamps", [2], dimension="products")
    with pytest.raises(RuleError, match="holds 'products', not 'customers'"):
        matching(fresh_ws, {"in_audience": "lamps"})


def matching_rows(ws: Workspace, rule: dict[str, Any]) -> list[int]:
    from .helpers import compile_rule

    return list(compile_rule(ws, rule).execute()["customer_id"])
