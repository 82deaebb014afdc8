"""Loading CSV and Parquet files: types, modes, key checks, atomicity, and clear errors."""

from __future__ import annotations

import datetime as dtm
import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overture.data import loading
from overture.data.catalog import load_catalog
from overture.data.loading import KeyCheckError, LoadError, declare_table_text, load_file
from overture.data.plane import DataPlane
from overture.data.workspace import DEFAULT_SCHEMA


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(plane: DataPlane, table: str, order: str) -> list[dict[str, Any]]:
    return plane.con.table(table).order_by(order).to_pyarrow().to_pylist()


def internal_tables(plane: DataPlane) -> list[str]:
    return [t for t in plane.list_tables(include_internal=True)
            if t.startswith(loading.STAGING_PREFIX)]


PEOPLE = (
    "id,price,name,active,born,seen,nothing\n"
    "1,9.5,Ann,true,1990-04-01,2024-01-01 10:00:00,\n"
    "2,10,Bob,false,1985-12-31,2024-02-01 11:30:00,\n"
    "3,,,,,,\n"
)


# ---- types ------------------------------------------------------------------------------

def test_types_are_inferred(plane: DataPlane, tmp_path: Path):
    result = load_file(plane, "people", write(tmp_path, "people.csv", PEOPLE))
    assert result.rows == 3
    assert result.columns == {
        "id": "int64", "price": "float64", "name": "string", "active": "boolean",
        "born": "date", "seen": "timestamp", "nothing": "string",
    }
    got = rows(plane, "people", "id")
    assert got[0] == {"id": 1, "price": 9.5, "name": "Ann", "active": True,
                      "born": dtm.date(1990, 4, 1), "seen": dtm.datetime(2024, 1, 1, 10, 0),
                      "nothing": None}
    # empty cells are NULL in every column, text included
    assert got[2] == {"id": 3, "price": None, "name": None, "active": None, "born": None,
                      "seen": None, "nothing": None}


def test_types_are_overridden(plane: DataPlane, tmp_path: Path):
    path = write(tmp_path, "c.csv",
                 "id,zip,amount,flag,born,seen\n"
                 "1,01234,12.50,1,2001-02-03,2024-01-01T10:00:00Z\n"
                 "2,99999,3,0,2002-03-04,2024-01-02T09:00:00+02:00\n")
    result = load_file(plane, "c", path, types={
        "zip": "string", "amount": "decimal(10,2)", "flag": "boolean", "born": "string",
        "seen": "timestamp"})
    assert result.columns == {"id": "int64", "zip": "string", "amount": "decimal(10,2)",
                              "flag": "boolean", "born": "string",
                              "seen": "timestamp with time zone"}
    got = rows(plane, "c", "id")
    assert [r["zip"] for r in got] == ["01234", "99999"]
    assert [r["amount"] for r in got] == [Decimal("12.50"), Decimal("3.00")]
    assert [r["flag"] for r in got] == [True, False]
    assert got[0]["born"] == "2001-02-03"
    assert got[1]["seen"] == dtm.datetime(2024, 1, 2, 7, 0, tzinfo=dtm.UTC)


def test_type_aliases_and_the_default_decimal(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "a.csv", "id,n,x\n1,2,3.25\n")
    result = load_file(duck, "a", path, types={"n": "text", "x": "decimal"})
    assert result.columns == {"id": "int64", "n": "string", "x": "decimal(18,2)"}


def test_inferred_types_widen_when_a_later_block_disagrees(plane: DataPlane, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loading, "CSV_BLOCK_SIZE", 512)
    lines = ["id,n,code,day"] + [f"{i},{i},{i},2024-01-01" for i in range(1, 301)]
    lines += ["301,1.5,A7,2024-01-02 08:30:00"]
    path = write(tmp_path, "late.csv", "\n".join(lines) + "\n")
    result = load_file(plane, "late", path, key="id")
    assert result.rows == 301
    assert result.columns == {"id": "int64", "n": "float64", "code": "string",
                              "day": "timestamp"}
    last = rows(plane, "late", "id")[-1]
    assert last == {"id": 301, "n": 1.5, "code": "A7", "day": dtm.datetime(2024, 1, 2, 8, 30)}


