"""Malformed campaign documents: every problem reported at once, each at its exact path.

Spec §2 ("Validation gives errors, not exceptions"): unknown activity types, unknown
settings and fields, unknown links, type mismatches between a field and its value,
cycles, dangling inputs, wrong input counts and unknown ports are validation errors,
each with the activity id and the path of the offending setting.

Each case is a YAML document and the exact list of (path, message fragment) its
validation must give, no more, no less. Names are checked against the tiny retail
workspace of tests/support (customers, purchases, products, stores).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from overture.definition.campaign import DocumentError, parse_document, read_document
from overture.definition.errors import Problem
from overture.definition.validation import Environment, validate

from .conftest import check


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expected: list[tuple[str, str]]  # (exact path, fragment of the message)


def doc(activities: str, head: str = "name: t\n") -> str:
    """A document with `head` and the activities given as YAML list items."""
    return f"{head}activities:\n{activities}"


AUD = "  - {id: a, type: build_audience}\n"

CASES = [
    # ---------------------------------------------------------------- structure
    Case("unknown activity type, close to a known one",
         doc("  - {id: a, type: build_audiance}\n"),
         [("a", "unknown activity type 'build_audiance'; did you mean 'build_audience'?")]),
    Case("unknown activity type, nothing close",
         doc("  - {id: a, type: teleport}\n"),
         [("a", "unknown activity type 'teleport': the types are build_audience, ")]),
    Case("activity type missing",
         doc("  - {id: a, rule: {field: country, op: eq, value: FR}}\n"),
         [("a.type", "the activity `type` is missing")]),
    Case("unknown setting",
         doc("  - {id: a, type: build_audience, colour: red}\n"),
         [("a.colour", "unknown setting")]),
    Case("unknown setting, close to a known one",
         doc("  - {id: a, type: build_audience, rulle: {field: country, op: eq, value: FR}}\n"),
         [("a.rulle", "unknown setting; did you mean 'rule'?")]),
    Case("unknown top-level setting, activities then missing",
         "name: t\nactvities:\n" + AUD,
         [("actvities", "unknown setting; did you mean 'activities'?"),
          ("activities", "required setting is missing")]),
    Case("missing required setting",
         doc("  - {id: a, type: read_audience}\n"),
         [("a.audience", "required setting is missing")]),
    Case("bad activity id syntax",
         doc("  - {id: Buyers-1, type: build_audience}\n"),
         [("Buyers-1.id", "'Buyers-1' must start with a lowercase letter and use only "
                          "lowercase letters, digits and _")]),
    Case("activity that is not a mapping",
         doc("  - build_audience\n"),
         [("activities[0]", "must be a mapping (setting: value)")]),
    Case("no activities",
         "name: t\nactivities: []\n",
         [("activities", "must list at least 1 item")]),
    Case("inputs written as a string",
         doc(AUD + "  - {id: b, type: deduplicate, inputs: a, keys: [email]}\n"),
         [("b.inputs", "must be a list")]),
    Case("bad campaign name",
         "name: Spring Sale!\nactivities:\n" + AUD,
         [("name", "'Spring Sale!' must start with a lowercase letter or a digit")]),
    Case("unknown time zone",
         "name: t\ntimezone: Europe/Pariss\nactivities:\n" + AUD,
         [("timezone", "'Europe/Pariss' is not an IANA time zone; did you mean 'Europe/Paris'?")]),
    Case("time zone that is nothing like one",
         "name: t\ntimezone: Paris time\nactivities:\n" + AUD,
         [("timezone", "'Paris time' is not an IANA time zone such as Europe/Paris")]),
    Case("a time zone that is a folder of zones",
         "name: t\ntimezone: Europe\nactivities:\n" + AUD,
         [("timezone", "'Europe' is not an IANA time zone")]),
    Case("variable of an unknown type",
         "name: t\nvariables: {coupon: {type: text}}\nactivities:\n" + AUD,
         [("variables.coupon.type", "'text' is not allowed here: use string, integer, "
                                    "number, boolean, date or datetime")]),
    Case("error policy out of its choices",
         "name: t\nerror_policy: {on_error: retry, max_consecutive: 0}\nactivities:\n" + AUD,
         [("error_policy.on_error", "'retry' is not allowed here: use suspend, ignore or abort"),
          ("error_policy.max_consecutive", "must be at least 1")]),
    Case("a setting's own rule: exclusion needs a primary",
         doc(AUD + "  - {id: b, type: build_audience}\n"
             "  - {id: c, type: combine, operation: exclusion, inputs: [a, b]}\n"),
         [("c", "exclusion needs `primary`, one of the inputs")]),
    Case("email without a subject",
         doc(AUD + "  - {id: m, type: email, inputs: [a], html: '<p>hi</p>'}\n"),
         [("m", "email needs `subject`")]),
    Case("bad duration in a wait",
         doc(AUD + "  - {id: w, type: wait, inputs: [a], duration: 3 fortnights}\n"),
         [("w.duration", "'3 fortnights' is not a duration such as '30 days' or '12 hours'")]),
    Case("wait until something that is not a date-time",
         doc(AUD + "  - {id: w, type: wait, inputs: [a], until: next monday}\n"),
         [("w.until", "'next monday' is not a date-time such as 2027-03-01T09:00")]),
    Case("deduplicate keep method without its setting, negative keep_count",
         doc(AUD + "  - {id: d, type: deduplicate, inputs: [a], keys: [email], "
             "keep_count: -1, keep: {method: priority, by: loyalty_tier}}\n"),
         [("d.keep_count", "must be at least 0"),
          ("d.keep", "keep method priority needs `values`")]),
    # ---------------------------------------------------------------- split settings
    Case("split percent out of range (the example of spec §2)",
         doc(AUD + """\
  - id: tiers
    type: split
    inputs: [a]
    subsets:
      - {id: vip, rule: {field: loyalty_tier, op: eq, value: gold}}
      - {id: sample, limit: {percent: 110}}
