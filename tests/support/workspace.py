"""A small retail workspace for engine tests, with rows a person can count by hand.

`ROWS` holds the tables as Python lists of dicts: tests compute their expectations
from these lists (or with SQL they write themselves), never from the engine's output.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis

from overture.data.workspace import Workspace

SCHEMA_YAML = """\
target: customers
tables:
  customers:
    key: customer_id
    channels:
      email: {address: email, consent: email_optin}
      sms: {address: phone, consent: sms_optin}
    timezone: timezone
    links:
      purchases: {table: purchases, on: {customer_id: customer_id}, cardinality: many}
      store: {table: stores, on: {store_id: store_id}, cardinality: one}
  purchases:
    key: purchase_id
    links:
      customer: {table: customers, on: {customer_id: customer_id}, cardinality: one}
      product: {table: products, on: {product_id: product_id}, cardinality: one}
  products:
    key: product_id
  stores:
    key: store_id
"""

#: the logical clock tests pin: in_last windows are counted back from here
CLOCK = datetime.fromisoformat("2027-03-01T09:00:00+00:00")


def _customer(cid: int, first: str, email: str | None, country: str | None, tier: str,
              age: int | None, signup: date, store: int | None, optin: bool | None,
              phone: str | None = None, sms_optin: bool | None = False) -> dict[str, Any]:
    return {"customer_id": cid, "first_name": first, "email": email, "country": country,
            "loyalty_tier": tier, "age": age, "signup_date": signup, "store_id": store,
            "email_optin": optin, "phone": phone, "sms_optin": sms_optin,
            "timezone": "Europe/Paris" if country == "FR" else "UTC"}


ROWS: dict[str, list[dict[str, Any]]] = {
    "customers": [
        _customer(1, "Ana", "ana@example.com", "FR", "gold", 34, date(2020, 1, 5), 1, True,
                  "+33600000001", True),
        _customer(2, "Ben", "ben@example.com", "ES", "silver", 45, date(2021, 3, 9), 2, True),
        _customer(3, "Chloé", "ANA@example.com ", "FR", "bronze", 29, date(2022, 7, 1), 1,
                  False),
        _customer(4, "Dan", None, "DE", "gold", 61, date(2019, 11, 30), 3, True),
        _customer(5, "Eve", "eve@example.com", "FR", "platinum", None, date(2023, 2, 14), None,
                  True, "+33600000005", True),
        _customer(6, "Fay", "fay@example", "IT", "silver", 52, date(2018, 6, 21), 2, True),
        _customer(7, "Gus", "ben@example.com", "ES", "gold", 38, date(2024, 9, 2), 2, None),
        _customer(8, "Hal", "hal@example.com", None, "bronze", 23, date(2025, 1, 15), None,
                  True),
        _customer(9, "Ivy", "x' OR '1'='1", "GB", "gold", 41, date(2020, 10, 10), 3, True),
        _customer(10, "Jo", "", "FR", "silver", 30, date(2026, 12, 24), 1, True),
        _customer(11, "Kim", "kim_100%@example.com", "US", "bronze", 67, date(2017, 4, 4), 3,
                  True),
        _customer(12, "Lou", "lou@example.com", "FR", "gold", 19, date(2026, 2, 28), 1, True),
    ],
    "stores": [
        {"store_id": 1, "name": "Paris Nord", "region": "north", "country": "FR"},
        {"store_id": 2, "name": "Madrid Sol", "region": "south", "country": "ES"},
        {"store_id": 3, "name": "Berlin Mitte", "region": "north", "country": "DE"},
    ],
    "products": [
        {"product_id": 1, "name": "Shoes", "category": "apparel", "price": 80.0},
        {"product_id": 2, "name": "Lamp", "category": "home", "price": 35.0},
        {"product_id": 3, "name": "Socks", "category": "apparel", "price": 5.0},
    ],
    "purchases": [
        {"purchase_id": 1, "customer_id": 1, "product_id": 1, "amount": 80.0,
         "purchased_at": datetime(2027, 2, 20, 10, 0)},
        {"purchase_id": 2, "customer_id": 1, "product_id": 3, "amount": 5.0,
         "purchased_at": datetime(2026, 6, 1, 12, 0)},
        {"purchase_id": 3, "customer_id": 1, "product_id": 2, "amount": 35.0,
         "purchased_at": datetime(2027, 1, 3, 8, 30)},
        {"purchase_id": 4, "customer_id": 2, "product_id": 2, "amount": 35.0,
         "purchased_at": datetime(2027, 2, 28, 23, 0)},
        {"purchase_id": 5, "customer_id": 2, "product_id": 1, "amount": 160.0,
         "purchased_at": datetime(2025, 12, 1, 9, 0)},
        {"purchase_id": 6, "customer_id": 4, "product_id": 3, "amount": 5.0,
         "purchased_at": datetime(2026, 12, 2, 9, 0)},
        {"purchase_id": 7, "customer_id": 5, "product_id": 1, "amount": 240.0,
         "purchased_at": datetime(2027, 2, 1, 15, 0)},
        {"purchase_id": 8, "customer_id": 5, "product_id": 1, "amount": 80.0,
         "purchased_at": datetime(2027, 2, 2, 15, 0)},
        {"purchase_id": 9, "customer_id": 7, "product_id": 2, "amount": 70.0,
         "purchased_at": datetime(2026, 11, 30, 9, 0)},
        {"purchase_id": 10, "customer_id": 9, "product_id": 3, "amount": 10.0,
         "purchased_at": datetime(2024, 5, 5, 5, 5)},
        {"purchase_id": 11, "customer_id": 12, "product_id": 1, "amount": 80.0,
         "purchased_at": datetime(2027, 3, 1, 8, 59)},
        {"purchase_id": 12, "customer_id": 12, "product_id": 2, "amount": 35.0,
         "purchased_at": datetime(2027, 3, 1, 9, 1)},
    ],
}

TYPES = {
    "customers": {"customer_id": "int64", "first_name": "string", "email": "string",
                  "country": "string", "loyalty_tier": "string", "age": "int64",
                  "signup_date": "date", "store_id": "int64", "email_optin": "boolean",
                  "phone": "string", "sms_optin": "boolean", "timezone": "string"},
    "stores": {"store_id": "int64", "name": "string", "region": "string", "country": "string"},
    "products": {"product_id": "int64", "name": "string", "category": "string",
                 "price": "float64"},
    "purchases": {"purchase_id": "int64", "customer_id": "int64", "product_id": "int64",
                  "amount": "float64", "purchased_at": "timestamp"},
}


def make_workspace(root: Path, data_url: str | None = None, control_url: str | None = None,
                   rows: dict[str, list[dict[str, Any]]] | None = None) -> Workspace:
    """A workspace in `root` holding ROWS (or `rows`), on DuckDB unless `data_url` says."""
    ws = Workspace.init(root)
    config = (root / "overture.toml").read_text()
    if data_url:
        config = config.replace('url = "duckdb:///.overture/data.duckdb"', f'url = "{data_url}"')
    if control_url:
        config = config.replace('url = "sqlite:///.overture/control.db"',
                                f'url = "{control_url}"')
    (root / "overture.toml").write_text(config)
    (root / "schema.yaml").write_text(SCHEMA_YAML)
    ws = Workspace.open(root)
    for name, table_rows in (rows or ROWS).items():
        schema = ibis.schema(TYPES[name]) if name in TYPES else None
        ws.data.con.create_table(name, ibis.memtable(table_rows, schema=schema))
    return ws


def ids(rows: list[dict[str, Any]], predicate: Any) -> set[int]:
    """The customer ids of ROWS' customers for which `predicate(row)` holds."""
    return {r["customer_id"] for r in rows if predicate(r)}