def test_a_given_type_is_never_widened_and_the_line_is_named(duck: DataPlane, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loading, "CSV_BLOCK_SIZE", 512)
    lines = ["id,note,age", '1,"two\nlines",30']  # a quoted newline: record 2 spans 2 lines
    lines += [f"{i},x,{i}" for i in range(2, 200)] + ["200,x,forty"]
    path = write(tmp_path, "ages.csv", "\n".join(lines) + "\n")
    with pytest.raises(LoadError) as err:
        load_file(duck, "ages", path, types={"age": "int64"})
    assert str(err.value) == f"{path}, line 202: column 'age': 'forty' is not a valid int64"


def test_codes_with_a_leading_zero_or_plus_stay_text(plane: DataPlane, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loading, "CSV_BLOCK_SIZE", 512)
    lines = ["id,zip,phone,n"] + [f"{i},{75000 + i},{600000000 + i},{i}" for i in range(300)]
    lines += ["300,01234,+33612345678,0"]  # only in a later block
    path = write(tmp_path, "codes.csv", "\n".join(lines) + "\n")
    result = load_file(plane, "codes", path, key="id")
    assert result.columns == {"id": "int64", "zip": "string", "phone": "string", "n": "int64"}
    last = rows(plane, "codes", "id")[-1]
    assert last == {"id": 300, "zip": "01234", "phone": "+33612345678", "n": 0}


def test_reloading_keeps_the_tables_types_unless_a_value_does_not_fit(plane: DataPlane,
                                                                      tmp_path: Path):
    load_file(plane, "t", write(tmp_path, "a.csv", "id,zip,score\n1,75001,3\n"),
              types={"zip": "string", "score": "float64"})
    again = load_file(plane, "t", write(tmp_path, "b.csv", "id,zip,score,new\n2,69001,4,5\n"))
    assert again.columns == {"id": "int64", "zip": "string", "score": "float64",
                             "new": "int64"}
    changed = load_file(plane, "t", write(tmp_path, "c.csv", "id,zip,score\nX1,69001,4\n"))
    assert changed.columns == {"id": "string", "zip": "string", "score": "float64"}
    forced = load_file(plane, "t", write(tmp_path, "d.csv", "id,zip,score\n3,69001,4\n"),
                       types={"id": "int64", "zip": "int64"})
    assert forced.columns == {"id": "int64", "zip": "int64", "score": "float64"}


# ---- replace and append -----------------------------------------------------------------

def test_append_adds_rows_and_replace_replaces_the_table(plane: DataPlane, tmp_path: Path):
    first = write(tmp_path, "a.csv", "id,name\n1,Ann\n2,Bob\n")
    more = write(tmp_path, "b.csv", "id,name\n3,Cy\n4,Di\n")
    other = write(tmp_path, "c.csv", "code,score\nX,1.5\n")
    load_file(plane, "t", first, key="id")
    result = load_file(plane, "t", more, key="id", mode="append")
    assert (result.rows, result.table_rows, result.mode) == (2, 4, "append")
    assert [r["name"] for r in rows(plane, "t", "id")] == ["Ann", "Bob", "Cy", "Di"]
    result = load_file(plane, "t", other)
    assert (result.rows, result.table_rows) == (1, 1)
    assert result.columns == {"code": "string", "score": "float64"}
    assert rows(plane, "t", "code") == [{"code": "X", "score": 1.5}]