"""),
         [("tiers.subsets[1].limit.percent", "must be between 0 and 100")]),
    Case("split limit with both count and percent, and a fractional count",
         doc(AUD + """\
  - id: tiers
    type: split
    inputs: [a]
    subsets:
      - {id: vip, limit: {count: 3, percent: 10}}
      - {id: few, limit: {count: 1.5}}
"""),
         [("tiers.subsets[0].limit", "give exactly one of count or percent"),
          ("tiers.subsets[1].limit.count", "must be a whole number")]),
    Case("reserved port names as subset ids",
         doc(AUD + """\
  - id: tiers
    type: split
    inputs: [a]
    subsets: [{id: complement}, {id: out}, {id: default}]
"""),
         [("tiers.subsets[0].id", "'complement' is a reserved port name"),
          ("tiers.subsets[1].id", "'out' is a reserved port name"),
          ("tiers.subsets[2].id", "'default' is a reserved port name")]),
    Case("subset id used twice",
         doc(AUD + "  - {id: tiers, type: split, inputs: [a], subsets: [{id: x}, {id: x}]}\n"),
         [("tiers.subsets", "subset id 'x' is used twice")]),
    Case("fork branches: reserved name",
         doc(AUD + "  - {id: f, type: fork, inputs: [a], branches: [now, rejects]}\n"),
         [("f.branches", "'rejects' is a reserved port name")]),
    Case("test condition named default",
         doc(AUD + "  - {id: t, type: test, inputs: [a], "
             "conditions: [{id: default, count: {op: gt, value: 0}}]}\n"),
         [("t.conditions", "'default' is a reserved port name")]),
    # ---------------------------------------------------------------- graph
    Case("duplicate activity ids",
         doc(AUD + AUD),
         [("a", "activity id is used twice")]),
    Case("dangling input: unknown activity",
         doc(AUD + "  - {id: b, type: deduplicate, inputs: [buyers], keys: [email]}\n"),
         [("b.inputs[0]", "unknown activity 'buyers'")]),
    Case("unknown port",
         doc(AUD + "  - {id: b, type: deduplicate, inputs: [a.vip], keys: [email]}\n"),
         [("b.inputs[0]", "unknown port 'vip' of 'a' (ports: out)")]),
    Case("complement port that is not switched on",
         doc(AUD + "  - {id: d, type: deduplicate, inputs: [a], keys: [email]}\n"
             "  - {id: e, type: end, inputs: [d.complement]}\n"),
         [("e.inputs[0]", "unknown port 'complement' of 'd' (ports: out)")]),
    Case("bare input of a split, which has no out port",
         doc(AUD + "  - {id: s, type: split, inputs: [a], subsets: [{id: vip}], complement: true}\n"
             "  - {id: e, type: end, inputs: [s]}\n"),
         [("e.inputs[0]", "'s' has no port 'out': name one of s.vip, s.complement")]),
    Case("input that is not ACTIVITY or ACTIVITY.PORT",
         doc(AUD + "  - {id: e, type: end, inputs: [a.out.x]}\n"),
         [("e.inputs", "'a.out.x' is not ACTIVITY or ACTIVITY.PORT")]),
    Case("same input listed twice",
         doc(AUD + "  - {id: e, type: combine, operation: union, inputs: [a, a.out]}\n"),
         [("e.inputs[1]", "input a.out is listed twice")]),
    Case("wrong input counts",
         doc(AUD + "  - {id: b, type: build_audience, inputs: [a]}\n"
             "  - {id: c, type: build_audience}\n"
             "  - {id: d, type: deduplicate, inputs: [a, c], keys: [email]}\n"
             "  - {id: e, type: combine, operation: union, inputs: [a]}\n"
             "  - {id: f, type: deduplicate, keys: [email]}\n"
             "  - {id: g, type: and_join, inputs: [c]}\n"),
         [("b.inputs", "build_audience takes no inputs: it is a source"),
          ("d.inputs", "deduplicate takes exactly 1 input, got 2"),
          ("e.inputs", "combine takes at least 2 inputs, got 1"),
          ("f.inputs", "deduplicate takes exactly 1 input, got 0"),
          ("g.inputs", "and_join takes at least 2 inputs, got 1")]),
    Case("cycle: the path names the cycle",
         doc(AUD + """\
  - {id: b, type: deduplicate, inputs: [d], keys: [email]}
  - {id: c, type: deduplicate, inputs: [b], keys: [email]}
  - {id: d, type: combine, operation: union, inputs: [a, c]}
