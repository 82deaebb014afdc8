"""direct_mail: exclusions like the other channels, and (live) the extract file, read back."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import pyarrow.parquet as pq
import pytest

from engine.kit import ROWS, Harness
from overture.activities import direct_mail as dm
from overture.activities.base import executor_for
from overture.definition.errors import InvalidDocument
from overture.engine.api import resume_run
from support.workspace import SCHEMA_YAML

# A postal address and a mail opt-in for each of the twelve customers of ROWS.
ADDRESSES: dict[int, str | None] = {
    1: "1 rue de la Paix, 75002 Paris",
    2: 'Calle Mayor 5, "Sol", Madrid',        # a comma and quotes: CSV quoting
    3: None,                                  # no_address
    4: "   ",                                 # blank: no_address
    5: "Hauptstraße 1\n10115 Berlin",         # two lines
    6: "Via Roma 2, Milano",
    7: "",                                    # empty: no_address
    8: "12 High St, London",
    9: "3 Baker St, London",
    10: "5 quai Voltaire, Paris",
    11: "1 Main St, Boston",
    12: "9 rue Oberkampf, Paris",
}
OPTIN: dict[int, bool | None] = {1: True, 2: True, 3: False, 4: None, 5: True, 6: False,
                                 7: True, 8: None, 9: True, 10: True, 11: False, 12: True}
# by hand: no address 3, 4, 7 (3's and 4's missing consent is not counted again);
# with an address but no consent 6 (false), 8 (NULL), 11 (false); the rest get mail
SENT = [1, 2, 5, 9, 10, 12]
BY_ID = {r["customer_id"]: r for r in ROWS["customers"]}

CHANNEL = "      sms: {address: phone, consent: sms_optin}\n"


def mail_harness(root: Path, consent: bool = True, data_url: str | None = None) -> Harness:
    """The retail workspace, its customers given `postal_address` and `mail_optin`."""
    h = Harness(root, data_url=data_url)
    con = h.ws.data.con
    extra = ibis.memtable(
        [{"customer_id": cid, "postal_address": ADDRESSES[cid], "mail_optin": OPTIN[cid]}
         for cid in ADDRESSES],
        schema=ibis.schema({"customer_id": "int64", "postal_address": "string",
                            "mail_optin": "boolean"}))
    customers = con.table("customers")
    joined = customers.left_join(extra, "customer_id").select(
        customers, extra.postal_address, extra.mail_optin)
    con.create_table("customers", joined.to_pyarrow(), overwrite=True)
    mail = "{address: postal_address, consent: mail_optin}" if consent \
        else "{address: postal_address}"
    h.ws.schema_path.write_text(SCHEMA_YAML.replace(
        CHANNEL, CHANNEL + f"      direct_mail: {mail}\n"))
    h.ws.reload_catalog()
    return h


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory,
      data_urls: Callable[[], str | None]) -> Iterator[Harness]:
    harness = mail_harness(tmp_path_factory.mktemp("direct_mail"), data_url=data_urls())
    yield harness
    harness.close()


def exports(h: Harness) -> Path:
    return h.ws.root / "exports"


def default_file(h: Harness, result: dict[str, Any], activity: str = "letters",
                 suffix: str = "csv") -> Path:
    return exports(h) / f"{result['campaign']}-{activity}-{result['run']}.{suffix}"


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_the_runner_uses_this_module() -> None:
    assert executor_for("direct_mail") is dm.direct_mail


def test_test_mode_counts_exclusions_passes_profiles_on_and_writes_nothing(
        h: Harness) -> None:
    result = h.run("""
        - {id: all, type: build_audience}
        - {id: letters, type: direct_mail, inputs: [all], columns: [first_name]}
        - {id: after, type: split, inputs: [letters], subsets: [{id: all}]}
    """)
    entry = result["activities"]["letters"]
    assert entry["excluded"] == {"no_address": 3, "no_consent": 3}
    assert list(entry["excluded"]) == ["no_address", "no_consent"]
    h.check(result, "letters", "out", set(SENT))
    h.check(result, "after", "all", set(SENT))  # the profiles pass on
    target = default_file(h, result)
    assert not target.exists()
    assert not exports(h).exists() or not any(exports(h).iterdir())
    assert (f"test mode: would write 6 rows (csv; columns customer_id, postal_address, "
            f"first_name) to {target}; excluded {{'no_address': 3, 'no_consent': 3}}"
            in h.logs(result, "letters"))


def test_live_csv_extract_key_address_then_columns_ordered_by_key(h: Harness) -> None:
    result = h.run("""
        - {id: all, type: build_audience}
        - {id: letters, type: direct_mail, inputs: [all],
           columns: [first_name, loyalty_tier, signup_date]}
    """, mode="live")
    assert result["status"] == "done", result
    h.check(result, "letters", "out", set(SENT))
    assert result["activities"]["letters"]["excluded"] == {"no_address": 3, "no_consent": 3}
    target = default_file(h, result)
    assert target.parent == h.ws.root / "exports"
    rows = read_csv(target)
    assert rows[0] == ["customer_id", "postal_address", "first_name", "loyalty_tier",
                       "signup_date"]
    assert rows[1:] == [
        [str(cid), ADDRESSES[cid], BY_ID[cid]["first_name"], BY_ID[cid]["loyalty_tier"],
         BY_ID[cid]["signup_date"].isoformat()]
        for cid in SENT  # SENT is in key order
    ]
    assert rows[2][1] == 'Calle Mayor 5, "Sol", Madrid' and "\n" in rows[3][1]
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp file
    assert any(m.startswith(f"wrote 6 rows (csv; columns customer_id, postal_address, "
                            f"first_name, loyalty_tier, signup_date) to {target}")
               for m in h.logs(result, "letters"))


def test_live_parquet_with_enriched_and_linked_columns_and_placeholders(h: Harness) -> None:
    result = h.run("""
        - {id: all, type: build_audience}
        - id: more
          type: enrich
          inputs: [all]
          aggregates: [{name: spent, link: purchases, fn: sum, field: amount}]
        - {id: letters, type: direct_mail, inputs: [more], format: parquet,
           path: "{campaign}/{activity}-{run}.parquet",
           columns: [spent, store.name, customers.first_name]}
    """, mode="live", name="spring")
    target = exports(h) / "spring" / f"letters-{result['run']}.parquet"
    table = pq.read_table(target)
    assert table.column_names == ["customer_id", "postal_address", "spent", "store_name",
                                  "first_name"]
    assert str(table.schema.field("customer_id").type) == "int64"
    assert str(table.schema.field("spent").type) == "double"
    # by hand from ROWS: purchases 80+5+35, 35+160, 240+80, 10, none, 80+35
    spent = {1: 120.0, 2: 195.0, 5: 320.0, 9: 10.0, 10: 0.0, 12: 115.0}
    stores = {1: "Paris Nord", 2: "Madrid Sol", 5: None, 9: "Berlin Mitte",
              10: "Paris Nord", 12: "Paris Nord"}
    assert table.to_pylist() == [
        {"customer_id": cid, "postal_address": ADDRESSES[cid], "spent": spent[cid],
         "store_name": stores[cid], "first_name": BY_ID[cid]["first_name"]}
        for cid in SENT
    ]


def test_an_absolute_path_and_an_empty_input_give_a_header_only_file(
        h: Harness, tmp_path: Path) -> None:
    target = tmp_path / "print" / "nobody.csv"
    result = h.run(f"""
        - {{id: none, type: build_audience, rule: {{field: customer_id, op: eq, value: 99}}}}
        - {{id: letters, type: direct_mail, inputs: [none], path: "{target}"}}
    """, mode="live")
    assert result["activities"]["letters"] == {"status": "done", "ports": {"out": 0},
                                               "excluded": {}}
    assert read_csv(target) == [["customer_id", "postal_address"]]


def test_a_resumed_run_rewrites_the_same_file_whole(h: Harness) -> None:
    result = h.run("""
        - {id: all, type: build_audience}
        - {id: letters, type: direct_mail, inputs: [all], columns: [first_name]}
    """, mode="live")
    target = default_file(h, result)
    first = target.read_bytes()
    # as if the process died while writing: the activity still running, a stale temp
    # file from the attempt, and a target that is not the extract
    run = result["run"]
    temp = target.with_name(f".{target.name}.{run}.tmp")
    temp.write_text("customer_id,postal_address\n1,half a li")
    target.write_text("something else")
    h.ws.control.upsert_activity_run(run, "letters", status="running")
    h.ws.control.update_run(run, status="failed")
    resumed = resume_run(h.ws, run)
    assert resumed["status"] == "done"
    assert resumed["activities"]["letters"]["ports"] == {"out": 6}
    assert target.read_bytes() == first
    assert not temp.exists()
    assert sum(m.startswith("wrote 6 rows") for m in h.logs(result, "letters")) == 2


def test_a_failed_write_leaves_the_previous_file_and_no_temp_file(
        h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "letters.csv"
    target.write_text("the previous extract\n")

    def broken(ctx: Any, expr: Any, fmt: str, path: Path) -> None:
        path.write_text("customer_id,postal_address\n1,")
        raise OSError("No space left on device")

    monkeypatch.setattr(dm, "_engine_write", broken)
    result = h.run(f"""
        - {{id: all, type: build_audience}}
        - {{id: letters, type: direct_mail, inputs: [all], path: "{target}"}}
    """, mode="live", error_policy={"on_error": "abort"})
    entry = result["activities"]["letters"]
    assert entry["status"] == "failed"
    assert entry["error"] == f"cannot write the extract {target}: No space left on device"
    assert target.read_text() == "the previous extract\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letters.csv"]


def test_without_a_consent_column_only_the_address_counts(tmp_path: Path,
                                                          data_url: str | None) -> None:
    h = mail_harness(tmp_path, consent=False, data_url=data_url)
    try:
        result = h.run("""
            - {id: all, type: build_audience}
            - {id: letters, type: direct_mail, inputs: [all]}
        """)
        assert result["activities"]["letters"]["excluded"] == {"no_address": 3}
        h.check(result, "letters", "out", {1, 2, 5, 6, 8, 9, 10, 11, 12})
    finally:
        h.close()


def test_validation_names_unknown_and_repeated_columns_and_bad_paths(h: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        h.run("""
            - {id: all, type: build_audience}
            - {id: letters, type: direct_mail, inputs: [all], format: parquet,
               path: "{campaign}-{date}.csv",
               columns: [first_name, colour, postal_address, store.nope, first_name]}
        """)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("letters.columns[1]", "unknown field 'colour' of 'customers'"),
        ("letters.columns[2]", "column 'postal_address' is in the extract already (the key "
                               "and the address come first)"),
        ("letters.columns[3]", "unknown field 'nope' of 'stores' (in 'store.nope')"),
        ("letters.columns[4]", "column 'first_name' is in the extract already (the key "
                               "and the address come first)"),
        ("letters.path", "unknown placeholder {date}: use {campaign}, {activity}, {run}"),
        ("letters.path", "the file ends in .csv but `format` is parquet"),
    ]
    assert {p.activity for p in caught.value.problems} == {"letters"}


@pytest.mark.parametrize(("path", "problems"), [
    ("letters.csv", []),
    ("{run}/{activity}.csv", []),
    ("/srv/print/{campaign}.CSV", []),
    ("letters", []),
    ("{run:>5}.csv", ["unknown placeholder {run:>5}: use {campaign}, {activity}, {run}"]),
    ("{}.csv", ["unknown placeholder {}: use {campaign}, {activity}, {run}"]),
    ("{run.csv", ["expected '}' before end of string: write placeholders as {run}, and a "
                  "brace itself as {{ or }}"]),
    ("x.parquet", ["the file ends in .parquet but `format` is csv"]),
])
def test_path_problems(path: str, problems: list[str]) -> None:
    assert dm.path_problems(path, "csv") == problems
