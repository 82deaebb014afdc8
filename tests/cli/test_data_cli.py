"""`overture data`: load, tables, show, values and check, through the real command line."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from overture.cli import data as data_cli
from overture.cli.main import app
from overture.data.catalog import load_catalog
from overture.data.workspace import Workspace

OVERTURE = Path(sys.executable).parent / "overture"

SCHEMA = """\
# our shop
target: customers
tables:
  customers:
    key: customer_id
    channels:
      email: {address: email, consent: email_optin}
    links:
      purchases: {table: purchases, on: {customer_id: customer_id}, cardinality: many}
  purchases:
    key: purchase_id
    links:
      customer: {table: customers, on: {customer_id: customer_id}, cardinality: one}
"""

CUSTOMERS = (
    "customer_id,email,email_optin,city\n"
    "C1,ann@example.com,true,paris\n"
    "C2,bob@example.com,false,lyon\n"
    "C3,,true,paris\n"
)
PURCHASES = "purchase_id,customer_id,amount\nP1,C1,10.5\nP2,C1,3\nP3,C3,7.25\n"


def make_workspace(root: Path, data_url: str | None = None, schema: str = SCHEMA) -> Path:
    Workspace.init(root).close()
    if data_url:
        config = root / "overture.toml"
        text = config.read_text(encoding="utf-8").replace(
            'url = "duckdb:///.overture/data.duckdb"', f'url = "{data_url}"', 1)
        config.write_text(text, encoding="utf-8")
    (root / "schema.yaml").write_text(schema, encoding="utf-8")
    return root


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "shop")


def run(ws: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--workspace", str(ws), "data", *args])
    assert "Traceback" not in result.output, result.output
    return result


def run_json(ws: Path, *args: str) -> Any:
    result = run(ws, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_shop(ws: Path) -> None:
    assert run(ws, "load", "customers", str(write(ws, "customers.csv", CUSTOMERS))).exit_code == 0
    assert run(ws, "load", "purchases", str(write(ws, "purchases.csv", PURCHASES))).exit_code == 0


# ---- load ---------------------------------------------------------------------------------

def test_load_prints_rows_and_columns(ws: Path):
    path = write(ws, "customers.csv", CUSTOMERS)
    result = run(ws, "load", "customers", str(path), "--type", "email_optin=boolean")
    assert result.exit_code == 0, result.output
    assert f"Loaded 3 rows into customers from {path}" in result.stdout
    for column, kind in (("customer_id", "string"), ("email_optin", "boolean")):
        assert any(line.split()[:2] == [column, kind] for line in result.stdout.splitlines())


def test_load_json_and_append(ws: Path):
    first = run_json(ws, "load", "purchases", str(write(ws, "a.csv", PURCHASES)))
    assert first["rows"] == 3 and first["mode"] == "replace" and first["key"] == "purchase_id"
    assert first["columns"] == {"purchase_id": "string", "customer_id": "string",
                                "amount": "float64"}
    more = write(ws, "b.csv", "purchase_id,customer_id,amount\nP4,C2,1\n")
    second = run_json(ws, "load", "purchases", str(more), "--append")
    assert (second["rows"], second["table_rows"], second["mode"]) == (1, 4, "append")


def test_load_declares_a_new_keyed_table_in_schema_yaml(ws: Path):
    path = write(ws, "stores.csv", "store_id,region\nS1,north\nS2,south\n")
    result = run(ws, "load", "stores", str(path), "--key", "store_id")
    assert result.exit_code == 0, result.output
    assert "Declared stores with key store_id in" in result.stdout
    text = (ws / "schema.yaml").read_text(encoding="utf-8")
    assert text.startswith(SCHEMA)  # the user's text and comments, untouched
    assert text.endswith("  stores:\n    key: store_id\n")
    assert load_catalog(ws / "schema.yaml").tables["stores"].key == "store_id"
    # loading again with the same key declares nothing more
    assert run_json(ws, "load", "stores", str(path), "--key", "store_id")["declared"] is False
    assert (ws / "schema.yaml").read_text(encoding="utf-8") == text


def test_load_refuses_another_key_than_the_declared_one(ws: Path):
    load_shop(ws)
    result = run(ws, "load", "customers", str(ws / "customers.csv"), "--key", "email")
    assert result.exit_code == 1
    assert "schema.yaml declares table 'customers' with key 'customer_id', not 'email'" in \
        result.stderr
    assert run_json(ws, "show", "customers")["rows"] == 3


def test_the_declared_key_is_checked_without_key_option(ws: Path):
    load_shop(ws)
    dup = write(ws, "dup.csv", "customer_id,email\nC1,a@x\nC1,b@x\n")
    result = run(ws, "load", "customers", str(dup))
    assert result.exit_code == 1
    assert "key column 'customer_id' is not unique" in result.stderr
    assert "(for example 'C1', 2 times); the table 'customers' was not replaced" in \
        result.stderr.replace("\n", " ")
    assert run_json(ws, "show", "customers")["rows"] == 3


@pytest.mark.parametrize(("content", "args", "message"), [
    ("id,name\n1,Ann\n2,Bob,x\n", [], "line 3: expected 2 fields as in the header, found 3"),
    ("id,age\n1,30\n2,old\n", ["--type", "age=int64"],
     "line 3: column 'age': 'old' is not a valid int64"),
    ("", [], "the file is empty (not even a header row)"),
    ("id,first name\n1,A\n", [], "column 2 'first name' is not a valid column name"),
    ("id\n1\n", ["--type", "id=money"], "unknown type 'money'"),
    ("id\n1\n", ["--type", "id"], "--type 'id': write COLUMN=TYPE"),
])
def test_load_errors_are_one_clear_line(ws: Path, content: str, args: list[str], message: str):
    path = write(ws, "bad.csv", content)
    result = run(ws, "load", "things", str(path), *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr.replace("\n", " ")
    assert result.stdout == ""


def test_load_missing_file_and_unknown_extension(ws: Path):
    result = run(ws, "load", "t", str(ws / "nope.csv"))
    assert result.exit_code == 1 and "nope.csv: no such file" in result.stderr
    result = run(ws, "load", "t", str(write(ws, "t.xlsx", "id\n1\n")))
    assert result.exit_code == 1
    assert "cannot tell the format from the extension '.xlsx'" in result.stderr


def test_progress_bar_is_drawn_on_a_terminal(ws: Path, monkeypatch: pytest.MonkeyPatch):
    buffer = io.StringIO()
    monkeypatch.setattr(data_cli, "err_console",
                        Console(file=buffer, force_terminal=True, width=120))
    path = write(ws, "big.csv", "id,v\n" + "".join(f"{i},{i}\n" for i in range(50_000)))
    result = run(ws, "load", "big", str(path))
    assert result.exit_code == 0, result.output
    drawn = buffer.getvalue()
    assert "big ← big.csv" in drawn
    assert "━" in drawn  # the bar itself
    assert f"{path.stat().st_size / 1000:.1f}" in drawn or "kB" in drawn


def test_subprocess_exit_codes_and_no_traceback(ws: Path):
    good = write(ws, "customers.csv", CUSTOMERS)
    done = subprocess.run([str(OVERTURE), "-w", str(ws), "data", "load", "customers",
                           str(good), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 3
    bad = write(ws, "bad.csv", "customer_id,email\nC9\n")
    done = subprocess.run([str(OVERTURE), "-w", str(ws), "data", "load", "customers", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "line 2: expected 2 fields as in the header, found 1" in done.stderr


# ---- tables and show ----------------------------------------------------------------------

def test_tables_lists_rows_columns_keys_and_declarations(ws: Path):
    load_shop(ws)
    run(ws, "load", "extra", str(write(ws, "extra.csv", "a,b\n1,2\n")))
    listed = run_json(ws, "tables")
    assert listed == [
        {"table": "customers", "loaded": True, "rows": 3, "columns": 4, "key": "customer_id",
         "declared": True},
        {"table": "extra", "loaded": True, "rows": 1, "columns": 2, "key": None,
         "declared": False},
        {"table": "purchases", "loaded": True, "rows": 3, "columns": 3, "key": "purchase_id",
         "declared": True},
    ]
    text = run(ws, "tables").stdout
    assert "customers" in text and "not declared" in text


def test_tables_mentions_declared_tables_not_loaded(ws: Path):
    listed = run_json(ws, "tables")
    assert {"table": "purchases", "loaded": False, "rows": None, "columns": None,
            "key": "purchase_id", "declared": True} in listed


def test_show_gives_types_roles_and_count(ws: Path):
    load_shop(ws)
    shown = run_json(ws, "show", "customers")
    assert shown["rows"] == 3 and shown["declared"] and shown["target"]
    by_name = {c["column"]: c for c in shown["columns"]}
    assert by_name["customer_id"]["roles"] == [
        "key", "link purchases → purchases.customer_id (many)",
        "linked from purchases.customer_id (purchases.customer)"]
    assert by_name["email"] == {"column": "email", "type": "string",
                                "roles": ["email address"]}
    assert by_name["email_optin"]["type"] == "boolean"
    assert by_name["email_optin"]["roles"] == ["email consent"]
    assert by_name["city"]["roles"] == []
    text = run(ws, "show", "customers").stdout
    assert "customers: 3 rows, 4 columns (declared in schema.yaml, the default target)" in text


def test_show_unknown_table_suggests_a_name(ws: Path):
    load_shop(ws)
    result = run(ws, "show", "customer")
    assert result.exit_code == 1
    assert "no table 'customer' in the data plane (did you mean 'customers'?)" in result.stderr


# ---- values -------------------------------------------------------------------------------

def test_values_top_20_match_independent_counts(ws: Path):
    rng = random.Random(7)
    cities = [f"city{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(40)]
    weights = [1 + (40 - i) ** 2 // 40 for i in range(40)]
    written: list[str | None] = []
    for _ in range(3000):
        written.append(None if rng.random() < 0.04 else rng.choices(cities, weights)[0])
    body = "".join(f"{i},{city or ''}\n" for i, city in enumerate(written))
    path = write(ws, "people.csv", "id,city\n" + body)
    assert run(ws, "load", "people", str(path)).exit_code == 0

    counts = Counter(written)
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))[:20]
    got = run_json(ws, "values", "people", "city")
    assert [(v["value"], v["count"]) for v in got["values"]] == expected
    for item in got["values"]:
        assert item["share"] == pytest.approx(item["count"] / 3000)
    assert got["rows"] == 3000
    assert got["nulls"] == counts[None]
    assert got["distinct"] == len([c for c in counts if c is not None])
    assert got["other"] == 3000 - sum(c for _, c in expected)

    five = run_json(ws, "values", "people", "city", "--limit", "5")
    assert [(v["value"], v["count"]) for v in five["values"]] == expected[:5]


def test_values_shows_null_as_such(ws: Path):
    path = write(ws, "t.csv", "id,tier\n1,gold\n2,\n3,\n4,silver\n")
    run(ws, "load", "t", str(path))
    got = run_json(ws, "values", "t", "tier")
    assert got["values"][0] == {"value": None, "count": 2, "share": 0.5}
    text = run(ws, "values", "t", "tier").stdout
    null_line = next(line for line in text.splitlines() if "NULL" in line and "│" in line)
    assert "2" in null_line and "50.0%" in null_line


def test_values_unknown_column(ws: Path):
    load_shop(ws)
    result = run(ws, "values", "customers", "cty")
    assert result.exit_code == 1
    assert "table 'customers' has no column 'cty' (did you mean 'city'?)" in result.stderr


# ---- check --------------------------------------------------------------------------------

def test_check_passes_on_a_matching_workspace(ws: Path):
    load_shop(ws)
    result = run(ws, "check")
    assert result.exit_code == 0, result.output
    assert run_json(ws, "check") == {"ok": True, "problems": []}


def test_check_names_a_missing_link_column(tmp_path: Path):
    schema = SCHEMA.replace("customer: {table: customers, on: {customer_id: customer_id}",
                            "customer: {table: customers, on: {cust_id: customer_id}")
    ws = make_workspace(tmp_path / "shop", schema=schema)
    load_shop(ws)
    result = run(ws, "check")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "tables.purchases.links.customer.on: column 'cust_id' not found in table 'purchases'"]
    assert "1 problem in schema.yaml" in result.stderr
    as_json = run(ws, "check", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout) == {"ok": False, "problems": [
        {"path": "tables.purchases.links.customer.on",
         "message": "column 'cust_id' not found in table 'purchases'"}]}


def test_check_reports_tables_not_loaded(ws: Path):
    run(ws, "load", "customers", str(write(ws, "customers.csv", CUSTOMERS)))
    result = run(ws, "check")
    assert result.exit_code == 1
    assert "tables.purchases: table 'purchases' is not loaded in the data plane" in \
        result.stdout


# ---- PostgreSQL ---------------------------------------------------------------------------

@pytest.mark.postgres
def test_the_commands_on_postgresql(tmp_path: Path, postgres_url: str):
    ws = make_workspace(tmp_path / "shop", data_url=postgres_url)
    load_shop(ws)
    assert run_json(ws, "show", "purchases")["rows"] == 3
    got = run_json(ws, "values", "purchases", "customer_id")
    assert [(v["value"], v["count"]) for v in got["values"]] == [("C1", 2), ("C3", 1)]
    assert run_json(ws, "check") == {"ok": True, "problems": []}
    dup = write(ws, "dup.csv", "purchase_id,customer_id,amount\nP9,C1,1\nP9,C2,2\n")
    result = run(ws, "load", "purchases", str(dup), "--append")
    assert result.exit_code == 1
    assert "nothing was appended" in result.stderr.replace("\n", " ")
    assert run_json(ws, "show", "purchases")["rows"] == 3