"""),
         [("c.inputs", "the graph has a cycle: b <- d <- c <- b")]),
    Case("an activity reading itself",
         doc("  - {id: a, type: deduplicate, inputs: [a], keys: [email]}\n"),
         [("a.inputs", "the graph has a cycle: a <- a")]),
    # ---------------------------------------------------------------- rules: structure
    Case("unknown operator",
         doc("  - {id: a, type: build_audience, rule: {field: age, op: gtt, value: 3}}\n"),
         [("a.rule.op", "'gtt' is not allowed here; did you mean 'gt'?")]),
    Case("unknown field in a condition's own settings (path without rule tags)",
         doc("  - id: a\n    type: build_audience\n    rule:\n      not:\n        any:\n"
             "          - {field: age, op: gt, value: 3, unit: years}\n"
             "          - {all: [{field: age, op: lt, value: 9}], weight: 2}\n"),
         [("a.rule.not.any[0].unit", "unknown setting"),
          ("a.rule.not.any[1].weight", "unknown setting")]),
    Case("a rule of no known kind",
         doc("  - {id: a, type: build_audience, rule: {feld: country, op: eq, value: FR}}\n"),
         [("a.rule", "a rule must be a mapping with one of: all, any, not, field, exists, "
                     "aggregate, engagement, in_audience, filter (unknown key 'feld'; "
                     "did you mean 'field'?)")]),
    Case("a value that is a mapping",
         doc("  - {id: a, type: build_audience, rule: {field: country, op: eq, "
             "value: {code: FR}}}\n"),
         [("a.rule.value", "must be text, a number, true/false or a list")]),
    Case("aggregate function that does not exist",
         doc("  - {id: a, type: build_audience, rule: {aggregate: {link: purchases, "
             "fn: median, field: amount}, op: gt, value: 1}}\n"),
         [("a.rule.aggregate.fn", "'median' is not allowed here: use count, sum, avg, min, max "
                                  "or count_distinct")]),
    # ---------------------------------------------------------------- names and types
    Case("unknown field in a rule",
         doc("  - {id: a, type: build_audience, rule: {field: colour, op: eq, value: red}}\n"),
         [("a.rule.field", "unknown field 'colour' of 'customers'")]),
    Case("unknown field through a one-link",
         doc("  - {id: a, type: build_audience, rule: {field: store.colour, op: eq, "
             "value: red}}\n"),
         [("a.rule.field", "unknown field 'colour' of 'stores' (in 'store.colour')")]),
    Case("field through a many-link",
         doc("  - {id: a, type: build_audience, rule: {field: purchases.amount, op: gt, "
             "value: 1}}\n"),
         [("a.rule.field", "link 'purchases' of 'customers' leads to many rows: use exists "
                           "or aggregate")]),
    Case("unknown link",
         doc("  - {id: a, type: build_audience, rule: {exists: {link: orders}}}\n"),
         [("a.rule.exists.link", "unknown link 'orders' of 'customers' (links: purchases, "
                                 "store)")]),
    Case("exists on a one-link",
         doc("  - {id: a, type: build_audience, rule: {exists: {link: store}}}\n"),
         [("a.rule.exists.link", "link 'store' of 'customers' is one-to-one: compare its "
                                 "fields as store.FIELD")]),
    Case("unknown field inside exists.where is a field of the linked table",
         doc("  - {id: a, type: build_audience, rule: {exists: {link: purchases, "
             "where: {field: country, op: eq, value: FR}}}}\n"),
         [("a.rule.exists.where.field", "unknown field 'country' of 'purchases'")]),
    Case("aggregate sum of text, and sum without a field",
         doc("  - id: a\n    type: build_audience\n    rule:\n      all:\n"
             "        - {aggregate: {link: store, fn: count}, op: gt, value: 0}\n"
             "        - {aggregate: {link: purchases, fn: sum}, op: gt, value: 0}\n"
             "  - id: b\n    type: build_audience\n    rule:\n"
             "      {aggregate: {link: purchases, fn: avg, field: purchased_at}, op: gt, "
             "value: 0}\n"),
         [("a.rule.all[0].aggregate.link", "is one-to-one"),
          ("a.rule.all[1].aggregate.field", "sum needs `field`: a column of 'purchases'"),
          ("b.rule.aggregate.fn", "avg needs a number; 'purchased_at' is timestamp")]),
    Case("type mismatches between a field and its value",
         doc("""\
  - id: a
    type: build_audience
    rule:
      all:
        - {field: age, op: eq, value: "40"}
        - {field: country, op: eq, value: 33}
        - {field: age, op: contains, value: 4}
        - {field: age, op: between, value: [1, 2, 3]}
        - {field: country, op: in, value: FR}
        - {field: email, op: is_empty, value: ""}
        - {field: country, op: eq, value: [FR, ES]}
        - {field: country, op: in_last, value: 3 days}
        - {field: email_optin, op: eq, value: "yes"}
        - {field: signup_date, op: gt, value: last spring}
        - {field: age, op: gt}