def test_append_reads_the_file_with_the_tables_types(plane: DataPlane, tmp_path: Path):
    load_file(plane, "t", write(tmp_path, "a.csv", "id,zip\n1,75001\n"),
              types={"zip": "string"})
    load_file(plane, "t", write(tmp_path, "b.csv", "id,zip\n2,01234\n"), mode="append")
    assert [r["zip"] for r in rows(plane, "t", "id")] == ["75001", "01234"]


def test_append_to_a_missing_table_creates_it(duck: DataPlane, tmp_path: Path):
    result = load_file(duck, "t", write(tmp_path, "a.csv", "id\n1\n"), mode="append")
    assert result.table_rows == 1


def test_append_refuses_a_column_the_table_lacks(plane: DataPlane, tmp_path: Path):
    load_file(plane, "t", write(tmp_path, "a.csv", "id,name\n1,Ann\n"))
    path = write(tmp_path, "b.csv", "id,name,age\n2,Bob,40\n")
    with pytest.raises(LoadError, match=r"column 'age' is not in table 't' \(its columns: id, "
                                        r"name\); load with replace to change the columns"):
        load_file(plane, "t", path, mode="append")
    assert len(rows(plane, "t", "id")) == 1


def test_append_fills_missing_columns_with_null_and_says_so(plane: DataPlane, tmp_path: Path):
    load_file(plane, "t", write(tmp_path, "a.csv", "id,name,age\n1,Ann,30\n"))
    path = write(tmp_path, "b.csv", "id\n2\n")
    result = load_file(plane, "t", path, mode="append")
    assert result.warnings == [f"{path} has no columns 'name', 'age': the appended rows hold "
                               "NULL there"]
    assert rows(plane, "t", "id")[1] == {"id": 2, "name": None, "age": None}


def test_append_with_a_conflicting_type_is_refused(duck: DataPlane, tmp_path: Path):
    load_file(duck, "t", write(tmp_path, "a.csv", "id,zip\n1,75001\n"))
    with pytest.raises(LoadError, match="--type zip=string: in table 't' the column 'zip' is "
                                        "int64"):
        load_file(duck, "t", write(tmp_path, "b.csv", "id,zip\n2,01234\n"), mode="append",
                  types={"zip": "string"})


# ---- key checks ---------------------------------------------------------------------------

def test_key_must_be_a_column_of_the_file(plane: DataPlane, tmp_path: Path):
    path = write(tmp_path, "a.csv", "id,name\n1,Ann\n")
    with pytest.raises(KeyCheckError, match=r"no key column 'customer_id' in the file "
                                            r"\(its columns: id, name\)"):
        load_file(plane, "t", path, key="customer_id")


def test_key_with_nulls_is_refused_and_the_table_kept(plane: DataPlane, tmp_path: Path):
    load_file(plane, "t", write(tmp_path, "ok.csv", "id,name\nA,Ann\n"), key="id")
    path = write(tmp_path, "a.csv", "id,name\nB,Bob\n,Cy\nNULL,Di\nE,Ed\n")
    with pytest.raises(KeyCheckError) as err:
        load_file(plane, "t", path, key="id")
    assert str(err.value) == (f"{path}: key column 'id' is empty (NULL) in 2 rows; the table "
                              "'t' was not replaced")
    assert rows(plane, "t", "id") == [{"id": "A", "name": "Ann"}]


def test_duplicate_keys_are_counted_with_an_example(plane: DataPlane, tmp_path: Path):
    load_file(plane, "t", write(tmp_path, "ok.csv", "id,name\nA,Ann\n"), key="id")
    body = "".join(f"{k},x\n" for k in ["C1", "C7", "C2", "C7", "C3", "C2", "C7", "C4"])
    path = write(tmp_path, "dup.csv", "id,name\n" + body)
    with pytest.raises(KeyCheckError) as err:
        load_file(plane, "t", path, key="id")
    assert str(err.value) == (f"key column 'id' is not unique in {path}: 2 values appear more "
                              "than once (for example 'C7', 3 times); the table 't' was not "
                              "replaced")
    assert rows(plane, "t", "id") == [{"id": "A", "name": "Ann"}]
    assert internal_tables(plane) == []


