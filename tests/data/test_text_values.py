"""Text read as typed values (load_file's columns, reconcile's matches): the same values on
every data-plane backend, NULL for text that is not a value of the type.

Expectations are written by hand. Before this module, load_file typed with the engine's
cast: DuckDB read the int64 `4.5` as 5 and `0x10` as 16 and dropped a timestamp's offset,
and on PostgreSQL (no TRY_CAST) one bad value failed the whole activity.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pytest

from overture.data.plane import DataPlane
from overture.data.text_values import parse_text

CASES: dict[str, list[tuple[str, Any]]] = {
    "int64": [
        ("42", 42), ("+42", 42), ("-42", -42), ("042", 42), ("4.5", None), ("4.0", None),
        ("1e3", None), ("0x10", None), ("1_000", None), ("abc", None), ("١٢", None),
        ("9223372036854775807", 2**63 - 1), ("9223372036854775808", None),
        ("-9223372036854775808", -(2**63)), ("-9223372036854775809", None),
        ("00000000000000000000042", 42), ("", None)],
    "int32": [("2147483647", 2**31 - 1), ("2147483648", None), ("-2147483648", -(2**31))],
    "float64": [
        ("1.5", 1.5), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0), ("1E-3", 0.001),
        ("-2.5e-7", -2.5e-7), ("0e5", 0.0), ("1e300", 1e300), ("1e-300", 1e-300),
        ("nan", None), ("inf", None), ("1.1e300", None), ("1e400", None), ("1e-400", None),
        ("1e1000", None), ("0x10", None)],
    "decimal(18, 3)": [
        ("1.2345", Decimal("1.235")), ("-1.2355", Decimal("-1.236")), ("12.", Decimal("12")),
        ("-.5", Decimal("-0.5")), ("999999999999999.9994", Decimal("999999999999999.999")),
        ("999999999999999.9995", None), ("1e3", None), ("1,5", None)],
    "boolean": [
        ("true", True), ("TRUE", True), ("t", True), ("Y", True), ("yes", True), ("1", True),
        ("false", False), ("f", False), ("no", False), ("N", False), ("0", False),
        ("on", None), ("off", None), ("2", None)],
    "date": [
        ("2024-03-01", date(2024, 3, 1)), ("2024-3-1", date(2024, 3, 1)),
        ("2024-02-29", date(2024, 2, 29)), ("2000-02-29", date(2000, 2, 29)),
        ("1900-02-29", None), ("2023-02-29", None), ("2024-04-31", None),
        ("2024-13-01", None), ("0000-01-01", None), ("03/04/2024", None), ("20240301", None),
        ("2024-03-01 10:00", None), ("infinity", None), ("epoch", None), ("today", None)],
    "timestamp": [
        ("2024-03-01 10:00:00", datetime(2024, 3, 1, 10)),
        ("2024-03-01T10:00", datetime(2024, 3, 1, 10)),
        ("2024-03-01", datetime(2024, 3, 1)),
        ("2024-03-01 10:00:00.12", datetime(2024, 3, 1, 10, 0, 0, 120000)),
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10)),
        # an offset is applied: the value is the UTC instant
        ("2024-03-01T10:00:00+02:00", datetime(2024, 3, 1, 8)),
        ("2024-03-01T10:00:00-0530", datetime(2024, 3, 1, 15, 30)),
        ("2024-03-01T01:00:00+02", datetime(2024, 2, 29, 23)),
        ("2024-03-01 10:00:00.1234567", None), ("2024-03-01 25:00", None),
        ("2024-03-01 10:00:60", None), ("2024-02-30 10:00", None), ("now", None),
        ("03/04/2024 10:00", None), ("2024-03-01Z", None)],
}


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory, data_urls: Any) -> Iterator[DataPlane]:
    url = data_urls() or f"duckdb:///{tmp_path_factory.mktemp('text') / 'data.duckdb'}"
    con = DataPlane.connect(url)
    texts = [text for cases in CASES.values() for text, _ in cases]
    con.con.create_table("texts", ibis.memtable({"i": list(range(len(texts))), "s": texts}))
    yield con
    con.close()


@pytest.mark.parametrize("dtype", list(CASES))
def test_text_is_read_the_same_on_every_engine(plane: DataPlane, dtype: str) -> None:
    table = plane.table("texts")
    texts = [text for text, _ in CASES[dtype]]
    rows = table.filter(table.s.isin(texts)).select(
        "s", v=parse_text(table.s.strip(), dtype, plane.backend))
    got = {row["s"]: row["v"] for row in rows.to_pyarrow().to_pylist()}
    assert got == dict(CASES[dtype])


def test_load_file_rejects_what_is_not_a_value_of_its_type(tmp_path: Path,
                                                           data_url: str | None) -> None:
    from engine.kit import Harness

    h = Harness(tmp_path, data_url=data_url)
    try:
        (h.root / "visits.csv").write_text(
            "id,n,at\n1,4.5,2024-03-01 10:00\n2,0x10,2024-03-01T10:00:00+02:00\n"
            "3,7,03/04/2024 10:00\n4,8,2024-03-01T12:00:00+02:00\n", encoding="utf-8")
        result = h.run(f"""
            - {{id: visits, type: load_file, path: {h.root / 'visits.csv'},
                columns: {{n: int64, at: timestamp}}}}
        """)
        assert result["activities"]["visits"]["ports"] == {"out": 1, "rejects": 3}
        assert h.rows(result, "visits", "out", order="_line") == [
            {"_line": 5, "id": "4", "n": 8, "at": datetime(2024, 3, 1, 10)}]
        rejects = h.rows(result, "visits", "rejects", order="_line")
        assert [(r["_line"], r["_reason"]) for r in rejects] == [
            (2, "column n: not a int64"), (3, "column n: not a int64"),
            (4, "column at: not a timestamp")]
    finally:
        h.close()


UUIDS = [("0b6e4b0c-5d43-3a8e-9b71-52c2e0a1f00d", "0b6e4b0c-5d43-3a8e-9b71-52c2e0a1f00d"),
         ("0B6E4B0C-5D43-3A8E-9B71-52C2E0A1F00D", "0b6e4b0c-5d43-3a8e-9b71-52c2e0a1f00d"),
         ("{0b6e4b0c-5d43-3a8e-9b71-52c2e0a1f00d}", None),
         ("0b6e4b0c5d433a8e9b7152c2e0a1f00d", None), ("0b6e4b0c-5d43", None)]


def test_uuids_in_any_case(plane: DataPlane) -> None:
    table = ibis.memtable({"s": [text for text, _ in UUIDS]})
    plane.con.create_table("uuids", table, overwrite=True)
    t = plane.table("uuids")
    rows = t.select("s", v=parse_text(t.s.strip(), "uuid", plane.backend).cast("string"))
    got = {row["s"]: row["v"] for row in rows.to_pyarrow().to_pylist()}
    assert got == dict(UUIDS)


def test_reconcile_refuses_a_column_without_a_text_form(tmp_path: Path,
                                                        data_url: str | None) -> None:
    from engine.kit import Harness

    h = Harness(tmp_path, data_url=data_url)
    try:
        con = h.ws.data.con
        customers = con.table("customers").to_pyarrow()
        seen = ibis.memtable(customers).mutate(
            seen=ibis.literal(datetime(2027, 3, 1, 9), type="timestamp('UTC')"))
        con.create_table("customers", seen.to_pyarrow(), overwrite=True)
        (h.root / "seen.csv").write_text("at\n2027-03-01 09:00:00\n", encoding="utf-8")
        result = h.run(f"""
            - {{id: file, type: load_file, path: {h.root / 'seen.csv'}}}
            - {{id: match, type: reconcile, inputs: [file], match: {{at: seen}}}}
        """)
        entry = result["activities"]["match"]
        assert entry["status"] == "failed", result
        assert "reconcile cannot match on 'seen'" in entry["error"]
    finally:
        h.close()