"""),
         [("a.rule.all[0].value", "'40' is not a number, but the field is int64"),
          ("a.rule.all[1].value", "33 is not text, but the field is string"),
          ("a.rule.all[2].value", "contains works on text fields, not int64"),
          ("a.rule.all[3].value", "between takes [low, high]"),
          ("a.rule.all[4].value", "in takes a list of values"),
          ("a.rule.all[5].value", "is_empty takes no value"),
          ("a.rule.all[6].value", "eq takes one value, not a list"),
          ("a.rule.all[7].value", "in_last works on dates and date-times, not string"),
          ("a.rule.all[8].value", "'yes' is not true or false, but the field is boolean"),
          ("a.rule.all[9].value", "'last spring' is not a date-time such as 2027-03-01T09:00"),
          ("a.rule.all[10].value", "a value is required")]),
    Case("YAML's not-a-number and infinity as values",
         doc("  - {id: a, type: build_audience, rule: {any: [{field: age, op: gt, value: .nan},"
             " {field: age, op: between, value: [0, .inf]}]}}\n"),
         [("a.rule.any[0].value", "nan is not a number a rule can compare"),
          ("a.rule.any[1].value", "inf is not a number a rule can compare")]),
    Case("unknown variable",
         doc("  - {id: a, type: build_audience, rule: {field: country, op: eq, "
             "value: '${vars.nope}'}}\n"),
         [("a.rule.value", "unknown variable 'nope'")]),
    Case("bad duration in in_last",
         doc("  - {id: a, type: build_audience, rule: {field: signup_date, op: in_last, "
             "value: 3 fortnights}}\n"),
         [("a.rule.value", "'3 fortnights' is not a duration such as '30 days' or '12 hours'")]),
    Case("engagement: misspelt event, include_machine on sends",
         doc("  - {id: a, type: build_audience, rule: {any: [{engagement: {event: opend}}, "
             "{engagement: {event: sent, include_machine: true}}]}}\n"),
         [("a.rule.any[0].engagement.event", "'opend' is not an engagement event; did you "
                                             "mean 'opened'?"),
          ("a.rule.any[1].engagement.include_machine", "include_machine applies to opened "
                                                       "and clicked only")]),
    Case("engagement: bad duration in within",
         doc("  - {id: a, type: build_audience, rule: {engagement: {event: opened, "
             "within: 3 fortnights}}}\n"),
         [("a.rule.engagement.within", "'3 fortnights' is not a duration")]),
    Case("saved filter that is missing, and one naming an unknown field",
         doc("  - {id: a, type: build_audience, rule: {any: [{filter: nowhere}, "
             "{filter: broken}]}}\n"),
         [("a.rule.any[0].filter", "saved filter 'nowhere' not found"),
          ("a.rule.any[1].filter(broken).field", "unknown field 'colour' of 'customers'")]),
    Case("source target that schema.yaml does not declare",
         doc("  - {id: a, type: build_audience, target: shops}\n"),
         [("a.target", "table 'shops' is not declared in schema.yaml")]),
    Case("change_dimension with a link to another table",
         doc(AUD + "  - {id: b, type: change_dimension, inputs: [a], target: stores, "
             "link: purchases}\n"),
         [("b.target", "link 'purchases' leads to 'purchases', not 'stores'")]),
    Case("change_dimension through an unknown link",
         doc(AUD + "  - {id: b, type: change_dimension, inputs: [a], target: stores, "
             "link: shop}\n"),
         [("b.link", "unknown link 'shop' of 'customers'")]),
    Case("combine of different dimensions",
         doc(AUD + "  - {id: p, type: build_audience, target: purchases}\n"
             "  - {id: c, type: combine, operation: union, inputs: [a, p]}\n"),
         [("c.inputs", "inputs must hold the same dimension (found customers, purchases)")]),
    Case("channel not declared in schema.yaml",
         doc(AUD + "  - {id: p, type: push, inputs: [a], body: Hello}\n"),
         [("p.type", "'customers' declares no push channel in schema.yaml")]),
    Case("load_file with a missing file",
         doc("  - {id: f, type: load_file, path: no/such/file.csv}\n"),
         [("f.path", "file not found: ")]),
    Case("load_file of a folder",
         doc("  - {id: f, type: load_file, path: filters}\n"),
         [("f.path", "is a folder, not a file")]),
    Case("load_file declaring a column the file lacks",
         doc("  - {id: f, type: load_file, path: contacts.csv, columns: {age: int64}}\n"),
         [("f.columns.age", "the file has no column 'age' (columns: email, first_name, "
                            "points)")]),
    Case("reconcile fed by profiles instead of file rows",
         doc(AUD + "  - {id: r, type: reconcile, inputs: [a], match: {email: email}}\n"),
         [("r.inputs", "reconcile takes file rows (the output of load_file), not profiles")]),
    Case("reconcile matching columns that do not exist",
         doc("  - {id: f, type: load_file, path: contacts.csv}\n"
             "  - {id: r, type: reconcile, inputs: [f], match: {mail: email, points: score}}\n"),
         [("r.match.mail", "the file has no column 'mail'"),
          ("r.match.points", "unknown field 'score' of 'customers'")]),
    Case("file rows into an activity that needs profiles",
         doc("  - {id: f, type: load_file, path: contacts.csv}\n"
             "  - {id: d, type: deduplicate, inputs: [f], keys: [email]}\n"),
         [("d.inputs", "deduplicate needs profiles: reconcile the file rows first")]),
    Case("ambiguous field: in the work table and in the dimension",
         doc(AUD + """\
  - {id: e, type: enrich, inputs: [a], attributes: [first_name]}
  - id: s
    type: split
    inputs: [e]
    subsets: [{id: ana, rule: {field: first_name, op: eq, value: Ana}}]
