"""The sample data generator: deterministic, and the shape the sample campaigns rely on.

Every check below is independent SQL (or Python) over the written files, never the
generator's own expressions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "examples" / "generate.py"
N = 5_000
REF = date(2027, 3, 1)

#: the IANA zones each country's customers may live in
ZONES = {
    "FR": {"Europe/Paris", "Indian/Reunion"}, "ES": {"Europe/Madrid", "Atlantic/Canary"},
    "DE": {"Europe/Berlin"}, "IT": {"Europe/Rome"}, "GB": {"Europe/London"},
    "US": {"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"},
    "NL": {"Europe/Amsterdam"}, "BE": {"Europe/Brussels"},
}
LANGUAGES = {"FR": {"fr"}, "ES": {"es"}, "DE": {"de"}, "IT": {"it"}, "GB": {"en"},
             "US": {"en", "es"}, "NL": {"nl", "en"}, "BE": {"fr", "nl"}}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_generate_under_test", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "seed42"
    load_generator().generate(out, N, seed=42)
    return out


@pytest.fixture(scope="module")
def con(generated: Path) -> Any:
    connection = duckdb.connect()
    for table in ("customers", "purchases", "products", "stores"):
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM "
                           f"read_parquet('{generated / (table + '.parquet')}')")
    yield connection
    connection.close()


def one(con: Any, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_files(generated: Path, tmp_path: Path) -> None:
    load_generator().generate(tmp_path / "again", N, seed=42)
    assert digest(tmp_path / "again") == digest(generated)


def test_identical_files_across_many_row_groups(tmp_path: Path) -> None:
    """Big enough for several Parquet row groups (122,880 rows), written by several threads."""
    gen = load_generator()
    gen.generate(tmp_path / "a", 60_000, seed=5, threads=2)
    gen.generate(tmp_path / "b", 60_000, seed=5, threads=2)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_another_seed_gives_other_data(generated: Path, tmp_path: Path) -> None:
    load_generator().generate(tmp_path / "other", N, seed=43)
    theirs, ours = digest(tmp_path / "other"), digest(generated)
    assert theirs["customers.parquet"] != ours["customers.parquet"]
    assert theirs["purchases.parquet"] != ours["purchases.parquet"]


def test_the_command_line_writes_csv(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), str(tmp_path / "csv"), "--customers", "300",
         "--seed", "7", "--format", "csv", "--reference-date", "2026-01-15"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "customers" in result.stdout
    con = duckdb.connect()
    customers = str(tmp_path / "csv" / "customers.csv")
    assert one(con, f"SELECT count(*) FROM read_csv('{customers}')") == 300
    purchases = str(tmp_path / "csv" / "purchases.csv")
    latest = one(con, f"SELECT max(purchased_at) FROM read_csv('{purchases}')")
    assert str(latest) < "2026-01-15"


def test_the_reference_date_moves_every_date(tmp_path: Path) -> None:
    gen = load_generator()
    gen.generate(tmp_path / "a", 500, reference_date=date(2027, 3, 1))
    gen.generate(tmp_path / "b", 500, reference_date=date(2028, 3, 1))
    con = duckdb.connect()
    a, b = (str(tmp_path / x / "customers.parquet") for x in "ab")
    shifted = one(con, f"""
        SELECT count(*) FROM read_parquet('{a}') x JOIN read_parquet('{b}') y USING (customer_id)
        WHERE y.signup_date - x.signup_date = DATE '2028-03-01' - DATE '2027-03-01'""")
    assert shifted == 500


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    gen = load_generator()
    with pytest.raises(ValueError):
        gen.generate(tmp_path / "x", 0)
    with pytest.raises(ValueError):
        gen.generate(tmp_path / "x", 10, fmt="xlsx")


# ------------------------------------------------------------------ shape


def test_row_counts_and_keys(con: Any) -> None:
    assert one(con, "SELECT count(*), count(DISTINCT customer_id), min(customer_id), "
                    "max(customer_id) FROM customers") == (N, N, 1, N)
    purchases, distinct = one(con, "SELECT count(*), count(DISTINCT purchase_id) FROM purchases")
    assert purchases == distinct
    assert 4.5 * N < purchases < 5.5 * N
    assert one(con, "SELECT count(*), count(DISTINCT product_id) FROM products") == (2000, 2000)
    stores = one(con, "SELECT count(*) FROM stores")
    assert one(con, "SELECT count(DISTINCT store_id) FROM stores") == stores > 50


def test_column_types(con: Any) -> None:
    types = dict(con.execute("SELECT column_name, column_type FROM "
                             "(DESCRIBE SELECT * FROM customers)").fetchall())
    assert types["customer_id"] == "BIGINT"
    assert types["birth_date"] == types["signup_date"] == "DATE"
    assert types["last_seen_at"] == "TIMESTAMP"
    assert types["age"] == "INTEGER"
    for column in ("email_optin", "sms_optin", "push_optin"):
        assert types[column] == "BOOLEAN"
    types = dict(con.execute("SELECT column_name, column_type FROM "
                             "(DESCRIBE SELECT * FROM purchases)").fetchall())
    assert types["purchased_at"] == "TIMESTAMP"
    assert types["amount"] == "DECIMAL(10,2)"
    assert list(types) == ["purchase_id", "customer_id", "product_id", "store_id",
                           "purchased_at", "quantity", "amount", "channel"]


def test_every_reference_resolves(con: Any) -> None:
    assert one(con, "SELECT count(*) FROM purchases ANTI JOIN customers USING (customer_id)") == 0
    assert one(con, "SELECT count(*) FROM purchases ANTI JOIN products USING (product_id)") == 0
    assert one(con, "SELECT count(*) FROM purchases p WHERE store_id IS NOT NULL AND NOT EXISTS "
                    "(SELECT 1 FROM stores s WHERE s.store_id = p.store_id)") == 0
    assert one(con, "SELECT count(*) FROM customers c WHERE store_id IS NOT NULL AND NOT EXISTS "
                    "(SELECT 1 FROM stores s WHERE s.store_id = c.store_id)") == 0


def test_home_stores_are_in_the_customers_city(con: Any) -> None:
    assert one(con, "SELECT count(*) FROM customers c JOIN stores s USING (store_id) "
                    "WHERE s.city <> c.city OR s.country <> c.country") == 0
    share = one(con, "SELECT avg((store_id IS NULL)::INT) FROM customers")
    assert 0.15 < share < 0.30


def test_emails_duplicates_and_nulls(con: Any) -> None:
    nulls = one(con, "SELECT count(*) - count(email) FROM customers")
    assert 0.005 * N <= nulls <= 0.015 * N
    exact = one(con, "SELECT count(email) - count(DISTINCT email) FROM customers")
    assert 0.015 * N <= exact <= 0.025 * N
    normalized = one(con, "SELECT count(email) - count(DISTINCT lower(trim(email))) "
                          "FROM customers")
    assert 0.005 * N <= normalized - exact <= 0.015 * N
    untidy = one(con, "SELECT count(*) FROM customers WHERE email <> lower(trim(email))")
    assert untidy > 0
    assert one(con, "SELECT count(*) FROM customers WHERE email NOT LIKE '%_@_%._%'") == 0
    domains = {row[0] for row in con.execute(
        "SELECT DISTINCT split_part(lower(trim(email)), '@', 2) FROM customers").fetchall()}
    assert all(d is None or d.endswith((".example", "example.com", "example.org", "example.net"))
               for d in domains)


def test_phones_and_push_tokens(con: Any) -> None:
    share = one(con, "SELECT avg((phone IS NULL)::INT) FROM customers")
    assert 0.12 < share < 0.18
    assert one(con, "SELECT count(*) FROM customers WHERE NOT regexp_full_match(phone, "
                    "'\\+[0-9]{9,14}')") == 0
    share = one(con, "SELECT avg((push_token IS NULL)::INT) FROM customers")
    assert 0.35 < share < 0.45
    optin_without_token = one(con, "SELECT avg(push_optin::INT) FROM customers "
                                   "WHERE push_token IS NULL")
    optin_with_token = one(con, "SELECT avg(push_optin::INT) FROM customers "
                                "WHERE push_token IS NOT NULL")
    assert optin_without_token < 0.1 < 0.5 < optin_with_token


def test_countries_zones_and_languages(con: Any) -> None:
    rows = con.execute("SELECT country, timezone, language, count(*) FROM customers "
                       "GROUP BY ALL").fetchall()
    per_country: dict[str, int] = {}
    for country, zone, language, count in rows:
        assert zone in ZONES[country], (country, zone)
        assert language in LANGUAGES[country], (country, language)
        per_country[country] = per_country.get(country, 0) + count
    assert set(per_country) == set(ZONES)
    assert max(per_country, key=per_country.__getitem__) == "FR"
    assert per_country["FR"] > 2 * per_country["BE"]


def test_ages_match_birth_dates(con: Any) -> None:
    rows = con.execute("SELECT birth_date, age FROM customers").fetchall()
    for birth, age in rows:
        expected = REF.year - birth.year - ((REF.month, REF.day) < (birth.month, birth.day))
        assert age == expected, (birth, age)
    low, high = one(con, "SELECT min(age), max(age) FROM customers")
    assert low >= 18 and high <= 90


def test_dates_are_before_the_reference_date(con: Any) -> None:
    assert one(con, "SELECT max(signup_date) < DATE '2027-03-01' FROM customers")
    assert one(con, "SELECT min(signup_date) >= DATE '2019-03-01' FROM customers")
    assert one(con, "SELECT count(*) FROM customers WHERE last_seen_at < signup_date "
                    "OR last_seen_at >= TIMESTAMP '2027-03-01'") == 0
    assert one(con, "SELECT count(*) FROM customers "
                    "WHERE signup_date < birth_date + INTERVAL 15 YEAR") == 0


def test_purchases_are_in_the_two_years_before_and_after_signup(con: Any) -> None:
    assert one(con, "SELECT count(*) FROM purchases WHERE purchased_at >= TIMESTAMP "
                    "'2027-03-01' OR purchased_at < TIMESTAMP '2025-03-01'") == 0
    assert one(con, "SELECT count(*) FROM purchases JOIN customers USING (customer_id) "
                    "WHERE purchased_at < signup_date") == 0
    last_quarter = one(con, "SELECT count(*) FROM purchases "
                            "WHERE purchased_at >= TIMESTAMP '2026-12-01'")
    a_year_before = one(con, "SELECT count(*) FROM purchases WHERE purchased_at >= TIMESTAMP "
                             "'2025-12-01' AND purchased_at < TIMESTAMP '2026-03-01'")
    assert last_quarter > 1.5 * a_year_before


def test_purchases_per_customer_are_skewed(con: Any) -> None:
    none = one(con, "SELECT count(*) FROM customers ANTI JOIN purchases USING (customer_id)")
    assert 0.15 * N < none < 0.25 * N
    heavy = one(con, "SELECT count(*) FROM (SELECT customer_id FROM purchases GROUP BY 1 "
                     "HAVING count(*) >= 20)")
    assert heavy > 0.02 * N
    by_tier = dict(con.execute("""
        SELECT c.loyalty_tier, count(p.purchase_id) / count(DISTINCT c.customer_id)
        FROM customers c LEFT JOIN purchases p USING (customer_id) GROUP BY 1""").fetchall())
    assert by_tier["bronze"] < by_tier["silver"] < by_tier["gold"] < by_tier["platinum"]


def test_tiers_and_consents(con: Any) -> None:
    tiers = dict(con.execute("SELECT loyalty_tier, count(*) FROM customers GROUP BY 1")
                 .fetchall())
    assert tiers["bronze"] > tiers["silver"] > tiers["gold"] > tiers["platinum"] > 0
    optin = one(con, "SELECT avg(email_optin::INT) FROM customers")
    assert 0.6 < optin < 0.76
    genders = {row[0] for row in con.execute("SELECT DISTINCT gender FROM customers").fetchall()}
    assert genders == {"female", "male", "unspecified"}


def test_channels_amounts_and_quantities(con: Any) -> None:
    channels = dict(con.execute("SELECT channel, count(*) FROM purchases GROUP BY 1").fetchall())
    assert set(channels) == {"store", "web", "app"}
    assert one(con, "SELECT count(*) FROM purchases WHERE (channel = 'store') "
                    "<> (store_id IS NOT NULL)") == 0
    assert one(con, "SELECT min(amount) > 0 AND min(quantity) >= 1 AND max(quantity) <= 5 "
                    "FROM purchases")
    # an amount is the product's price times the quantity, less at most 25%
    assert one(con, "SELECT count(*) FROM purchases JOIN products USING (product_id) "
                    "WHERE amount > price * quantity OR amount < price * quantity * 0.75 "
                    "- 0.01") == 0
