"""`overture campaign schedule FILE`: the next starts of a document's schedule (spec §7).

One ISO 8601 instant with its UTC offset per line, `--json` for tools; no schedule
is exit 1, a signal schedule says it has no timed starts; errors are messages, never
a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from overture.cli.campaign import _schedule_document
from overture.cli.main import app

DOC = """\
name: newsletter
timezone: Europe/Paris
{schedule}
activities:
  - id: buyers
    type: build_audience
    rule: {{field: country, op: eq, value: FR}}
"""
MON_THU = 'schedule:\n  weekly: {days: [mon, thu], at: "09:00"}'
AROUND_THE_CHANGE = ["2027-03-25T09:00:00+01:00", "2027-03-29T09:00:00+02:00",
                     "2027-04-01T09:00:00+02:00", "2027-04-05T09:00:00+02:00"]


def run(*args: str) -> Any:
    result = CliRunner().invoke(app, ["campaign", "schedule", *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


def document(folder: Path, schedule: str, name: str = "campaign.yaml",
             timezone: str = "Europe/Paris") -> str:
    path = folder / name
    text = DOC.format(schedule=schedule).replace("Europe/Paris", timezone)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_lists_the_next_starts_one_per_line(tmp_path: Path) -> None:
    result = run(document(tmp_path, MON_THU), "--after", "2027-03-24T00:00", "--count", "4")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == AROUND_THE_CHANGE
    assert result.stderr == ""


def test_json(tmp_path: Path) -> None:
    result = run(document(tmp_path, MON_THU), "--after", "2027-03-24T00:00", "--count", "4",
                 "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"starts": AROUND_THE_CHANGE}


def test_ten_starts_by_default(tmp_path: Path) -> None:
    result = run(document(tmp_path, MON_THU), "--after", "2027-03-24T00:00")
    lines = result.stdout.splitlines()
    assert len(lines) == 10
    assert lines[:4] == AROUND_THE_CHANGE
    assert lines[-1] == "2027-04-26T09:00:00+02:00"


def test_after_with_an_offset_is_that_instant(tmp_path: Path) -> None:
    # 08:30 UTC on Thursday the 25th is 09:30 in Paris: Thursday's start has passed
    result = run(document(tmp_path, MON_THU), "--after", "2027-03-25T08:30:00+00:00",
                 "--count", "1")
    assert result.stdout.splitlines() == ["2027-03-29T09:00:00+02:00"]
    result = run(document(tmp_path, MON_THU), "--after", "2027-03-25T07:30Z", "--count", "1")
    assert result.stdout.splitlines() == ["2027-03-25T09:00:00+01:00"]


def test_a_naive_after_is_read_in_the_campaigns_zone(tmp_path: Path) -> None:
    path = document(tmp_path, 'schedule: {daily: {at: "09:00"}}', timezone="America/New_York")
    result = run(path, "--after", "2027-03-13T08:59", "--count", "2")
    assert result.stdout.splitlines() == ["2027-03-13T09:00:00-05:00",
                                          "2027-03-14T09:00:00-04:00"]


def test_without_after_it_lists_from_now(tmp_path: Path) -> None:
    result = run(document(tmp_path, 'schedule: {once: "2099-06-01T09:00"}'))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["2099-06-01T09:00:00+02:00"]
    assert result.stderr.startswith("only 1 start(s) after ")


def test_a_schedule_that_has_ended_lists_nothing_and_says_so(tmp_path: Path) -> None:
    path = document(tmp_path, 'schedule: {once: "2027-03-01T09:00"}')
    result = run(path, "--after", "2027-03-01T09:00")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == "no start after 2027-03-01T09:00:00+01:00: the schedule ends"
    result = run(path, "--after", "2027-03-01T09:00", "--json")
    assert json.loads(result.stdout) == {"starts": []}


def test_the_validity_window_ends_the_list(tmp_path: Path) -> None:
    schedule = 'schedule:\n  daily: {at: "09:00"}\n  start: 2027-06-01\n  end: 2027-06-02'
    result = run(document(tmp_path, schedule), "--after", "2027-01-01T00:00")
    assert result.stdout.splitlines() == ["2027-06-01T09:00:00+02:00",
                                          "2027-06-02T09:00:00+02:00"]
    assert "only 2 start(s) after 2027-01-01T00:00:00+01:00: the schedule ends" in result.stderr


def test_a_time_in_the_spring_gap(tmp_path: Path) -> None:
    path = document(tmp_path, 'schedule: {once: "2027-03-28T02:30"}')
    result = run(path, "--after", "2027-03-01T00:00", "--json")
    assert json.loads(result.stdout) == {"starts": ["2027-03-28T03:30:00+02:00"]}


def test_no_schedule_is_exit_1_with_a_message(tmp_path: Path) -> None:
    path = document(tmp_path, "")
    result = run(path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == f"error: {path}: no schedule: the campaign starts only by hand"
    result = run(path, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"starts": []}
    assert "no schedule" in result.stderr


def test_a_signal_schedule_has_no_timed_starts(tmp_path: Path) -> None:
    path = document(tmp_path, 'schedule: {signal: {min_interval: "1h"}}')
    result = run(path)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == (f"{path}: started by signals through the API, at most "
                                     "once every 1h; no timed starts")
    result = run(path, "--json")
    assert json.loads(result.stdout) == {"starts": []}


def test_an_invalid_schedule_prints_every_problem(tmp_path: Path) -> None:
    path = document(tmp_path, "schedule:\n  weekly: {days: [mon, mox], at: 9h}")
    result = run(path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "✗ schedule.weekly.days[1]: unknown day 'mox'; did you mean 'mon'?",
        "✗ schedule.weekly.at: must be a time HH:MM such as \"09:00\", not '9h'",
    ]


def test_a_schedule_that_is_not_a_mapping(tmp_path: Path) -> None:
    result = run(document(tmp_path, "schedule: every monday"))
    assert result.exit_code == 1
    assert result.stderr.startswith("✗ schedule: must be a mapping such as {weekly:")


def test_a_bad_after_is_a_clean_error(tmp_path: Path) -> None:
    result = run(document(tmp_path, MON_THU), "--after", "yesterday")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == ("error: --after: 'yesterday' is not an ISO 8601 instant "
                                     "such as 2027-03-01T09:00 or 2027-03-01T09:00+01:00")


def test_a_missing_file_or_a_bad_zone_is_a_clean_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = run(str(missing))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {missing}: no such file"
    path = document(tmp_path, MON_THU, timezone="Europe/Pariss")
    result = run(path, "--after", "2027-01-01T00:00Z")
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: {path}: timezone: 'Europe/Pariss' is not an IANA "
                                     "time zone such as Europe/Paris")


def test_count_must_be_at_least_1(tmp_path: Path) -> None:
    result = run(document(tmp_path, MON_THU), "--count", "0")
    assert result.exit_code == 2


def test_a_json_document_and_utc_by_default(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "c", "schedule": {"cron": "15 9 * * 1-5"},
                                "activities": []}), encoding="utf-8")
    result = run(str(path), "--after", "2027-03-26T10:00", "--count", "2")
    assert result.stdout.splitlines() == ["2027-03-29T09:15:00+00:00",
                                          "2027-03-30T09:15:00+00:00"]


def test_the_document_is_read_by_one_small_function(tmp_path: Path) -> None:
    path = document(tmp_path, MON_THU)
    raw, origin = _schedule_document(path)
    assert origin == path
    assert raw["schedule"] == {"weekly": {"days": ["mon", "thu"], "at": "09:00"}}
