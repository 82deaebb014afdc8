"""The catalog helpers of the rule builder and the preview's profile picker, through
HTTP: a column's most frequent values, and profiles found by the start of their key or
email. Expectations are counted in Python over the generated rows, read with DuckDB
directly from the copy of the workspace made before the server started."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from overture.auth import Role
from server.conftest import Api, error
from support.retail import customers

pytestmark = pytest.mark.xdist_group("server_data")

VIEWER = Role.VIEWER


@pytest.fixture(scope="module")
def rows(api: Api) -> list[dict[str, Any]]:
    return customers(api.pristine)


def top(values: list[Any], limit: int) -> list[dict[str, Any]]:
    """Non-null values by count, most frequent first, ties by value."""
    counted = Counter(v for v in values if v is not None)
    ranked = sorted(counted.items(), key=lambda item: (-item[1], item[0]))
    return [{"value": value, "count": count} for value, count in ranked[:limit]]


def values(api: Api, path: str, role: Role | None = VIEWER) -> Any:
    return api.call("GET", f"/api/data/tables/{path}", role=role)


def test_the_most_frequent_values_of_a_column(api: Api, rows: list[dict[str, Any]]) -> None:
    answer = values(api, "customers/columns/country/values")
    assert answer.status == 200, answer.body
    assert answer.body["table"] == "customers" and answer.body["column"] == "country"
    assert answer.body["type"] == "string"
    assert answer.body["values"] == top([r["country"] for r in rows], 50)
    assert sum(v["count"] for v in answer.body["values"]) == \
        sum(1 for r in rows if r["country"] is not None)

    tiers = values(api, "customers/columns/loyalty_tier/values?limit=2").body["values"]
    assert tiers == top([r["loyalty_tier"] for r in rows], 2)
    # dates come back in ISO 8601, booleans as booleans
    signups = values(api, "customers/columns/signup_date/values?limit=5").body["values"]
    assert signups == [{"value": v["value"].isoformat(), "count": v["count"]}
                       for v in top([r["signup_date"] for r in rows], 5)]
    assert all(isinstance(date.fromisoformat(v["value"]), date) for v in signups)
    optin = values(api, "customers/columns/email_optin/values").body["values"]
    assert optin == top([r["email_optin"] for r in rows], 50)


def test_values_starting_with_a_prefix(api: Api, rows: list[dict[str, Any]]) -> None:
    cities = [r["city"] for r in rows]
    start = next(c for c in cities if c)[:2]
    expected = top([c for c in cities if c and c.lower().startswith(start.lower())], 50)
    assert expected
    for prefix in (start, start.upper(), start.lower()):
        got = values(api, f"customers/columns/city/values?prefix={prefix}").body["values"]
        assert got == expected, prefix
    # the prefix is a value, never SQL: quotes, wildcards and comments match themselves
    for prefix in ("%27%20OR%201%3D1%20--", "%25", "_", "%5C"):
        assert values(api, f"customers/columns/city/values?prefix={prefix}").body[
            "values"] == [], prefix
    assert values(api, "customers/columns/city/values?prefix=zzzz").body["values"] == []


def test_values_of_what_does_not_exist(api: Api) -> None:
    error(values(api, "no_table/columns/country/values"), 404, "not_found")
    missing = error(values(api, "customers/columns/no_column/values"), 404, "not_found")
    assert "no_column" in missing["message"]
    error(values(api, "customers/columns/country/values?limit=0"), 422, "invalid_request")
    error(values(api, "customers/columns/country/values?limit=501"), 422, "invalid_request")
    assert values(api, "customers/columns/country/values", role=None).status == 401


def profiles(api: Api, query: str = "", role: Role = VIEWER) -> Any:
    return api.call("GET", f"/api/data/profiles{query}", role=role)


def expected_profiles(rows: list[dict[str, Any]], q: str, limit: int) -> list[int]:
    start = q.lower()
    return sorted(r["customer_id"] for r in rows
                  if str(r["customer_id"]).startswith(start)
                  or (r["email"] or "").lower().startswith(start))[:limit]


def test_profiles_by_the_start_of_their_key_or_email(api: Api,
                                                     rows: list[dict[str, Any]]) -> None:
    answer = profiles(api)
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["table"] == "customers" and body["key"] == "customer_id"
    # the key, then display columns the table has: the email of schema.yaml first
    assert body["columns"] == ["customer_id", "email", "first_name", "last_name", "city",
                               "phone"]
    by_key = {r["customer_id"]: r for r in rows}
    assert [p["customer_id"] for p in body["profiles"]] == sorted(by_key)[:20]
    first = body["profiles"][0]
    assert set(first) == set(body["columns"])
    assert first == {c: by_key[first["customer_id"]][c] for c in body["columns"]}

    for q in ("1", "12", "RYAN", "ryan", "lu"):
        found = profiles(api, f"?q={q}&limit=100").body["profiles"]
        assert [p["customer_id"] for p in found] == expected_profiles(rows, q, 100), q
        assert found, q
    assert len(profiles(api, "?q=1&limit=3").body["profiles"]) == 3
    assert profiles(api, "?q=%27%20OR%201%3D1%20--").body["profiles"] == []
    assert profiles(api, "?q=%25").body["profiles"] == []


def test_profiles_of_another_dimension(api: Api) -> None:
    stores = profiles(api, "?table=stores&limit=3").body
    assert stores["key"] == "store_id" and stores["columns"] == ["store_id", "name", "city"]
    assert [s["store_id"] for s in stores["profiles"]] == sorted(
        s["store_id"] for s in stores["profiles"])
    error(profiles(api, "?table=no_table"), 404, "not_found")
    error(profiles(api, "?limit=0"), 422, "invalid_request")
