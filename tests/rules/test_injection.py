"""Values are typed literals, never SQL text: Ivy's email is `x' OR '1'='1`."""

from __future__ import annotations

from typing import Any

import pytest

from overture.data.workspace import Workspace
from overture.rules.compiler import Compiler, RuleError
from support.workspace import ROWS

from .helpers import compile_rule, context, escaped, matching, sql_ids

EVIL = "x' OR '1'='1"


def test_ivy_is_the_only_customer_with_that_email() -> None:
    assert [r["customer_id"] for r in ROWS["customers"] if r["email"] == EVIL] == [9]


@pytest.mark.parametrize("rule", [
    {"field": "email", "op": "eq", "value": EVIL},
    {"field": "email", "op": "in", "value": [EVIL]},
    {"field": "email", "op": "in", "value": ["nobody@example.com", EVIL]},
    {"field": "email", "op": "contains", "value": EVIL},
    {"field": "email", "op": "contains", "value": "' OR '"},
    {"field": "email", "op": "starts_with", "value": EVIL},
    {"field": "email", "op": "starts_with", "value": "x'"},
    {"field": "email", "op": "like", "value": EVIL},
    {"field": "email", "op": "between", "value": [EVIL, EVIL]},
    {"all": [{"field": "email", "op": "eq", "value": EVIL},
             {"field": "first_name", "op": "eq", "value": "Ivy"}]},
], ids=lambda r: r.get("op", "all"))
def test_the_literal_matches_only_itself(ws: Workspace, rule: dict[str, Any]) -> None:
    assert matching(ws, rule) == {9}


@pytest.mark.parametrize("op", ["ne", "not_in", "not_contains", "not_starts_with", "not_like"])
def test_negations_exclude_only_ivy(ws: Workspace, op: str) -> None:
    value: Any = [EVIL] if op == "not_in" else EVIL
    every = {r["customer_id"] for r in ROWS["customers"]}
    assert matching(ws, {"field": "email", "op": op, "value": value}) == every - {9}


@pytest.mark.parametrize("op", ["eq", "in", "contains", "starts_with", "like"])
def test_the_printed_sql_holds_the_value_only_as_an_escaped_literal(ws: Workspace,
                                                                   op: str) -> None:
    value: Any = [EVIL] if op == "in" else EVIL
    expr = compile_rule(ws, {"field": "email", "op": op, "value": value})
    sql = Compiler(context(ws)).sql(expr)
    assert escaped(ws, EVIL) in sql
    rest = sql.replace(escaped(ws, EVIL), "<literal>")
    assert "'1'" not in rest and "OR" not in rest.upper().replace("ORDER", "")
    # the printed SQL runs, and selects Ivy alone
    assert sql_ids(ws, sql) == {9}


def test_a_value_that_would_end_the_statement(ws: Workspace) -> None:
    value = "'; DROP TABLE customers; --"
    expr = compile_rule(ws, {"field": "first_name", "op": "eq", "value": value})
    sql = Compiler(context(ws)).sql(expr)
    assert escaped(ws, value) in sql
    assert matching(ws, {"field": "first_name", "op": "eq", "value": value}) == set()
    assert matching(ws, {"field": "first_name", "op": "contains", "value": value}) == set()
    assert ws.data.has_table("customers")
    assert len(sql_ids(ws, "SELECT customer_id FROM customers")) == len(ROWS["customers"])


@pytest.mark.parametrize("value", ["back\\slash", "\\'", "tab\tnew\nline", "'' ''", "$1", "?",
                                   ":name", "%s", "{0}", "é\u200b", "\\x00"])
def test_awkward_text_is_compared_as_text(ws: Workspace, value: str) -> None:
    """None of the customers is named like this: each rule selects nobody, and runs."""
    assert matching(ws, {"field": "first_name", "op": "eq", "value": value}) == set()
    assert matching(ws, {"field": "first_name", "op": "contains", "value": value}) == set()
    assert len(matching(ws, {"field": "first_name", "op": "ne", "value": value})) == 12


def test_nul_in_text_is_a_rule_error(ws: Workspace) -> None:
    with pytest.raises(RuleError, match="NUL"):
        matching(ws, {"field": "first_name", "op": "eq", "value": "a\x00b"})


@pytest.mark.parametrize("field", ["email; DROP TABLE customers", "email\" OR 1=1 --",
                                   "customers.email' --", "store.region) OR (1=1"])
def test_field_names_are_checked_never_quoted_through(ws: Workspace, field: str) -> None:
    with pytest.raises(RuleError, match="unknown"):
        matching(ws, {"field": field, "op": "eq", "value": "x"})
