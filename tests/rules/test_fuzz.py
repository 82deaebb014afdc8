"""Generated rules: random trees either run on the tiny workspace or fail cleanly
(pydantic.ValidationError when parsing, RuleError or ValueProblem when compiling),
and well-typed random trees select exactly what a three-valued Python evaluator of
spec §3 over `ROWS` selects."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from overture.data.workspace import Workspace
from overture.definition.rules import OPERATORS
from overture.rules.compiler import RULE_ADAPTER, RuleError
from overture.rules.values import ValueProblem
from support.workspace import CLOCK, ROWS

from .helpers import PARIS, matching

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

CUSTOMER_FIELDS = [*ROWS["customers"][0], "store.region", "store.name", "store.country",
                   "customers.country", "work.age"]
PURCHASE_FIELDS = ["amount", "purchased_at", "product_id", "product.category", "customer.country"]
VARIABLES = {"n": 30, "codes": ["FR", "ES"], "when": "2024-01-01", "window": "30 days",
             "flag": True, "none": None}


@pytest.fixture(scope="module")
def fuzz_filters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "filters"
    folder.mkdir()
    (folder / "french.yaml").write_text("{field: country, op: eq, value: FR}\n")
    (folder / "loop.yaml").write_text("not: {filter: loop}\n")
    (folder / "bad.yaml").write_text("{field: nope, op: eq, value: 1}\n")
    return folder


# ---------------------------------------------------------------- against an oracle
CUSTOMERS = ROWS["customers"]
STORES = {s["store_id"]: s for s in ROWS["stores"]}
TODAY = CLOCK.astimezone(PARIS).date()


def texts_of(field: str) -> list[str]:
    """Values, prefixes, middles and case changes of a text column, to get hits."""
    out = {""}
    for r in CUSTOMERS:
        v = r[field] if "." not in field else (STORES.get(r["store_id"]) or {}).get("region")
        if v:
            out |= {v, v[:2], v[1:4], v.upper(), v[-3:]}
    return sorted(out)


TEXT_FIELDS = ["first_name", "email", "country", "loyalty_tier", "phone", "store.region"]
like_patterns = st.lists(st.sampled_from(["%", "_", "a", "e", "n", "@", "example", ".com", "FR",
                                          "gold", "A", "o"]), max_size=4).map("".join)


def typed_leaf() -> st.SearchStrategy[dict[str, Any]]:
    text_leaf = st.sampled_from(TEXT_FIELDS).flatmap(lambda f: st.one_of(
        st.builds(lambda op, v: {"field": f, "op": op, "value": v},
                  st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "starts_with",
                                   "not_starts_with", "contains", "not_contains"]),
                  st.sampled_from(texts_of(f))),
        st.builds(lambda op, v: {"field": f, "op": op, "value": v},
                  st.sampled_from(["in", "not_in"]),
                  st.lists(st.sampled_from(texts_of(f)), min_size=1, max_size=3)),
        st.builds(lambda op, v: {"field": f, "op": op, "value": v},
                  st.sampled_from(["like", "not_like"]), like_patterns),
        st.builds(lambda op: {"field": f, "op": op}, st.sampled_from(["is_empty",
                                                                     "is_not_empty"])),
    ))
    ages = st.integers(min_value=15, max_value=70)
    number_leaf = st.one_of(
        st.builds(lambda op, v: {"field": "age", "op": op, "value": v},
                  st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
                  ages | st.floats(min_value=15, max_value=70)),
        st.builds(lambda op, v: {"field": "age", "op": op, "value": v},
                  st.sampled_from(["in", "not_in"]), st.lists(ages, min_size=1, max_size=4)),
        st.builds(lambda lo, hi: {"field": "age", "op": "between", "value": [lo, hi]},
                  ages, ages),
        st.builds(lambda op: {"field": "age", "op": op}, st.sampled_from(["is_empty",
                                                                         "is_not_empty"])),
    )
    days = st.dates(min_value=date(2017, 1, 1), max_value=date(2027, 3, 5))
    date_leaf = st.one_of(
        st.builds(lambda op, v: {"field": "signup_date", "op": op, "value": str(v)},
                  st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
                  days | st.sampled_from([r["signup_date"] for r in CUSTOMERS])),
        st.builds(lambda lo, hi: {"field": "signup_date", "op": "between",
                                  "value": [str(lo), str(hi)]}, days, days),
        st.builds(lambda op, n, unit: {"field": "signup_date", "op": op,
                                       "value": f"{n} {unit}"},
                  st.sampled_from(["in_last", "not_in_last"]),
                  st.integers(min_value=0, max_value=4000), st.sampled_from(["days", "weeks"])),
    )
    bool_leaf = st.builds(lambda f, op, v: {"field": f, "op": op, "value": v},
                          st.sampled_from(["email_optin", "sms_optin"]),
                          st.sampled_from(["eq", "ne"]), st.booleans())
    return st.one_of(text_leaf, number_leaf, date_leaf, bool_leaf)


# ---------------------------------------------------------------- anything goes
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.dates().map(str), st.datetimes().map(str),
    st.sampled_from(["FR", "gold", "ana@example.com", "", "%", "_", "x' OR '1'='1",
                     "30 days", "12 hours", "0 days", "1000000 days", "9999999999999 weeks",
                     "2027-03-01", "2027-03-01T09:00+01:00", "${vars.n}", "${vars.codes}",
                     "${vars.when}", "${vars.window}", "${vars.flag}", "${vars.none}",
                     "${vars.nope}", "a${vars.n}b", "${vars.", "${other.n}"]),
)
scalars = json_scalars | st.dates() | st.datetimes()  # YAML gives dates and date-times too
values = st.one_of(scalars, st.lists(scalars, max_size=4))


def conditions(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    field = st.one_of(st.sampled_from(fields), st.text(max_size=8))
    return st.fixed_dictionaries({"field": field, "op": st.sampled_from(OPERATORS)},
                                 optional={"value": values})


def trees(fields: list[str], depth: int) -> st.SearchStrategy[Any]:
    """Random trees; two leaves in three are well-typed, so that many trees run."""
    leaf = st.one_of(typed_leaf(), typed_leaf(), conditions(fields))
    if depth == 0:
        return leaf
    sub = trees(fields, depth - 1)
    where = st.none() | trees(PURCHASE_FIELDS, depth - 1)
    link = st.sampled_from(["purchases", "purchases", "store", "nope"])
    related_field = st.sampled_from(["amount", "amount", "purchased_at", "product_id", None,
                                     "product.category"]) | st.text(max_size=5)
    return st.one_of(
        leaf, leaf,
        st.builds(lambda xs: {"all": xs}, st.lists(sub, min_size=0, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(sub, min_size=0, max_size=3)),
        st.builds(lambda x: {"not": x}, sub),
        st.builds(lambda lk, w: {"exists": {"link": lk, **({"where": w} if w else {})}},
                  link, where),
        st.builds(lambda lk, fn, f, w, op, v: {
            "aggregate": {"link": lk, "fn": fn, **({"field": f} if f else {}),
                          **({"where": w} if w else {})}, "op": op, "value": v},
            link, st.sampled_from(["count", "sum", "avg", "min", "max", "count_distinct",
                                   "median"]),
            related_field, where, st.sampled_from(["eq", "gt", "lte", "between", "in",
                                                   "in_last", "ne", "is_empty"]),
            st.integers(-5, 300) | st.floats(-5, 300) | values),
        st.builds(lambda n: {"in_audience": n}, st.text(max_size=6)),
        st.builds(lambda n: {"filter": n},
                  st.sampled_from(["french", "loop", "bad", "missing", "../french", ""])
                  | st.text(max_size=6)),
        st.builds(lambda e: {"engagement": {"event": e}}, st.sampled_from(["opened", "read"])),
    )


json_like = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["all", "any", "not", "field", "op", "value", "exists", "link",
                         "where", "aggregate", "fn", "filter", "in_audience", "engagement",
                         "event", "x"]) | st.text(max_size=4), inner, max_size=4),
    max_leaves=12)


def run_or_fail_cleanly(ws: Workspace, raw: Any, filters: Path) -> None:
    try:
        rule = RULE_ADAPTER.validate_python(raw)
    except ValidationError:
        event("refused when parsing")
        return
    try:
        matching(ws, rule, variables=VARIABLES, filters_dir=filters)
    except (RuleError, ValueProblem) as exc:
        event(f"refused when compiling: {type(exc).__name__}")
        return
    event("ran")


@SETTINGS
@given(raw=trees(CUSTOMER_FIELDS, 3))
def test_generated_rule_trees_run_or_fail_cleanly(ws: Workspace, fuzz_filters: Path,
                                                  raw: Any) -> None:
    run_or_fail_cleanly(ws, raw, fuzz_filters)


@SETTINGS
@given(raw=json_like)
def test_garbage_fails_cleanly(ws: Workspace, fuzz_filters: Path, raw: Any) -> None:
    run_or_fail_cleanly(ws, raw, fuzz_filters)


typed_trees = st.recursive(
    typed_leaf(),
    lambda sub: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(sub, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(sub, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, sub)),
    max_leaves=6)


def like_regex(pattern: str) -> re.Pattern[str]:
    parts = {"%": ".*", "_": "."}
    return re.compile("".join(parts.get(c, re.escape(c)) for c in pattern), re.S)


def field_value(r: dict[str, Any], field: str) -> Any:
    if field == "store.region":
        store = STORES.get(r["store_id"])
        return store["region"] if store else None
    return r[field]


def typed(field: str, raw: Any) -> Any:
    return date.fromisoformat(raw) if field == "signup_date" else raw


def positive(r: dict[str, Any], op: str, field: str, raw: Any) -> bool | None:
    """Spec §3 in Python: None is unknown."""
    v = field_value(r, field)
    if op == "is_empty":
        return v is None or v == ""
    if op == "is_not_empty":
        return v is not None and v != ""
    if v is None:
        return None
    if op in ("in_last",):
        n, unit = raw.split()
        span = timedelta(days=int(n) * (7 if unit == "weeks" else 1))
        since = (CLOCK - span).astimezone(PARIS).date()
        return since <= v <= TODAY
    if op == "between":
        lo, hi = (typed(field, x) for x in raw)
        return lo <= v <= hi
    if op == "in":
        return v in [typed(field, x) for x in raw]
    value = typed(field, raw)
    return {
        "eq": lambda: v == value, "gt": lambda: v > value, "gte": lambda: v >= value,
        "lt": lambda: v < value, "lte": lambda: v <= value,
        "starts_with": lambda: v.startswith(value), "contains": lambda: value in v,
        "like": lambda: like_regex(value).fullmatch(v) is not None,
    }[op]()


NEGATIVE = {"ne": "eq", "not_in": "in", "not_starts_with": "starts_with",
            "not_contains": "contains", "not_like": "like", "not_in_last": "in_last"}


def evaluate(rule: dict[str, Any], r: dict[str, Any]) -> bool | None:
    if "all" in rule:
        vals = [evaluate(x, r) for x in rule["all"]]
        return False if False in vals else None if None in vals else True
    if "any" in rule:
        vals = [evaluate(x, r) for x in rule["any"]]
        return True if True in vals else None if None in vals else False
    if "not" in rule:
        return evaluate(rule["not"], r) is not True
    op = rule["op"]
    if op in NEGATIVE:
        return positive(r, NEGATIVE[op], rule["field"], rule.get("value")) is not True
    return positive(r, op, rule["field"], rule.get("value"))


@SETTINGS
@given(rule=typed_trees)
def test_generated_rules_match_a_python_evaluator(ws: Workspace, rule: dict[str, Any]) -> None:
    expected = {r["customer_id"] for r in CUSTOMERS if evaluate(rule, r) is True}
    assert matching(ws, rule) == expected


def test_the_evaluator_knows_the_spec() -> None:
    """The oracle itself, on hand-counted cases."""
    eve = CUSTOMERS[4]
    assert evaluate({"field": "age", "op": "gt", "value": 1}, eve) is None
    assert evaluate({"not": {"field": "age", "op": "gt", "value": 1}}, eve) is True
    assert evaluate({"field": "age", "op": "ne", "value": 1}, eve) is True
    assert evaluate({"field": "email", "op": "like", "value": "_ve@%"}, eve) is True
    assert evaluate({"field": "signup_date", "op": "in_last", "value": "67 days"},
                    CUSTOMERS[9]) is True
    assert evaluate({"field": "signup_date", "op": "in_last", "value": "66 days"},
                    CUSTOMERS[9]) is False
    assert date(2027, 3, 1) == TODAY