def test_a_new_table_failing_its_key_check_is_not_created(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "dup.csv", "id\n1\n1\n")
    with pytest.raises(KeyCheckError, match=r"1 value appears more than once \(for example 1, "
                                            r"2 times\); the table 't' was not created"):
        load_file(duck, "t", path, key="id")
    assert not duck.has_table("t")


def test_appended_keys_must_not_repeat_the_tables(plane: DataPlane, tmp_path: Path):
    load_file(plane, "t", write(tmp_path, "a.csv", "id\n1\n2\n"), key="id")
    path = write(tmp_path, "b.csv", "id\n2\n3\n")
    with pytest.raises(KeyCheckError) as err:
        load_file(plane, "t", path, key="id", mode="append")
    assert str(err.value) == (f"key column 'id' is not unique across the table 't' and {path}: "
                              "1 value appears more than once (for example 2, 2 times); "
                              "nothing was appended")
    assert [r["id"] for r in rows(plane, "t", "id")] == [1, 2]


# ---- atomic replace -----------------------------------------------------------------------

def test_a_failed_replace_leaves_the_table_whole(plane: DataPlane, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    load_file(plane, "t", write(tmp_path, "ok.csv", "id,n\n1,1\n2,2\n"), key="id")
    monkeypatch.setattr(loading, "CSV_BLOCK_SIZE", 256)
    lines = ["id,n"] + [f"{i},{i}" for i in range(1, 500)] + ["500,oops"]
    path = write(tmp_path, "bad.csv", "\n".join(lines) + "\n")
    with pytest.raises(LoadError, match=r"line 501: column 'n': 'oops' is not a valid int64"):
        load_file(plane, "t", path, types={"n": "int64"})
    assert rows(plane, "t", "id") == [{"id": 1, "n": 1}, {"id": 2, "n": 2}]
    assert internal_tables(plane) == []


def test_a_crash_between_batches_leaves_the_table_whole(plane: DataPlane, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    load_file(plane, "t", write(tmp_path, "ok.csv", "id\n1\n"))
    monkeypatch.setattr(loading, "CSV_BLOCK_SIZE", 128)
    written: list[int] = []
    real_write = loading._Writer.write

    def flaky(self: Any, batch: pa.RecordBatch) -> None:
        if len(written) == 3:
            raise RuntimeError("disk full")
        written.append(batch.num_rows)
        real_write(self, batch)

    monkeypatch.setattr(loading._Writer, "write", flaky)
    path = write(tmp_path, "big.csv", "id\n" + "".join(f"{i}\n" for i in range(1000)))
    with pytest.raises(RuntimeError, match="disk full"):
        load_file(plane, "t", path)
    assert rows(plane, "t", "id") == [{"id": 1}]
    assert internal_tables(plane) == []


@pytest.mark.postgres
def test_an_engine_refusal_is_a_load_error(postgres_url: str, tmp_path: Path):
    plane = DataPlane.connect(postgres_url)
    try:
        load_file(plane, "t", write(tmp_path, "ok.csv", "id\n1\n"))
        with plane.con.con.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute('CREATE VIEW "t_view" AS SELECT * FROM "t"')
        path = write(tmp_path, "new.csv", "id\n2\n")
        with pytest.raises(LoadError) as err:
            load_file(plane, "t", path)
        message = str(err.value)
        assert message.startswith(f"{path}: the data plane (postgres) refused the load: ")
        assert "other objects depend on it" in message
        assert message.endswith("; the table 't' was left as it was")
        assert rows(plane, "t", "id") == [{"id": 1}]
        assert internal_tables(plane) == []
    finally:
        plane.close()


# ---- malformed files ----------------------------------------------------------------------

def test_ragged_row_names_its_line(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "r.csv", "id,name,age\n1,Ann,30\n2,Bob,40,extra\n")
    with pytest.raises(LoadError) as err:
        load_file(duck, "t", path)
    assert str(err.value) == (f"{path}, line 3: expected 3 fields as in the header, found 4 "
                              "(a missing or extra delimiter ',', or an unclosed quote?)")


def test_ragged_row_in_a_later_block(duck: DataPlane, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loading, "CSV_BLOCK_SIZE", 256)
    lines = ["id,name"] + [f"{i},n{i}" for i in range(300)] + ["300"]
    path = write(tmp_path, "r.csv", "\n".join(lines) + "\n")
    with pytest.raises(LoadError, match=r"r\.csv, line 302: expected 2 fields as in the "
                                        r"header, found 1"):
        load_file(duck, "t", path)
    assert not duck.has_table("t")


def test_missing_file(duck: DataPlane, tmp_path: Path):
    with pytest.raises(LoadError) as err:
        load_file(duck, "t", tmp_path / "nope.csv")
    assert str(err.value) == f"{tmp_path / 'nope.csv'}: no such file"


def test_unknown_extension(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "people.xlsx", "id\n1\n")
    with pytest.raises(LoadError) as err:
        load_file(duck, "t", path)
    assert str(err.value) == (f"{path}: cannot tell the format from the extension '.xlsx'; "
                              "name it .csv, .csv.gz, .tsv or .parquet, or pass --format "
                              "csv|parquet")


def test_an_explicit_format_overrides_the_extension(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "export.dat", "id\n1\n")
    assert load_file(duck, "t", path, format="csv").rows == 1


def test_empty_file(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "e.csv", "")
    with pytest.raises(LoadError) as err:
        load_file(duck, "t", path)
    assert str(err.value) == f"{path}: the file is empty (not even a header row)"


def test_header_only_loads_no_rows_with_a_warning(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "h.csv", "id,name\n")
    result = load_file(duck, "t", path, types={"id": "int64"})
    assert (result.rows, result.columns) == (0, {"id": "int64", "name": "string"})
    assert result.warnings == [f"{path} has a header but no rows"]


@pytest.mark.parametrize(("header", "message"), [
    ("id,first name", "column 2 'first name' is not a valid column name"),
    ("id,1st", "column 2 '1st' is not a valid column name"),
    ("id,e-mail", "column 2 'e-mail' is not a valid column name"),
    ("id,,x", "column 2 has no name in the header"),
    ("id,name,id", "column 'id' appears twice in the header"),
    ("id,Name,name", "column 'name' appears and 'Name' (names ignore case) in the header"),
])
def test_column_names_must_be_identifiers(duck: DataPlane, tmp_path: Path, header: str,
                                          message: str):
    fields = header.count(",") + 1
    path = write(tmp_path, "n.csv", header + "\n" + ",".join(["1"] * fields) + "\n")
    with pytest.raises(LoadError) as err:
        load_file(duck, "t", path)
    assert str(err.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(("table", "message"), [
    ("my table", "table name 'my table' is not a valid name"),
    ("2024_sales", "table name '2024_sales' is not a valid name"),
    ("ovw_x", "starts with 'ovw_'"),
    ("overture_log", "which Overture keeps for its own tables"),
])
def test_table_names_are_checked(duck: DataPlane, tmp_path: Path, table: str, message: str):
    with pytest.raises(LoadError, match=message):
        load_file(duck, table, write(tmp_path, "a.csv", "id\n1\n"))


def test_bad_override_value_names_file_line_and_column(plane: DataPlane, tmp_path: Path):
    path = write(tmp_path, "d.csv", "id,born\n1,2001-02-03\n2,03/04/2002\n")
    with pytest.raises(LoadError) as err:
        load_file(plane, "t", path, types={"born": "date"})
    assert str(err.value) == f"{path}, line 3: column 'born': '03/04/2002' is not a valid date"


def test_decimal_with_too_many_places(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "m.csv", "id,amount\n1,1.25\n2,3.125\n")
    with pytest.raises(LoadError) as err:
        load_file(duck, "t", path, types={"amount": "decimal(10,2)"})
    assert str(err.value) == (f"{path}, line 3: column 'amount': a value has more than 2 "
                              "decimal places for decimal(10,2); give a larger scale, for "
                              "example --type amount=decimal(18,4)")


def test_unknown_type_and_unknown_column(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "a.csv", "id\n1\n")
    with pytest.raises(LoadError, match="unknown type 'money': use one of string, int64, "
                                        "float64, boolean, date, timestamp, decimal"):
        load_file(duck, "t", path, types={"id": "money"})
    with pytest.raises(LoadError, match=r"--type names column 'ident', which is not in the file "
                                        r"\(its columns: id\)"):
        load_file(duck, "t", path, types={"ident": "string"})


def test_parse_type_options():
    assert loading.parse_type_options(["zip=string", " amount = decimal(12,2) "]) == {
        "zip": "string", "amount": "decimal(12,2)"}
    with pytest.raises(LoadError, match="write COLUMN=TYPE"):
        loading.parse_type_options(["zip"])
    with pytest.raises(LoadError, match="names column 'zip' twice"):
        loading.parse_type_options(["zip=string", "zip=int64"])


def test_invalid_utf8_names_the_line_and_latin1_loads(duck: DataPlane, tmp_path: Path):
    path = tmp_path / "l.csv"
    path.write_bytes("id,city\n1,Paris\n2,Orléans\n".encode("latin-1"))
    with pytest.raises(LoadError) as err:
        load_file(duck, "t", path)
    assert str(err.value) == (f"{path}, line 3: column 'city' holds text that is not valid "
                              "utf-8; save the file as UTF-8 or pass --encoding (for example "
                              "latin-1)")
    load_file(duck, "t", path, encoding="latin-1")
    assert rows(duck, "t", "id")[1]["city"] == "Orléans"


def test_not_a_parquet_file(duck: DataPlane, tmp_path: Path):
    path = write(tmp_path, "x.parquet", "id\n1\n")
    with pytest.raises(LoadError, match=r"x\.parquet: not a readable Parquet file"):
        load_file(duck, "t", path)


# ---- other shapes of file -----------------------------------------------------------------

def test_parquet_with_dictionary_and_nanosecond_columns(plane: DataPlane, tmp_path: Path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "tier": pa.array(["gold", "silver", None]).dictionary_encode(),
        "at": pa.array([0, 1_000_000_000, 2_000_000_000], pa.timestamp("ns")),
        "zip": pa.array(["01", "02", "03"], pa.large_string()),
        "score": pa.array(["1", "2", "3"]),
    }), path, row_group_size=2)
    calls: list[tuple[int, int, str]] = []
    result = load_file(plane, "p", path, key="id", types={"score": "int64"},
                       progress=lambda done, total, unit: calls.append((done, total, unit)))
    assert result.columns == {"id": "int64", "tier": "string", "at": "timestamp",
                              "zip": "string", "score": "int64"}
    assert result.format == "parquet"
    assert rows(plane, "p", "id")[1] == {"id": 2, "tier": "silver",
                                         "at": dtm.datetime(1970, 1, 1, 0, 0, 1),
                                         "zip": "02", "score": 2}
    assert calls[0] == (0, 3, "rows") and calls[-1] == (3, 3, "rows")


def test_parquet_bad_override_names_the_row(duck: DataPlane, tmp_path: Path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "n": ["1", "2", "three"]}), path)
    with pytest.raises(LoadError) as err:
        load_file(duck, "t", path, types={"n": "int64"})
    assert str(err.value) == f"{path}, row 3: column 'n': 'three' cannot be read as int64"


