"""`overture rule count|sql FILE ACTIVITY` through the real command line (CliRunner)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from overture.cli.main import app
from overture.data.workspace import Workspace
from support.workspace import ROWS

from .helpers import sql_ids

CAMPAIGN = """\
name: spring-sale
timezone: Europe/Paris
variables:
  min_total: {type: number, default: 1000, test_value: 100}
activities:
  - id: buyers
    type: build_audience
    rule:
      all:
        - {field: country, op: in, value: [FR, ES]}
        - exists: {link: purchases, where: {field: purchased_at, op: in_last, value: 90 days}}
        - aggregate: {link: purchases, fn: sum, field: amount}
          op: gte
          value: ${vars.min_total}
  - id: newcomers
    type: build_audience
    rule: {field: signup_date, op: gte, value: 2024-01-01}
  - id: tiers
    type: split
    inputs: [buyers]
    subsets:
      - {id: vip, rule: {field: loyalty_tier, op: eq, value: gold}}
"""
CLOCK = "2027-03-01T09:00:00+00:00"


def expected_buyers(min_total: float = 100) -> set[int]:
    """Hand-computed from ROWS: FR/ES, a purchase in the 90 days to the clock, total >= 100."""
    now = datetime(2027, 3, 1, 9, 0)
    out = set()
    for c in ROWS["customers"]:
        mine = [p for p in ROWS["purchases"] if p["customer_id"] == c["customer_id"]]
        recent = any(now - timedelta(days=90) <= p["purchased_at"] <= now for p in mine)
        if c["country"] in ("FR", "ES") and recent and sum(p["amount"] for p in mine) >= min_total:
            out.add(c["customer_id"])
    return out


@pytest.fixture(scope="module")
def cli_ws(tmp_path_factory: pytest.TempPathFactory,
           data_urls: Callable[[], str | None]) -> tuple[Workspace, Path]:
    from support.workspace import make_workspace

    root = tmp_path_factory.mktemp("cli")
    ws = make_workspace(root / "ws", data_url=data_urls())
    ws.close()  # the CLI opens the workspace itself
    campaign = root / "spring-sale.yaml"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    return ws, campaign


def run(ws_root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["-w", str(ws_root), "rule", *args])
    return result.exit_code, result.stdout, result.stderr


def test_count_json(cli_ws: tuple[Workspace, Path]) -> None:
    ws, campaign = cli_ws
    code, out, err = run(ws.root, "count", str(campaign), "buyers", "--json", "--clock", CLOCK)
    assert code == 0, err
    assert json.loads(out) == {"count": len(expected_buyers()), "over_whole_dimension": False}
    assert expected_buyers() == {1, 2, 5, 12}


def test_count_with_a_naive_clock_is_utc(cli_ws: tuple[Workspace, Path]) -> None:
    ws, campaign = cli_ws
    code, out, err = run(ws.root, "count", str(campaign), "buyers", "--json",
                         "--clock", "2027-03-01T09:00")
    assert code == 0, err
    assert json.loads(out)["count"] == len(expected_buyers())


def test_count_of_a_rule_with_a_yaml_date(cli_ws: tuple[Workspace, Path]) -> None:
    ws, campaign = cli_ws
    code, out, err = run(ws.root, "count", str(campaign), "newcomers", "--json")
    assert code == 0, err
    expected = sum(1 for c in ROWS["customers"] if str(c["signup_date"]) >= "2024-01-01")
    assert json.loads(out) == {"count": expected, "over_whole_dimension": False}


def test_count_of_a_split_subset_is_over_the_whole_dimension(
        cli_ws: tuple[Workspace, Path]) -> None:
    ws, campaign = cli_ws
    code, out, err = run(ws.root, "count", str(campaign), "tiers.vip", "--json")
    assert code == 0, err
    gold = sum(1 for c in ROWS["customers"] if c["loyalty_tier"] == "gold")
    assert json.loads(out) == {"count": gold, "over_whole_dimension": True}


def test_count_in_words(cli_ws: tuple[Workspace, Path]) -> None:
    ws, campaign = cli_ws
    code, out, err = run(ws.root, "count", str(campaign), "buyers", "--clock", CLOCK)
    assert code == 0, err
    assert f"{len(expected_buyers())} profiles" in out


def test_sql_prints_the_sql_that_runs(cli_ws: tuple[Workspace, Path]) -> None:
    ws, campaign = cli_ws
    code, out, err = run(ws.root, "sql", str(campaign), "buyers", "--clock", CLOCK)
    assert code == 0, err
    assert out.lstrip().upper().startswith(("SELECT", "WITH"))
    assert "purchases" in out and "'FR'" in out and "'ES'" in out
    # the test variable (100) is in it as a literal, not the default (1000)
    assert "100" in out and "1000" not in out
    # run the printed SQL ourselves against the same DuckDB file
    from overture.data.workspace import Workspace as W

    opened = W.open(ws.root)
    try:
        assert sql_ids(opened, out) == expected_buyers()
    finally:
        opened.close()


@pytest.mark.parametrize(("args", "words"), [
    (["count", "{campaign}", "nope"], ["no activity 'nope'"]),
    (["count", "{campaign}", "tiers"], ["no rule of its own"]),
    (["count", "{campaign}", "tiers.gold"], ["no subset 'gold'"]),
    (["sql", "{root}/missing.yaml", "buyers"], ["missing.yaml"]),
])
def test_cli_errors_are_messages(cli_ws: tuple[Workspace, Path], args: list[str],
                                 words: list[str]) -> None:
    ws, campaign = cli_ws
    args = [a.format(campaign=campaign, root=campaign.parent) for a in args]
    code, out, err = run(ws.root, *args)
    assert code == 1
    assert "Traceback" not in out + err
    for word in words:
        assert word in out + err


def test_an_invalid_rule_is_reported_not_raised(cli_ws: tuple[Workspace, Path],
                                                tmp_path: Path) -> None:
    ws, _ = cli_ws
    bad = tmp_path / "bad.yaml"
    bad.write_text(CAMPAIGN.replace("{field: loyalty_tier, op: eq, value: gold}",
                                    "{field: loyalty_tier, op: gt, value: 3}")
                   .replace("field: amount}", "field: nope}"), encoding="utf-8")
    code, out, err = run(ws.root, "count", str(bad), "buyers")
    assert code == 1
    assert "buyers.rule.all[2].aggregate.field: unknown field 'nope' of 'purchases'" in err
    assert "tiers.subsets[0].rule.value: 3 is not text" in err
    assert "Traceback" not in out + err
