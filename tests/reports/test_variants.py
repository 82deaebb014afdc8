"""A/B variants: each variant's click rate and a two-proportion z-test against the first
variant, compared with values computed by hand."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.kit import Harness
from overture.data import events
from overture.data.messages import message_log
from overture.reports import campaign_report, report_resource
from overture.reports.significance import two_proportion_z
from support.workspace import ROWS

AB = """
- {id: all, type: build_audience}
- {id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>", subject: "Hi",
   html: '<p>Hi <a href="https://shop.example/x">x</a></p>',
   variants: [{id: control}, {id: bold, subject: "HI!"}]}
"""
DOMAINS = ("a.example", "b.example", "c.example")
#: how many of each variant's messages get a (human) click
CLICKERS = {"control": 5, "bold": 15}


def customers(n: int) -> list[dict[str, Any]]:
    return [{"customer_id": i, "first_name": f"P{i}", "email": f"p{i}@{DOMAINS[i % 3]}",
             "country": "FR", "loyalty_tier": "gold", "age": 30,
             "signup_date": date(2020, 1, 1), "store_id": 1, "email_optin": True,
             "phone": None, "sms_optin": False, "timezone": "UTC"} for i in range(1, n + 1)]


def test_the_z_test_of_a_textbook_example() -> None:
    # 200 of 1000 against 250 of 1000: pooled p = 0.225, se = sqrt(.225 * .775 * 2 / 1000)
    # = 0.0186748, z = 0.05 / se = 2.6774, two-sided p = erfc(z / sqrt 2) = 0.00742
    test = two_proportion_z(200, 1000, 250, 1000)
    assert test.z == pytest.approx(2.6774, abs=1e-4)
    assert test.p_value == pytest.approx(0.00742, abs=1e-5)
    assert test.lift == pytest.approx(0.25)
    assert test.enough_data and test.significant
    # the other way round: the same p-value, z negative
    back = two_proportion_z(250, 1000, 200, 1000)
    assert back.z == pytest.approx(-2.6774, abs=1e-4)
    assert back.p_value == pytest.approx(test.p_value)


def test_the_z_test_says_when_it_cannot_tell() -> None:
    same = two_proportion_z(5, 37, 5, 37)
    assert (same.z, same.p_value, same.significant) == (0.0, 1.0, False)
    few = two_proportion_z(1, 10, 4, 10)  # fewer than 5 clicks in a group
    assert few.p_value is not None and not few.enough_data and not few.significant
    nobody = two_proportion_z(0, 50, 0, 50)  # no variance at all
    assert (nobody.z, nobody.p_value, nobody.significant) == (None, None, False)
    empty = two_proportion_z(3, 0, 4, 10)  # the baseline sent nothing
    assert (empty.z, empty.p_value, empty.lift) == (None, None, None)


@pytest.fixture
def ab(tmp_path: Path, data_url: str | None
       ) -> Iterator[tuple[Harness, dict[str, list[str]]]]:
    h = Harness(tmp_path, rows={**ROWS, "customers": customers(80)}, data_url=data_url)
    result = h.run(AB, mode="live", name="ab")
    assert result["status"] == "done", result
    log = message_log(h.ws.data)
    assert log is not None
    rows = log.order_by("message_id").select("message_id", "variant").to_pyarrow().to_pylist()
    by_variant: dict[str, list[str]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], []).append(row["message_id"])
    clicks = [{"event_id": f"ab-{variant}-{n}", "message_id": mid, "type": "click",
               "link": 0, "url": "https://shop.example/x",
               "at": datetime(2027, 3, 1, 10, n % 60), "machine": False}
              for variant, wanted in CLICKERS.items()
              for n, mid in enumerate(by_variant[variant][:wanted])]
    # a machine click on a control message that nobody clicked: never counted in the test
    clicks.append({"event_id": "ab-scanner", "message_id": by_variant["control"][-1],
                   "type": "click", "link": 0, "at": datetime(2027, 3, 1, 10, 0),
                   "machine": True})
    events.append(h.ws.data, clicks)
    yield h, by_variant
    h.close()


def test_two_variants_with_their_click_rates_and_the_z_test_by_hand(
        ab: tuple[Harness, dict[str, list[str]]]) -> None:
    h, by_variant = ab
    # the split is fixed by the activity and each person (docs/content.md): 37 and 43
    assert {v: len(ids) for v, ids in by_variant.items()} == {"control": 37, "bold": 43}
    report = report_resource(h.ws, "ab")
    variants = report["activities"]["mail"]["variants"]
    assert report["activities"]["mail"]["ctr_basis"] == "sent"  # no delivery receipts
    assert [v["variant"] for v in variants] == ["control", "bold"]  # the document's order
    control, bold = variants
    assert control == {"variant": "control", "sent": 37, "delivered": 0, "opens": 0,
                       "clicks": 5, "click_rate": round(5 / 37, 4), "baseline": True,
                       "lift": None, "z": None, "p_value": None, "significant": False,
                       "enough_data": None}
    # by hand: p1 = 5/37 = 0.13514, p2 = 15/43 = 0.34884, pooled p = 20/80 = 0.25,
    # se = sqrt(0.25 * 0.75 * (1/37 + 1/43)) = 0.097098, z = 0.21370 / se = 2.2009,
    # two-sided p = erfc(2.2009 / sqrt 2) = 0.02774; lift = 0.34884 / 0.13514 - 1 = 1.5814
    assert (bold["sent"], bold["clicks"], bold["click_rate"]) == (43, 15, round(15 / 43, 4))
    assert bold["z"] == pytest.approx(2.2009, abs=1e-4)
    assert bold["p_value"] == pytest.approx(0.02774, abs=1e-5)
    assert bold["lift"] == pytest.approx(1.5814, abs=1e-4)
    assert bold["enough_data"] is True and bold["significant"] is True
    pooled = 20 / 80
    z = (15 / 43 - 5 / 37) / math.sqrt(pooled * (1 - pooled) * (1 / 37 + 1 / 43))
    assert bold["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)))


def test_without_the_documents_order_the_first_variant_is_the_first_by_name(
        ab: tuple[Harness, dict[str, list[str]]]) -> None:
    h, _ = ab
    variants = campaign_report(h.ws.data, "ab")["activities"]["mail"]["variants"]
    assert [v["variant"] for v in variants] == ["bold", "control"]
    assert variants[1]["z"] == pytest.approx(-2.2009, abs=1e-4)
    assert variants[1]["p_value"] == pytest.approx(0.02774, abs=1e-5)
