"""`overture report` on the workspace (in-process, Typer's runner): JSON and CSV shapes,
the table for people, `--run`/`--activity`, `--plot`, and clean errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from overture.cli.main import app
from overture.reports.figures import EXCLUSION_REASONS
from reports.scenario import (
    CAMPAIGN,
    EXPECTED,
    EXPECTED_DAILY,
    EXPECTED_DOMAINS,
    EXPECTED_HOURLY,
    EXPECTED_LINKS,
    LINK_A,
    MAIL,
    Scenario,
    all_time,
    build,
)

TOP_KEYS = {"campaign", "run", "activity", "runs", "now", "windows", "include_machine",
            "totals", "activities", "by_run"}
ACTIVITY_KEYS = {*EXPECTED, "channel", "last_24h", "links", "domains", "variants", "timeline"}
FIGURE_HEADER = ["campaign", "scope", "run", "activity", "channel", "window", "targeted",
                 "excluded", *(f"excluded_{r}" for r in EXCLUSION_REASONS), "pending", "sent",
                 "delivered", "bounces_hard", "bounces_soft", "errors", "opens_total",
                 "opens_unique", "opens_machine", "clicks_total", "clicks_unique",
                 "clicks_machine", "unsubscribes", "complaints", "ctr", "ctr_basis", "ctor"]


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory,
         data_urls: Callable[[], str | None]) -> Iterator[Scenario]:
    scenario = build(tmp_path_factory.mktemp("cli"), data_url=data_urls())
    tested = scenario.h.run(MAIL, mode="test", name="tried")  # a campaign never live
    assert tested["status"] == "done"
    scenario.h.close()  # the commands open the workspace themselves
    yield scenario


def report(news: Scenario, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, ["--workspace", str(news.root), "report", *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code == code, result.output
    return result


def csv_of(news: Scenario, *args: str) -> tuple[list[str], list[dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(report(news, CAMPAIGN, "--format", "csv",
                                               *args).stdout))
    return list(reader.fieldnames or []), list(reader)


def test_json_is_the_report(news: Scenario) -> None:
    data = json.loads(report(news, CAMPAIGN, "--format", "json").stdout)
    assert set(data) == TOP_KEYS
    mail = data["activities"]["mail"]
    assert set(mail) == ACTIVITY_KEYS
    assert all_time(mail) == EXPECTED
    assert all_time(data["totals"]) == EXPECTED
    assert mail["links"] == EXPECTED_LINKS
    assert mail["domains"] == EXPECTED_DOMAINS
    assert mail["timeline"] == {"hourly": EXPECTED_HOURLY, "daily": EXPECTED_DAILY}
    assert [r["run"] for r in data["by_run"]] == [news.run]


def test_csv_figures_one_row_per_scope_and_window(news: Scenario) -> None:
    header, rows = csv_of(news)
    assert header == FIGURE_HEADER
    assert [(r["scope"], r["run"], r["activity"], r["window"]) for r in rows] == [
        ("campaign", "", "", "all"), ("campaign", "", "", "last_24h"),
        ("activity", "", "mail", "all"), ("activity", "", "mail", "last_24h"),
        ("run", news.run, "", "all"), ("run", news.run, "", "last_24h")]
    mail = rows[2]
    assert mail["channel"] == "email"
    assert {k: mail[k] for k in FIGURE_HEADER[6:]} == {
        "targeted": "12", "excluded": "6", "excluded_no_address": "2",
        "excluded_invalid_address": "2", "excluded_no_consent": "2",
        "excluded_unsubscribed": "0", "excluded_suppressed": "0",
        "excluded_frequency_cap": "0", "excluded_quiet_hours": "0",
        "excluded_throttle_window": "0", "pending": "0", "sent": "5", "delivered": "3",
        "bounces_hard": "1", "bounces_soft": "1", "errors": "1", "opens_total": "3",
        "opens_unique": "2", "opens_machine": "2", "clicks_total": "4", "clicks_unique": "2",
        "clicks_machine": "1", "unsubscribes": "1", "complaints": "1", "ctr": "0.6667",
        "ctr_basis": "delivered", "ctor": "1.0"}
    assert rows[0] | {"scope": "", "activity": "", "channel": ""} == \
        mail | {"scope": "", "activity": "", "channel": ""}


def test_csv_breakdowns(news: Scenario) -> None:
    header, links = csv_of(news, "--table", "links")
    assert header == ["activity", "link", "url", "clicks", "unique", "machine"]
    assert links == [{"activity": "mail", **{k: str(v) for k, v in link.items()}}
                     for link in EXPECTED_LINKS]
    header, domains = csv_of(news, "--table", "domains")
    assert header[:3] == ["scope", "activity", "domain"]
    assert [(d["scope"], d["domain"], d["targeted"]) for d in domains] == [
        ("campaign", "example.com", "8"), ("campaign", "(none)", "3"),
        ("campaign", "example", "1"), ("activity", "example.com", "8"),
        ("activity", "(none)", "3"), ("activity", "example", "1")]
    header, hourly = csv_of(news, "--table", "hourly")
    assert header == ["scope", "activity", "at", "sent", "opens", "clicks"]
    assert [(h["at"], h["sent"], h["opens"], h["clicks"]) for h in hourly
            if h["scope"] == "activity"] == [
        (b["at"], str(b["sent"]), str(b["opens"]), str(b["clicks"])) for b in EXPECTED_HOURLY]
    _, daily = csv_of(news, "--table", "daily")
    assert len(daily) == 2 * len(EXPECTED_DAILY)
    header, variants = csv_of(news, "--table", "variants")
    assert header[:3] == ["activity", "variant", "baseline"] and variants == []


def test_the_table_for_people(news: Scenario) -> None:
    out = report(news, CAMPAIGN).stdout
    for text in ("Campaign news", "1 live run", "Figures", "mail (email)", "last 24 h",
                 "excluded: no_consent", "CTR (over delivered)", "66.7 %", "mail: links",
                 LINK_A, "example.com", "mail: per day (UTC)", "2027-03-01"):
        assert text in out, (text, out)


def test_one_run_or_one_activity(news: Scenario) -> None:
    data = json.loads(report(news, CAMPAIGN, "--run", news.run[:6], "--activity", "mail",
                             "--format", "json").stdout)
    assert (data["run"], data["activity"], data["runs"]) == (news.run, "mail", 1)
    assert all_time(data["activities"]["mail"]) == EXPECTED
    machine = json.loads(report(news, CAMPAIGN, "--include-machine", "--format",
                                "json").stdout)
    assert machine["include_machine"] is True
    assert machine["activities"]["mail"]["opens"] == {"total": 5, "unique": 3, "machine": 2}


def test_nothing_to_report_exits_1_with_a_sentence(news: Scenario) -> None:
    result = report(news, "tried", code=1)
    assert "campaign 'tried' has no live run" in result.output
    result = report(news, "nope", "--format", "json", code=1)
    assert "no campaign 'nope'" in result.output and result.stdout == ""
    result = report(news, CAMPAIGN, "--activity", "nope", code=1)
    assert "channel activity 'nope'" in result.output
    result = report(news, CAMPAIGN, "--run", "ffffffffffff", code=1)
    assert "no run" in result.output


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_draws_the_funnel_and_the_timeline(news: Scenario, tmp_path: Path,
                                                suffix: str) -> None:
    path = tmp_path / "out" / f"news{suffix}"
    result = report(news, CAMPAIGN, "--format", "json", "--plot", str(path))
    assert json.loads(result.stdout)["campaign"] == CAMPAIGN  # stdout stays JSON
    assert "drew the funnel and the timeline" in result.stderr
    content = path.read_bytes()
    assert len(content) > 1000
    if suffix == ".png":
        assert content.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        text = content.decode()
        assert "<svg" in text and "delivery funnel" in text


def test_plot_refuses_other_formats_before_anything(news: Scenario, tmp_path: Path) -> None:
    result = report(news, CAMPAIGN, "--plot", str(tmp_path / "news.pdf"), code=1)
    assert "--plot writes .png or .svg files" in result.output
    assert not (tmp_path / "news.pdf").exists()