"""),
         [("s.subsets[0].rule.field", "'first_name' is both a work-table column and a "
                                      "column of 'customers': write work.first_name or "
                                      "customers.first_name")]),
    Case("enrich: unknown attribute, a column added twice, unknown collect field",
         doc(AUD + """\
  - id: e
    type: enrich
    inputs: [a]
    attributes: [store.region, store.region, shoe_size]
    collect:
      - {name: last, link: purchases, fields: [price], sort: {by: when}}
"""),
         [("e.attributes[1]", "column 'store_region' already exists in the work table"),
          ("e.attributes[2]", "unknown field 'shoe_size' of 'customers'"),
          ("e.collect[0].fields[0]", "unknown field 'price' of 'purchases'"),
          ("e.collect[0].sort.by", "unknown field 'when' of 'purchases'")]),
    Case("deduplicate and split on unknown columns",
         doc(AUD + """\
  - {id: d, type: deduplicate, inputs: [a], keys: [mail], keep: {method: expression, by: age2}}
  - {id: s, type: split, inputs: [d], subsets: [{id: x, limit: {count: 1}, sort: {by: rank}}]}
"""),
         [("d.keys[0]", "unknown field 'mail' of 'customers'"),
          ("d.keep.by", "unknown field 'age2' of 'customers'"),
          ("s.subsets[0].sort.by", "unknown field 'rank' of 'customers'")]),
    Case("save_audience keeping a column the work table lacks",
         doc(AUD + "  - {id: s, type: save_audience, inputs: [a], audience: vips, "
             "attributes: [spent]}\n"),
         [("s.attributes[0]", "the work table has no column 'spent'")]),
    Case("incremental query on a field that is not a date",
         doc("  - {id: q, type: incremental_query, mode: date_field, field: age}\n"),
         [("q.field", "'age' is int64, not a date or date-time")]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_document(case: Case, env: Environment) -> None:
    result = check(case.text, env)
    got = [(p.path, p.message) for p in result.problems]
    assert not result.ok
    assert sorted(path for path, _ in got) == sorted(path for path, _ in case.expected), got
    unmatched = list(result.problems)
    for path, fragment in case.expected:
        match = next((p for p in unmatched if p.path == path and fragment in p.message), None)
        assert match is not None, f"no problem at {path!r} saying {fragment!r}: {got}"
        unmatched.remove(match)
    ids = _activity_ids(case.text)
    for problem in result.problems:
        assert isinstance(problem, Problem)
        head = re.split(r"[.\[]", problem.path, maxsplit=1)[0]
        if head in ids:
            assert problem.activity == head, problem
        # a message reads as a sentence: none of pydantic's own wording or class names
        assert "Input should" not in problem.message
        assert "validation error" not in problem.message.lower()
        assert str(problem) == f"{problem.path}: {problem.message}"


def _activity_ids(text: str) -> set[str]:
    raw = parse_document(text)
    items = raw.get("activities")
    if not isinstance(items, list):
        return set()
    return {i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)}


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)


# ---------------------------------------------------------------- every problem at once

SEVERAL = """\
name: Spring Sale
timezone: Mars/Olympus
colour: red
activities:
  - {id: buyers, type: build_audience, rule: {field: colour, op: eq, value: red}}
  - {id: dedup, type: deduplicate, inputs: [buyers], keys: [email], keep_count: -1}
  - {id: after_dedup, type: end, inputs: [dedup]}
  - id: tiers
    type: split
    inputs: [buyers]
    subsets: [{id: old, rule: {field: age, op: eq, value: old}}]
  - {id: both, type: combine, operation: union, inputs: [tiers.old]}
  - {id: orphan, type: deduplicate, inputs: [nobody], keys: [email]}
  - id: spend
    type: build_audience
    rule: {aggregate: {link: purchases, fn: sum}, op: gt, value: 1}
  - {id: mail, type: email, inputs: [tiers.old], subject: Hi, text: Hi}
  - {id: keys, type: deduplicate, inputs: [tiers.old], keys: [nope]}
  - {id: typo, type: deduplicat, inputs: [buyers], keys: [email]}
