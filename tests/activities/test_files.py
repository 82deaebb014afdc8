"""load_file (CSV and Parquet, rejects with line numbers and reasons) and reconcile."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.kit import Harness
from overture.definition.errors import InvalidDocument

# line 1 is the header; the comment after each line says what must become of it
MEMBERS_CSV = "\n".join([
    "email,age,joined,score",
    "a@x.com,34,2024-01-02,1.5",        # 2: good
    "b@x.com,notanumber,2024-01-02,2",  # 3: age is not an int64
    "c@x.com,40",                       # 4: ragged, 2 fields
    "d@x.com,41,2024-13-45,3",          # 5: joined is not a date
    "e@x.com,,2024-02-03,",             # 6: good, empty values are NULL
    "f@x.com,42,2024-02-03,4,extra",    # 7: ragged, 5 fields
    "g@x.com, 43 ,2024-02-04,5",        # 8: good, spaces around a number are fine
    "h@x.com,44,2024-02-05,lots",       # 9: score is not a float64
]) + "\n"
TYPES = "{age: int64, joined: date, score: float64}"


def _load(h: Harness, file: str, extra: str = "") -> dict:
    return h.run(f"""
        - id: members
          type: load_file
          path: {file}
          columns: {TYPES}
          {extra}
    """)


def test_csv_rows_are_typed_and_bad_rows_rejected_with_line_and_reason(fresh: Harness) -> None:
    (fresh.root / "members.csv").write_text(MEMBERS_CSV)
    result = _load(fresh, "members.csv")
    assert result["status"] == "done"
    assert result["activities"]["members"]["ports"] == {"out": 3, "rejects": 5}
    good = fresh.rows(result, "members", "out", order="_line")
    assert good == [
        {"_line": 2, "email": "a@x.com", "age": 34, "joined": date(2024, 1, 2), "score": 1.5},
        {"_line": 6, "email": "e@x.com", "age": None, "joined": date(2024, 2, 3),
         "score": None},
        {"_line": 8, "email": "g@x.com", "age": 43, "joined": date(2024, 2, 4), "score": 5.0},
    ]
    rejects = fresh.rows(result, "members", "rejects", order="_line")
    assert [(r["_line"], r["_reason"]) for r in rejects] == [
        (3, "column age: not a int64"),
        (4, "expected 4 fields, found 2"),
        (5, "column joined: not a date"),
        (7, "expected 4 fields, found 5"),
        (9, "column score: not a float64"),
    ]
    # a typed reject keeps the file's text as it was, to be fixed and loaded again
    assert rejects[0] == {"_line": 3, "_reason": "column age: not a int64",
                          "email": "b@x.com", "age": "notanumber",
                          "joined": "2024-01-02", "score": "2"}
    log = " ".join(fresh.logs(result, "members"))
    assert "5 rejected rows, first at line 3" in log


def test_on_error_fail_fails_the_activity_with_the_first_bad_line(fresh: Harness) -> None:
    (fresh.root / "members.csv").write_text(MEMBERS_CSV)
    result = _load(fresh, "members.csv", "on_error: fail")
    assert result["status"] == "failed"
    error = result["activities"]["members"]["error"]
    assert error == "5 rejected rows, first at line 3: column age: not a int64"


def test_on_error_fail_passes_a_clean_file(fresh: Harness) -> None:
    (fresh.root / "clean.csv").write_text("email,age,joined,score\nz@x.com,1,2020-01-01,0\n")
    result = _load(fresh, "clean.csv", "on_error: fail")
    assert result["activities"]["members"] == {"status": "done",
                                               "ports": {"out": 1, "rejects": 0}}


def test_columns_without_a_declared_type_stay_text(fresh: Harness) -> None:
    (fresh.root / "codes.csv").write_text("code,label\n007,x\n,y\n")
    result = fresh.run("""
        - {id: codes, type: load_file, path: codes.csv}
    """)
    assert fresh.rows(result, "codes", order="_line") == [
        {"_line": 2, "code": "007", "label": "x"}, {"_line": 3, "code": None, "label": "y"}]


def test_parquet_rows_are_numbered_from_one_and_typed(fresh: Harness) -> None:
    table = pa.table({"email": ["p@x.com", "q@x.com", "r@x.com"],
                      "age": ["31", "old", None],
                      "joined": [date(2024, 1, 1), date(2024, 1, 2), None]})
    pq.write_table(table, fresh.root / "members.parquet")
    result = fresh.run("""
        - id: members
          type: load_file
          path: members.parquet
          columns: {age: int64, joined: date}
    """)
    assert fresh.rows(result, "members", order="_line") == [
        {"_line": 1, "email": "p@x.com", "age": 31, "joined": date(2024, 1, 1)},
        {"_line": 3, "email": "r@x.com", "age": None, "joined": None},
    ]
    rejects = fresh.rows(result, "members", "rejects", order="_line")
    assert [(r["_line"], r["_reason"], r["age"]) for r in rejects] == [
        (2, "column age: not a int64", "old")]


def test_a_missing_file_is_a_validation_error(shared: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        shared.run("""
            - {id: members, type: load_file, path: nowhere.csv}
        """)
    problems = [str(p) for p in caught.value.problems]
    assert len(problems) == 1
    assert "members.path" in problems[0] and "file not found" in problems[0]
    assert "nowhere.csv" in problems[0]


def test_a_declared_column_the_file_lacks_is_a_validation_error(fresh: Harness) -> None:
    (fresh.root / "f.csv").write_text("email\na@x.com\n")
    with pytest.raises(InvalidDocument) as caught:
        fresh.run("""
            - {id: f, type: load_file, path: f.csv, columns: {age: int64}}
        """)
    assert any("f.columns.age" in str(p) for p in caught.value.problems)


# ---------------------------------------------------------------- reconcile
def _write(root: Path, name: str, lines: list[str]) -> None:
    (root / name).write_text("\n".join(lines) + "\n")


def test_reconcile_by_email_zero_one_several_and_repeated_lines(fresh: Harness) -> None:
    _write(fresh.root, "leads.csv", [
        "email,note",
        "ana@example.com,one",       # 2: customer 1 only
        "ben@example.com,several",   # 3: customers 2 and 7 share it: unmatched
        "nobody@example.com,zero",   # 4: no profile: unmatched
        "eve@example.com,first",     # 5: customer 5
        " eve@example.com ,second",  # 6: customer 5 again (trimmed): dropped, line 5 wins
        "lou@example.com,",          # 7: customer 12, empty note
    ])
    result = fresh.run("""
        - {id: leads, type: load_file, path: leads.csv}
        - {id: match, type: reconcile, inputs: [leads], match: {email: email},
           keep_unmatched: true}
    """)
    fresh.check(result, "match", "out", {1, 5, 12})
    assert [(r["customer_id"], r["note"]) for r in fresh.rows(result, "match")] == [
        (1, "one"), (5, "first"), (12, None)]
    unmatched = fresh.rows(result, "match", "unmatched", order="_line")
    assert [(r["_line"], r["email"]) for r in unmatched] == [
        (3, "ben@example.com"), (4, "nobody@example.com")]
    assert result["activities"]["match"]["ports"] == {"out": 3, "unmatched": 2}
    log = " ".join(fresh.logs(result, "match"))
    assert "2 file rows matched no profile or several (1 several), kept on port unmatched" in log
    assert "1 rows named a profile already matched" in log


def test_reconcile_by_id_typed_like_the_key(fresh: Harness) -> None:
    _write(fresh.root, "points.csv", [
        "ref,points",
        "3,10",      # 2: customer 3
        " 4 ,20",    # 3: customer 4 (trimmed, cast to int)
        "abc,30",    # 4: not a number: no match
        "99,40",     # 5: no such customer
        "3,50",      # 6: customer 3 again: dropped
    ])
    result = fresh.run("""
        - {id: points, type: load_file, path: points.csv, columns: {points: int64}}
        - {id: match, type: reconcile, inputs: [points], match: {ref: customer_id}}
    """)
    assert fresh.rows(result, "match") == [
        {"customer_id": 3, "ref": "3", "points": 10},
        {"customer_id": 4, "ref": " 4 ", "points": 20},
    ]
    # keep_unmatched is off: no unmatched port, the rows are dropped and counted in the log
    assert result["activities"]["match"]["ports"] == {"out": 2}
    log = " ".join(fresh.logs(result, "match"))
    assert "2 file rows matched no profile or several (0 several), dropped" in log


def test_reconcile_on_several_columns_needs_all_to_match(fresh: Harness) -> None:
    _write(fresh.root, "pairs.csv", [
        "email,country",
        "ben@example.com,ES",   # 2: customers 2 and 7, both ES: several
        "ana@example.com,ES",   # 3: customer 1 is FR: none
        "fay@example,IT",       # 4: customer 6
    ])
    result = fresh.run("""
        - {id: pairs, type: load_file, path: pairs.csv}
        - {id: match, type: reconcile, inputs: [pairs], keep_unmatched: true,
           match: {email: email, country: country}}
    """)
    fresh.check(result, "match", "out", {6})
    unmatched = fresh.rows(result, "match", "unmatched", order="_line")
    assert [r["_line"] for r in unmatched] == [2, 3]


def test_reconcile_output_feeds_targeting(fresh: Harness) -> None:
    _write(fresh.root, "ids.csv", ["customer_id", "1", "2", "4", "9"])
    result = fresh.run("""
        - {id: ids, type: load_file, path: ids.csv}
        - {id: match, type: reconcile, inputs: [ids], match: {customer_id: customer_id}}
        - {id: tiers, type: split, inputs: [match],
           subsets: [{id: gold, rule: {field: loyalty_tier, op: eq, value: gold}}],
           complement: true}
    """)
    fresh.check(result, "tiers", "gold", {1, 4, 9})
    fresh.check(result, "tiers", "complement", {2})


def test_reconcile_takes_file_rows_not_profiles(shared: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        shared.run("""
            - {id: all, type: build_audience}
            - {id: match, type: reconcile, inputs: [all], match: {email: email}}
        """)
    assert any("match.inputs" in str(p) and "load_file" in str(p)
               for p in caught.value.problems)


def test_line_numbers_count_blank_lines_and_values_spanning_lines(fresh: Harness) -> None:
    (fresh.root / "notes.csv").write_text(
        "email,age,note\n"          # 1
        "a@x.com,30,ok\n"           # 2: good
        "\n"                        # 3: blank, skipped
        'b@x.com,31,"two\nlines"\n'  # 4-5: good, a quoted value over two lines
        "c@x.com,32\n"              # 6: ragged
        "\n"                        # 7: blank
        "d@x.com,old,ok\n"          # 8: age is not an int64
        "e@x.com,33,ok\n"           # 9: good
    )
    result = fresh.run("""
        - id: notes
          type: load_file
          path: notes.csv
          columns: {age: int64}
    """)
    assert result["status"] == "done"
    good = fresh.rows(result, "notes", "out", order="_line")
    assert [(r["_line"], r["email"], r["note"]) for r in good] == [
        (2, "a@x.com", "ok"), (4, "b@x.com", "two\nlines"), (9, "e@x.com", "ok")]
    rejects = fresh.rows(result, "notes", "rejects", order="_line")
    assert [(r["_line"], r["email"] if r["_line"] != 6 else None) for r in rejects] == [
        (6, None), (8, "d@x.com")]


def test_the_staged_text_table_is_dropped_after_typing(fresh: Harness) -> None:
    (fresh.root / "members.csv").write_text(MEMBERS_CSV)
    result = _load(fresh, "members.csv")
    assert result["status"] == "done"
    leftovers = [t for t in fresh.ws.data.list_tables(include_internal=True) if "_raw" in t]
    assert leftovers == []


def test_reconcile_trims_the_profiles_text_too(fresh: Harness) -> None:
    # customer 3's email is stored as "ANA@example.com " (a trailing space)
    _write(fresh.root, "fair.csv", ["email", "ANA@example.com", "ana@example.com"])
    result = fresh.run("""
        - {id: fair, type: load_file, path: fair.csv}
        - {id: match, type: reconcile, inputs: [fair], match: {email: email}}
    """)
    # case still matters (spec §3): each line finds exactly its own profile
    fresh.check(result, "match", "out", {1, 3})