def test_csv_progress_is_in_bytes_and_reaches_the_size(duck: DataPlane, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loading, "CSV_BLOCK_SIZE", 1024)
    path = write(tmp_path, "a.csv", "id,v\n" + "".join(f"{i},{i * 2}\n" for i in range(2000)))
    calls: list[tuple[int, int, str]] = []
    load_file(duck, "t", path, progress=lambda d, t, u: calls.append((d, t, u)))
    size = path.stat().st_size
    assert {c[1:] for c in calls} == {(size, "bytes")}
    done = [c[0] for c in calls]
    assert done == sorted(done) and done[0] == 0 and done[-1] == size and len(done) > 5


def test_gzip_semicolons_and_tabs(duck: DataPlane, tmp_path: Path):
    gz = tmp_path / "a.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as out:
        out.write("id,name\n1,Ann\n2,Bob\n")
    assert load_file(duck, "g", gz).rows == 2
    semi = write(tmp_path, "s.csv", "id;amount;city\n1;2,5;Lyon\n")
    assert load_file(duck, "s", semi).columns == {"id": "int64", "amount": "string",
                                                  "city": "string"}
    tabs = write(tmp_path, "t.tsv", "id\tname\n1\tA, B\n")
    load_file(duck, "tabs", tabs)
    assert rows(duck, "tabs", "id") == [{"id": 1, "name": "A, B"}]


