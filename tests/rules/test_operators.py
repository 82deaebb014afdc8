"""Every operator of spec §3 on the field types it applies to.

Each expectation is a Python predicate over `ROWS`: a positive predicate is false
when the field is NULL (unknown), and every negation is `not positive`, which is the
spec's `pred IS NOT TRUE`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from overture.definition import yamlio
from support.workspace import ROWS, ids

from .helpers import ALL_IDS, CUSTOMERS, Match, matching


def has(field: str, test: Any) -> Any:
    """A positive predicate: unknown (False) when the field is NULL."""
    return lambda r: r[field] is not None and test(r[field])


def lacks(field: str, test: Any) -> Any:
    """The exact complement of `has`: false or unknown."""
    positive = has(field, test)
    return lambda r: not positive(r)


CASES = [
    # eq / ne, on text, numbers, dates, booleans
    ("country eq FR", {"field": "country", "op": "eq", "value": "FR"},
     has("country", lambda v: v == "FR")),
    ("country ne FR keeps NULL country", {"field": "country", "op": "ne", "value": "FR"},
     lacks("country", lambda v: v == "FR")),
    ("eq is case-sensitive", {"field": "email", "op": "eq", "value": "ana@example.com"},
     has("email", lambda v: v == "ana@example.com")),
    ("eq lower-case code matches nothing", {"field": "country", "op": "eq", "value": "fr"},
     lambda r: False),
    ("age eq 34", {"field": "age", "op": "eq", "value": 34}, has("age", lambda v: v == 34)),
    ("age ne 34 keeps NULL age", {"field": "age", "op": "ne", "value": 34},
     lacks("age", lambda v: v == 34)),
    ("age eq 34.0 (float on an integer column)", {"field": "age", "op": "eq", "value": 34.0},
     has("age", lambda v: v == 34)),
    ("signup_date eq a date string", {"field": "signup_date", "op": "eq", "value": "2020-01-05"},
     has("signup_date", lambda v: v == date(2020, 1, 5))),
    ("email_optin eq true", {"field": "email_optin", "op": "eq", "value": True},
     has("email_optin", lambda v: v is True)),
    ("email_optin eq false", {"field": "email_optin", "op": "eq", "value": False},
     has("email_optin", lambda v: v is False)),
    ("email_optin ne true keeps false and NULL", {"field": "email_optin", "op": "ne",
                                                 "value": True},
     lacks("email_optin", lambda v: v is True)),
    # ordering
    ("age gt 34", {"field": "age", "op": "gt", "value": 34}, has("age", lambda v: v > 34)),
    ("age gte 34", {"field": "age", "op": "gte", "value": 34}, has("age", lambda v: v >= 34)),
    ("age lt 34", {"field": "age", "op": "lt", "value": 34}, has("age", lambda v: v < 34)),
    ("age lte 34", {"field": "age", "op": "lte", "value": 34}, has("age", lambda v: v <= 34)),
    ("age gt 29.5", {"field": "age", "op": "gt", "value": 29.5},
     has("age", lambda v: v > 29.5)),
    ("signup_date gt", {"field": "signup_date", "op": "gt", "value": "2024-09-02"},
     has("signup_date", lambda v: v > date(2024, 9, 2))),
    ("signup_date gte", {"field": "signup_date", "op": "gte", "value": "2024-09-02"},
     has("signup_date", lambda v: v >= date(2024, 9, 2))),
    ("signup_date lt", {"field": "signup_date", "op": "lt", "value": "2019-11-30"},
     has("signup_date", lambda v: v < date(2019, 11, 30))),
    ("signup_date lte", {"field": "signup_date", "op": "lte", "value": "2019-11-30"},
     has("signup_date", lambda v: v <= date(2019, 11, 30))),
    ("first_name gt F (code-point order)", {"field": "first_name", "op": "gt", "value": "F"},
     has("first_name", lambda v: v > "F")),
    # between: inclusive at both ends
    ("age between [30, 45]", {"field": "age", "op": "between", "value": [30, 45]},
     has("age", lambda v: 30 <= v <= 45)),
    ("signup_date between, inclusive", {"field": "signup_date", "op": "between",
                                        "value": ["2020-01-05", "2021-03-09"]},
     has("signup_date", lambda v: date(2020, 1, 5) <= v <= date(2021, 3, 9))),
    ("between with low > high is empty", {"field": "age", "op": "between", "value": [45, 30]},
     lambda r: False),
    # in / not_in
    ("country in [FR, ES]", {"field": "country", "op": "in", "value": ["FR", "ES"]},
     has("country", lambda v: v in ("FR", "ES"))),
    ("country not_in [FR, ES] keeps NULL", {"field": "country", "op": "not_in",
                                            "value": ["FR", "ES"]},
     lacks("country", lambda v: v in ("FR", "ES"))),
    ("age in [34, 61, 99]", {"field": "age", "op": "in", "value": [34, 61, 99]},
     has("age", lambda v: v in (34, 61, 99))),
    ("age not_in keeps NULL age", {"field": "age", "op": "not_in", "value": [34, 61]},
     lacks("age", lambda v: v in (34, 61))),
    ("signup_date in", {"field": "signup_date", "op": "in",
                        "value": ["2020-01-05", "2026-02-28"]},
     has("signup_date", lambda v: v in (date(2020, 1, 5), date(2026, 2, 28)))),
    # is_empty / is_not_empty: NULL or ''
    ("email is_empty = NULL or ''", {"field": "email", "op": "is_empty"},
     lambda r: r["email"] is None or r["email"] == ""),
    ("email is_not_empty", {"field": "email", "op": "is_not_empty"},
     lambda r: r["email"] is not None and r["email"] != ""),
    ("country is_empty", {"field": "country", "op": "is_empty"},
     lambda r: r["country"] in (None, "")),
    ("age is_empty (numbers: NULL)", {"field": "age", "op": "is_empty"},
     lambda r: r["age"] is None),
    ("age is_not_empty", {"field": "age", "op": "is_not_empty"},
     lambda r: r["age"] is not None),
    ("email_optin is_empty", {"field": "email_optin", "op": "is_empty"},
     lambda r: r["email_optin"] is None),
    ("store_id is_empty", {"field": "store_id", "op": "is_empty"},
     lambda r: r["store_id"] is None),
    # starts_with / contains: literal, case-sensitive
    ("email starts_with ben", {"field": "email", "op": "starts_with", "value": "ben"},
     has("email", lambda v: v.startswith("ben"))),
    ("email starts_with is case-sensitive", {"field": "email", "op": "starts_with",
                                             "value": "ANA"},
     has("email", lambda v: v.startswith("ANA"))),
    ("email not_starts_with ben keeps NULL", {"field": "email", "op": "not_starts_with",
                                              "value": "ben"},
     lacks("email", lambda v: v.startswith("ben"))),
    ("starts_with '_' is literal", {"field": "email", "op": "starts_with", "value": "_im"},
     lambda r: False),
    ("starts_with 'kim_' is literal", {"field": "email", "op": "starts_with", "value": "kim_"},
     has("email", lambda v: v.startswith("kim_"))),
    ("starts_with '%' is literal", {"field": "email", "op": "starts_with", "value": "%"},
     lambda r: False),
    ("email contains example.com", {"field": "email", "op": "contains", "value": "example.com"},
     has("email", lambda v: "example.com" in v)),
    ("contains is case-sensitive", {"field": "email", "op": "contains", "value": "ANA"},
     has("email", lambda v: "ANA" in v)),
    ("contains 100% (Kim)", {"field": "email", "op": "contains", "value": "100%"},
     has("email", lambda v: "100%" in v)),
    ("contains '%@' is literal", {"field": "email", "op": "contains", "value": "%@"},
     has("email", lambda v: "%@" in v)),
    ("contains 'n_@' is literal (no wildcard)", {"field": "email", "op": "contains",
                                                 "value": "n_@"},
     lambda r: False),
    ("contains '_' is literal", {"field": "email", "op": "contains", "value": "_"},
     has("email", lambda v: "_" in v)),
    ("email not_contains '%' keeps NULL", {"field": "email", "op": "not_contains",
                                           "value": "%"},
     lacks("email", lambda v: "%" in v)),
    ("contains '' holds for every non-NULL", {"field": "email", "op": "contains", "value": ""},
     lambda r: r["email"] is not None),
    # like / not_like: SQL wildcards, case-sensitive
    ("like '%@example.com'", {"field": "email", "op": "like", "value": "%@example.com"},
     has("email", lambda v: v.endswith("@example.com"))),
    ("like '_en@%'", {"field": "email", "op": "like", "value": "_en@%"},
     has("email", lambda v: re.fullmatch(r".en@.*", v, re.S) is not None)),
    ("like is case-sensitive", {"field": "email", "op": "like", "value": "ANA%"},
     has("email", lambda v: v.startswith("ANA"))),
    ("like without wildcards is equality", {"field": "email", "op": "like", "value": ""},
     has("email", lambda v: v == "")),
    ("not_like keeps NULL", {"field": "email", "op": "not_like", "value": "%@example.com"},
     lacks("email", lambda v: v.endswith("@example.com"))),
    ("like on first_name with both wildcards", {"field": "first_name", "op": "like",
                                                "value": "_o%"},
     has("first_name", lambda v: len(v) >= 2 and v[1] == "o")),
]


@pytest.mark.parametrize(("rule", "expected"), [pytest.param(rule, pred, id=name)
                                                for name, rule, pred in CASES])
def test_operator(match: Match, rule: dict[str, Any], expected: Any) -> None:
    assert match(rule) == ids(CUSTOMERS, expected)


def test_cases_are_not_trivial() -> None:
    """Most cases select some rows but not all: a broken operator cannot pass by accident."""
    sizes = [len(ids(CUSTOMERS, pred)) for _, _, pred in CASES]
    assert sum(0 < n < len(ALL_IDS) for n in sizes) >= len(CASES) - 5


@pytest.mark.parametrize("op", ["ne", "not_in", "not_contains", "not_starts_with", "not_like"])
def test_negations_are_exact_complements(match: Match, op: str) -> None:
    """positive + negation = every row, never both, NULLs on the negative side."""
    positive = op.removeprefix("not_") if op != "ne" else "eq"
    value: Any = ["FR"] if op == "not_in" else "FR"
    field = "country"
    pos = match({"field": field, "op": positive, "value": value})
    neg = match({"field": field, "op": op, "value": value})
    assert pos | neg == ALL_IDS
    assert not pos & neg
    null_country = ids(CUSTOMERS, lambda r: r["country"] is None)
    assert null_country and null_country <= neg


def test_numbers_on_another_dimension(ws: Any) -> None:
    """Floats compare as numbers: products priced between 5 and 35 (inclusive)."""
    got = matching(ws, {"field": "price", "op": "between", "value": [5, 35]}, "products")
    assert got == {p["product_id"] for p in ROWS["products"] if 5 <= p["price"] <= 35}
    got = matching(ws, {"field": "price", "op": "gt", "value": 34.99}, "products")
    assert got == {p["product_id"] for p in ROWS["products"] if p["price"] > 34.99}


@pytest.mark.parametrize("text", [
    "{field: signup_date, op: gte, value: 2024-01-01}",
    "{field: signup_date, op: eq, value: 2020-01-05}",
    "{field: signup_date, op: between, value: [2020-01-05, 2021-03-09]}",
    "{field: signup_date, op: in, value: [2020-01-05, 2026-02-28]}",
    "{field: signup_date, op: lt, value: '2019-11-30'}",
])
def test_yaml_dates_and_date_strings(ws: Any, text: str) -> None:
    """A YAML date (unquoted, parsed as a date) works like the same date as a string."""
    rule = yamlio.load(text)
    value = rule["value"]
    as_text = [str(v) for v in value] if isinstance(value, list) else str(value)
    expected = matching(ws, {**rule, "value": as_text})
    assert matching(ws, rule) == expected
    # and independently, with SQL written here
    sql_value = (f"BETWEEN DATE '{as_text[0]}' AND DATE '{as_text[1]}'" if rule["op"] == "between"
                 else "IN (" + ", ".join(f"DATE '{v}'" for v in as_text) + ")"
                 if rule["op"] == "in"
                 else {"gte": ">=", "eq": "=", "lt": "<"}[rule["op"]] + f" DATE '{as_text}'")
    from .helpers import sql_ids
    assert expected == sql_ids(ws, f"SELECT customer_id FROM customers WHERE signup_date "
                                   f"{sql_value}")


def test_yaml_datetime_on_a_timestamp(ws: Any) -> None:
    """A YAML date-time on a timestamp field; purchases table as the dimension."""
    rule = yamlio.load("{field: purchased_at, op: gte, value: 2027-02-20 10:00:00}")
    got = matching(ws, rule, "purchases")
    assert got == {p["purchase_id"] for p in ROWS["purchases"]
                   if p["purchased_at"] >= ROWS["purchases"][0]["purchased_at"]}


# ---------------------------------------------------------------- a profile of NULLs
NOBODY = {"customer_id": 13, "first_name": None, "email": None, "country": None,
          "loyalty_tier": None, "age": None, "signup_date": None, "store_id": None,
          "email_optin": None, "phone": None, "sms_optin": None, "timezone": None}
EMPTY = {**NOBODY, "customer_id": 14, "first_name": "", "email": "", "country": "",
         "loyalty_tier": "", "phone": ""}

POSITIVE_LEAVES = [
    {"field": "country", "op": "eq", "value": "FR"},
    {"field": "age", "op": "gt", "value": 0},
    {"field": "age", "op": "lte", "value": 200},
    {"field": "age", "op": "between", "value": [0, 200]},
    {"field": "age", "op": "in", "value": [34, 45]},
    {"field": "signup_date", "op": "gte", "value": "1900-01-01"},
    {"field": "signup_date", "op": "in_last", "value": "36500 days"},
    {"field": "email", "op": "starts_with", "value": ""},
    {"field": "email", "op": "contains", "value": ""},
    {"field": "email", "op": "like", "value": "%"},
    {"field": "email_optin", "op": "eq", "value": False},
    {"field": "store.region", "op": "in", "value": ["north", "south"]},
]
NEGATED = {"eq": "ne", "in": "not_in", "starts_with": "not_starts_with",
           "contains": "not_contains", "like": "not_like", "in_last": "not_in_last"}


@pytest.fixture(scope="module")
def nulls_ws(tmp_path_factory: pytest.TempPathFactory,
             data_urls: Callable[[], str | None]) -> Iterator[Any]:
    from support.workspace import make_workspace

    from .helpers import rows_with

    ws = make_workspace(tmp_path_factory.mktemp("nulls") / "ws", data_url=data_urls(),
                        rows=rows_with(customers=[NOBODY, EMPTY]))
    yield ws
    ws.close()


@pytest.mark.parametrize("rule", POSITIVE_LEAVES, ids=lambda r: f"{r['field']} {r['op']}")
def test_unknown_is_never_true_and_its_negations_keep_it(nulls_ws: Any,
                                                         rule: dict[str, Any]) -> None:
    """A profile of NULLs: the positive predicate drops it, `not:` and the negative op keep it."""
    assert 13 not in matching(nulls_ws, rule)
    assert 13 in matching(nulls_ws, {"not": rule})
    if rule["op"] in NEGATED:
        assert 13 in matching(nulls_ws, {**rule, "op": NEGATED[rule["op"]]})
    assert 13 not in matching(nulls_ws, {"not": {"not": rule}})


def test_empty_text_is_empty_and_known(nulls_ws: Any) -> None:
    """'' is empty like NULL, but it is a value: `contains ''` holds for it, not for NULL."""
    assert {13, 14} <= matching(nulls_ws, {"field": "email", "op": "is_empty"})
    assert not {13, 14} & matching(nulls_ws, {"field": "email", "op": "is_not_empty"})
    assert matching(nulls_ws, {"field": "country", "op": "is_empty"}) == \
        ids([*CUSTOMERS, NOBODY, EMPTY], lambda r: r["country"] in (None, ""))
    got = matching(nulls_ws, {"field": "email", "op": "contains", "value": ""})
    assert 14 in got and 13 not in got
    got = matching(nulls_ws, {"field": "country", "op": "ne", "value": ""})
    assert 13 in got and 14 not in got


def test_every_row_is_in_exactly_one_of_a_rule_and_its_not(nulls_ws: Any) -> None:
    every = ALL_IDS | {13, 14}
    for rule in POSITIVE_LEAVES:
        yes = matching(nulls_ws, rule)
        no = matching(nulls_ws, {"not": rule})
        assert yes | no == every and not yes & no, rule