"""


def test_every_problem_of_a_document_is_reported_at_once(env: Environment) -> None:
    """Structure, graph and names are all checked: one run gives the whole list.

    Only what depends on a broken activity waits: `after_dedup` reads `dedup`, whose
    columns are unknown while `dedup` is broken.
    """
    result = check(SEVERAL, env)
    assert result.campaign is None
    got = {(p.path, p.activity) for p in result.problems}
    assert got == {
        ("name", None),
        ("timezone", None),
        ("colour", None),
        ("dedup.keep_count", "dedup"),
        ("typo", "typo"),
        ("both.inputs", "both"),
        ("orphan.inputs[0]", "orphan"),
        ("buyers.rule.field", "buyers"),
        ("tiers.subsets[0].rule.value", "tiers"),
        ("spend.rule.aggregate.field", "spend"),
        ("keys.keys[0]", "keys"),
    }, [str(p) for p in result.problems]
    assert len(result.problems) == len(got)
    # the graph layer does not blame the broken activity's readers for its absence
    assert not any("unknown activity 'dedup'" in p.message for p in result.problems)


def test_several_structural_problems_in_one_activity(env: Environment) -> None:
    result = check(doc("  - {id: a, type: split, inputs: [], subsets: [{id: out, limit: "
                       "{percent: 200}}], overlap: maybe, colour: red}\n"), env)
    assert sorted(p.path for p in result.problems) == [
        "a.colour", "a.overlap", "a.subsets[0].id", "a.subsets[0].limit.percent"]


def test_without_a_workspace_structure_and_graph_are_still_checked() -> None:
    text = doc(AUD + "  - {id: b, type: deduplicate, inputs: [zz], keys: [colour]}\n"
               "  - {id: c, type: split, inputs: [a], subsets: [{id: x, limit: {percent: 101}}]}\n")
    result = check(text, None)
    assert [str(p) for p in result.problems] == [
        "c.subsets[0].limit.percent: must be between 0 and 100",
        "b.inputs[0]: unknown activity 'zz'",
    ]


def test_a_problem_serialises_for_the_api() -> None:
    result = check(doc("  - {id: a, type: build_audience, colour: red}\n"), None)
    assert [p.to_dict() for p in result.problems] == [
        {"activity": "a", "path": "a.colour", "message": "unknown setting"}]


# ---------------------------------------------------------------- not even a document

@pytest.mark.parametrize(("text", "fragment"), [
    ("- a\n- b\n", "must be a mapping at the top level"),
    ("just a sentence\n", "must be a mapping at the top level"),
    ("", "the document is empty"),
    ("# only a comment\n", "the document is empty"),
    ("42\n", "must be a mapping at the top level"),
    ("name: t\nactivities: [\n", "not valid YAML (line 3, column 1)"),
    ("name: t\n  bad: indent\n", "not valid YAML"),
    ("name: t\nname: u\n", "(line 2, column 1): the key 'name' appears twice"),
    ("name: t\nactivities:\n  - {id: a, type: build_audience, rule: {}, rule: {}}\n",
     "the key 'rule' appears twice"),
    ("!!python/object:os.system {}\n", "not valid YAML"),
    ("a: *nowhere\n", "not valid YAML"),
    ("\t- tab\n", "not valid YAML"),
])
def test_text_that_is_not_a_campaign_document(text: str, fragment: str) -> None:
    with pytest.raises(DocumentError, match=re.escape(fragment)):
        parse_document(text, "campaign.yaml")


def test_json_that_is_not_json() -> None:
    with pytest.raises(DocumentError, match=r"campaign.json: not valid JSON \(line 1, column"):
        parse_document('{"name": "t",', "campaign.json")


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"\x00\x01\x02\x03", b""])
def test_files_that_are_not_documents(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "campaign.yaml"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=r"campaign\.yaml: "):
        read_document(path)


def test_a_directory_or_a_missing_file_is_not_a_document(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="is a directory"):
        read_document(tmp_path)
    with pytest.raises(DocumentError, match="no such file"):
        read_document(tmp_path / "nope.yaml")


def test_a_rule_nested_too_deeply_is_a_problem() -> None:
    rule: dict[str, object] = {"field": "age", "op": "gt", "value": 1}
    for _ in range(300):
        rule = {"not": rule}
    raw = {"name": "t", "activities": [{"id": "a", "type": "build_audience", "rule": rule}]}
    result = validate(raw, None)
    assert len(result.problems) == 1
    assert result.problems[0].path.startswith("a.rule.not.not.not")
    assert result.problems[0].message == "nested too deeply"


@pytest.mark.parametrize("raw", [None, [], ["name", "t"], "name: t", 3, {"activities": 3}])
def test_validate_never_raises_on_a_non_mapping(raw: object) -> None:
    result = validate(raw, None)  # type: ignore[arg-type]
    assert result.problems and result.campaign is None


def test_yaml_merge_keys_may_override() -> None:
    text = ("base: &base {type: build_audience, label: x}\n"
            "name: t\nactivities:\n  - {<<: *base, id: a, label: y}\n")
    raw = parse_document(text)
    assert raw["activities"][0] == {"type": "build_audience", "label": "y", "id": "a"}


def test_schema_yaml_problems_read_the_same_way() -> None:
    """errors.py also words the problems of schema.yaml (data/catalog.py)."""
    from pydantic import ValidationError

    from overture.data.catalog import Catalog
    from overture.definition.errors import format_pydantic_errors

    raw = {"lable": "x", "tables": {"customers": {"key": "id", "channels": {
        "whatsapp": {"address": "phone"}}, "links": {"s": {
            "table": "stores", "on": {"store_id": "store_id"}, "cardinality": "several"}}}}}
    with pytest.raises(ValidationError) as caught:
        Catalog.model_validate(raw)
    assert sorted(str(p) for p in format_pydantic_errors(caught.value)) == [
        "lable: unknown setting",  # no suggestion taken from the campaign's settings
        "tables.customers.channels.whatsapp: 'whatsapp' is not allowed here: use email, sms, "
        "push or direct_mail",
        "tables.customers.links.s.cardinality: 'several' is not allowed here: use one or many",
    ]