def test_quoted_fields_keep_commas_quotes_and_empty_strings(plane: DataPlane, tmp_path: Path):
    path = write(tmp_path, "q.csv",
                 'id,text\n1,"a, ""b"""\n2,""\n3,\n4,"multi\nline"\n')
    load_file(plane, "q", path)
    assert [r["text"] for r in rows(plane, "q", "id")] == ['a, "b"', "", None, "multi\nline"]


# ---- schema.yaml declarations -------------------------------------------------------------

EXISTING = {"customers": "customer_id"}


@pytest.mark.parametrize(("text", "existing"), [
    (DEFAULT_SCHEMA, EXISTING),
    ("tables: {}\n", {}),
    ("tables: {customers: {key: customer_id}}  # flow style\n", EXISTING),
    ("target: customers   # no tables yet\n", {}),
    ("", {}),
    ("tables:\n", {}),
    ("tables:\n    customers:\n        key: customer_id\n\n# the default target\n"
     "target: customers\n", EXISTING),
    ("tables:\n  customers:\n    key: customer_id\n    links:\n      buys: {table: purchases, "
     "on: {customer_id: customer_id}, cardinality: many}\n  purchases:\n    key: purchase_id\n"
     "    # a note kept under purchases\n  # orders: {key: order_id}\n",
     {"customers": "customer_id", "purchases": "purchase_id"}),
])
def test_declaring_a_table_appends_text_and_keeps_comments(tmp_path: Path, text: str,
                                                           existing: dict[str, str]):
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    new = declare_table_text(path, "stores", "store_id")
    path.write_text(new, encoding="utf-8")
    catalog = load_catalog(path)
    assert {name: spec.key for name, spec in catalog.tables.items()} == {
        **existing, "stores": "store_id"}
    for line in text.splitlines():  # every line the user wrote is still there
        if line.strip() and line.strip() not in ("tables: {}", "tables:") and "{" not in line:
            assert line in new.splitlines()
    comments = [line for line in text.splitlines() if "#" in line]
    assert all(any(c.split("#", 1)[1] in n for n in new.splitlines()) for c in comments)


def test_declaring_into_a_missing_schema_file(tmp_path: Path):
    path = tmp_path / "schema.yaml"
    assert declare_table_text(path, "stores", "store_id") == \
        "tables:\n  stores:\n    key: store_id\n"


def test_declaring_where_tables_is_not_a_mapping(tmp_path: Path):
    path = tmp_path / "schema.yaml"
    path.write_text("tables: [a, b]\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"`tables:` in schema\.yaml is not a mapping"):
        declare_table_text(path, "stores", "store_id")
