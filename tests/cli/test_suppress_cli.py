"""`overture suppress`: add, import, list and remove through the real command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from overture.cli.main import app
from overture.data import suppressions
from overture.data.workspace import Workspace
from support.workspace import make_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    make_workspace(root).close()
    return root


def run(ws: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--workspace", str(ws), "suppress", *args])
    assert "Traceback" not in result.output, result.output
    return result


def ok(ws: Path, *args: str) -> str:
    result = run(ws, *args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def error(ws: Path, *args: str) -> str:
    result = run(ws, *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    return " ".join(str(result.stderr).split())


def stored(ws: Path, channel: str) -> list[str]:
    """The suppressed addresses as the delivery engine will read them."""
    workspace = Workspace.open(ws)
    try:
        table = suppressions.suppressed_addresses(workspace.data, channel)
        return [] if table is None else sorted(table.to_pyarrow().column(0).to_pylist())
    finally:
        workspace.close()


def test_add_reports_added_already_and_invalid(ws: Path) -> None:
    out = ok(ws, "add", "Ann@Example.com", "ann@example.com ", " ", "bob@x.io")
    assert out.strip() == "suppressed 2 email addresses (1 already suppressed, 1 invalid)"
    out = ok(ws, "add", "BOB@x.io", "--reason", "complaint")
    assert out.strip() == "suppressed 0 email addresses (1 already suppressed, 0 invalid)"
    out = ok(ws, "add", "--channel", "sms", "+33 6 12-34.56")
    assert out.strip() == "suppressed 1 sms address (0 already suppressed, 0 invalid)"
    assert stored(ws, "email") == ["ann@example.com", "bob@x.io"]
    assert stored(ws, "sms") == ["+336123456"]


def test_unknown_channel_or_reason_is_an_error_without_traceback(ws: Path) -> None:
    assert "unknown channel 'fax': use email, sms or push" in error(
        ws, "add", "a@x.io", "--channel", "fax")
    assert "unknown reason 'spam': use manual, hard_bounce or complaint" in error(
        ws, "add", "a@x.io", "--reason", "spam")
    assert "unknown channel 'letter'" in error(ws, "list", "--channel", "letter")
    assert "unknown channel 'fax'" in error(ws, "remove", "a@x.io", "-c", "fax")
    assert stored(ws, "email") == []


def test_import_a_csv_file(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "bounces.csv"
    path.write_text("id,email,name\n1,ann@x.io,Ann\n2,ANN@x.io,Ann\n3,,Nobody\n4,cy@x.io,Cy\n",
                    encoding="utf-8")
    out = ok(ws, "import", str(path), "--reason", "hard_bounce")
    lines = out.strip().splitlines()
    assert lines[0] == "suppressed 2 email addresses (1 already suppressed, 1 invalid)"
    assert lines[1].startswith(f"read column 'email' of {path} in ")
    assert stored(ws, "email") == ["ann@x.io", "cy@x.io"]
    rows = json.loads(ok(ws, "list", "--json"))
    assert {(r["address"], r["reason"], r["source"]) for r in rows} == {
        ("ann@x.io", "hard_bounce", "import:bounces.csv"),
        ("cy@x.io", "hard_bounce", "import:bounces.csv")}


def test_import_with_column_and_channel(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("home;mobile\n01 02 03 04 05;+33 6 00 00 00 01\n", encoding="utf-8")
    out = ok(ws, "import", str(path), "--channel", "sms", "--column", "mobile")
    assert out.startswith("suppressed 1 sms address (0 already suppressed, 0 invalid)")
    assert stored(ws, "sms") == ["+33600000001"]
    bare = tmp_path / "bare.csv"
    bare.write_text("zed@x.io\n", encoding="utf-8")
    out = ok(ws, "import", str(bare))
    assert "read the only column, no header of" in out.replace("\n", " ")


@pytest.mark.parametrize(("content", "args", "message"), [
    (None, (), "missing.csv: no such file"),
    ("email,name\na@x.io,A\nb@x.io\n", (), "bad.csv, line 3: 1 field where the first line has 2"),
    ("work,home\nw@x.io,h@x.io\n", (), "say which holds the addresses with --column"),
    ("work,home\nw@x.io,h@x.io\n", ("--column", "office"), "no column 'office'"),
    ("email\na@x.io\n", ("--reason", "bounced"), "unknown reason 'bounced'"),
])
def test_import_errors_are_messages(ws: Path, tmp_path: Path, content: str | None,
                                    args: tuple[str, ...], message: str) -> None:
    name = "missing.csv" if content is None else "bad.csv"
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert message in error(ws, "import", str(path), *args)
    assert stored(ws, "email") == []


def test_list_shows_the_most_recent_first_with_a_limit(ws: Path) -> None:
    assert "no suppressed addresses" in ok(ws, "list")
    ok(ws, "add", "old@x.io")
    ok(ws, "add", "new@x.io")
    ok(ws, "add", "-c", "push", "Token12345")
    rows = json.loads(ok(ws, "list", "--json", "--limit", "2"))
    assert [r["address"] for r in rows] == ["Token12345", "new@x.io"]
    assert [r["address"] for r in json.loads(ok(ws, "list", "--json", "-c", "email"))] == [
        "new@x.io", "old@x.io"]
    assert rows[0]["channel"] == "push" and rows[0]["source"] == "cli"
    table = ok(ws, "list", "--channel", "email", "--limit", "1")
    assert "new@x.io" in table and "old@x.io" not in table
    assert "1 of 2 shown (email 2)" in table
    assert "no suppressed addresses on sms" in ok(ws, "list", "-c", "sms")


def test_remove(ws: Path) -> None:
    ok(ws, "add", "ann@x.io", "bob@x.io")
    out = ok(ws, "remove", " ANN@x.io", "nobody@x.io")
    assert out.strip() == "removed 1 email address from the suppression list (1 not on it)"
    assert stored(ws, "email") == ["bob@x.io"]


def test_on_a_postgres_data_plane(tmp_path: Path, postgres_url: str) -> None:
    root = tmp_path / "shop"
    make_workspace(root, data_url=postgres_url).close()
    out = ok(root, "add", "Ann@x.io", "ann@x.io")
    assert out.strip() == "suppressed 1 email address (1 already suppressed, 0 invalid)"
    path = tmp_path / "list.csv"
    path.write_text("email\nbob@x.io\nann@x.io\n", encoding="utf-8")
    assert ok(root, "import", str(path)).startswith(
        "suppressed 1 email address (1 already suppressed, 0 invalid)")
    assert ok(root, "remove", "ann@x.io").startswith("removed 1 email address")
    assert [r["address"] for r in json.loads(ok(root, "list", "--json"))] == ["bob@x.io"]
