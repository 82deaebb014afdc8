"""`overture campaign validate` and `overture campaign schema` through the command line.

Exit 0 on a valid document; exit 1 with every problem printed as `path: message` on
an invalid one; `--json` for tools; never a traceback, whatever the file holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from definition.samples import VALID
from overture.cli.main import app
from support.workspace import make_workspace

CONTACTS = "email,first_name,points\nana@example.com,Ana,10\n"

INVALID = """\
name: spring-sale
activities:
  - id: buyers
    type: build_audience
    rule: {field: colour, op: eq, value: red}
  - id: tiers
    type: split
    inputs: [buyers]
    subsets:
      - {id: vip, rule: {field: age, op: between, value: [1, 2, 3]}}
  - id: sample
    type: split
    inputs: [buyers]
    subsets:
      - {id: some, limit: {percent: 110}}
  - id: mail
    type: email
    inputs: [buyers.vip]
    subject: Hi
    text: Hello
"""
#: every problem of INVALID, as `path: message`, in the order they are printed:
#: structure, graph, then names and types (which need the workspace)
INVALID_PROBLEMS = [
    "sample.subsets[0].limit.percent: must be between 0 and 100",
    "mail.inputs[0]: unknown port 'vip' of 'buyers' (ports: out)",
    "buyers.rule.field: unknown field 'colour' of 'customers'",
    "tiers.subsets[0].rule.value: between takes [low, high]",
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny retail workspace, with the samples' file and saved filter beside it."""
    root = tmp_path_factory.mktemp("shop")
    make_workspace(root).close()
    (root / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    (root / "semicolon.csv").write_text("email;points\nana@example.com;10\n", encoding="utf-8")
    (root / "filters").mkdir(exist_ok=True)
    (root / "filters" / "french.yaml").write_text("{field: country, op: eq, value: FR}\n",
                                                  encoding="utf-8")
    return root


def run(workspace: Path | None, *args: str) -> Any:
    prefix = ["--workspace", str(workspace)] if workspace else []
    result = CliRunner().invoke(app, [*prefix, "campaign", *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def lines(text: str) -> list[str]:
    return [line.removeprefix("✗ ") for line in text.splitlines() if line.startswith("✗ ")]


# ------------------------------------------------------------------ valid documents

@pytest.mark.parametrize("name", sorted(VALID))
def test_a_valid_document_exits_0(shop: Path, name: str) -> None:
    path = write(shop, f"{name}.yaml", VALID[name])
    result = run(shop, "validate", str(path))
    assert result.exit_code == 0, result.output
    assert "is valid" in result.stdout
    assert result.stderr == ""


def test_a_valid_json_document(shop: Path) -> None:
    from overture.definition.campaign import parse_document

    data = parse_document(VALID["spring_sale"])
    path = write(shop, "spring.json", json.dumps(data))
    result = run(shop, "validate", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"valid": True, "problems": []}


def test_a_valid_document_names_its_campaign(shop: Path) -> None:
    result = run(shop, "validate", str(write(shop, "spring.yaml", VALID["spring_sale"])))
    assert "campaign 'spring-sale' is valid (4 activities)" in result.stdout


# ------------------------------------------------------------------ invalid documents

def test_every_problem_is_printed_as_path_colon_message(shop: Path) -> None:
    path = write(shop, "invalid.yaml", INVALID)
    result = run(shop, "validate", str(path))
    assert result.exit_code == 1
    assert lines(result.stderr) == INVALID_PROBLEMS
    assert f"4 problem(s) in {path}" in result.stderr
    assert result.stdout == ""


def test_json_output(shop: Path) -> None:
    result = run(shop, "validate", str(write(shop, "invalid.yaml", INVALID)), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert set(data) == {"valid", "problems"}
    assert data["valid"] is False
    assert [f"{p['path']}: {p['message']}" for p in data["problems"]] == INVALID_PROBLEMS
    assert [p["activity"] for p in data["problems"]] == ["sample", "mail", "buyers", "tiers"]
    for problem in data["problems"]:
        assert set(problem) == {"activity", "path", "message"}


def test_offline_checks_structure_and_graph_only(shop: Path) -> None:
    result = run(shop, "validate", str(write(shop, "invalid.yaml", INVALID)), "--offline")
    assert result.exit_code == 1
    assert lines(result.stderr) == INVALID_PROBLEMS[:2]


def test_without_a_workspace_structure_and_graph_are_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OVERTURE_WORKSPACE", raising=False)
    result = run(None, "validate", str(write(tmp_path, "invalid.yaml", INVALID)))
    assert result.exit_code == 1
    assert "no workspace: checking structure and graph only" in result.stderr
    assert lines(result.stderr) == INVALID_PROBLEMS[:2]
    valid = run(None, "validate", str(write(tmp_path, "ok.yaml", VALID["spring_sale"])))
    assert valid.exit_code == 0, valid.output


def test_brackets_in_messages_are_printed_as_written(shop: Path) -> None:
    """Messages hold `[low, high]` and `[0]`: not rich markup."""
    text = ("name: t\nactivities:\n  - {id: a, type: build_audience, rule: {all: [{field: age, "
            "op: between, value: [1]}, {field: '[bold]x[/]', op: eq, value: 1}]}}\n")
    result = run(shop, "validate", str(write(shop, "brackets.yaml", text)))
    assert lines(result.stderr) == [
        "a.rule.all[0].value: between takes [low, high]",
        "a.rule.all[1].field: unknown field '[bold]x[/]' of 'customers'",
    ]


def test_long_problems_are_not_wrapped(shop: Path) -> None:
    text = "name: t\nactivities:\n  - {id: a, type: teleport_" + "x" * 150 + "}\n"
    result = run(shop, "validate", str(write(shop, "long.yaml", text)))
    assert len(lines(result.stderr)) == 1
    assert lines(result.stderr)[0].startswith("a: unknown activity type 'teleport_xxx")


# ------------------------------------------------------------------ garbage files

GARBAGE: dict[str, bytes] = {
    "binary.yaml": bytes(range(256)) * 4,
    "latin1.yaml": "name: café\n".encode("latin-1"),
    "empty.yaml": b"",
    "comment.yaml": b"# nothing here\n",
    "list.yaml": b"- name: t\n- activities: []\n",
    "scalar.yaml": b"hello\n",
    "broken.yaml": b"name: t\nactivities: [\n",
    "tabs.yaml": b"name: t\n\tactivities: []\n",
    "twice.yaml": b"name: t\nname: u\nactivities: []\n",
    "python.yaml": b"!!python/object/apply:os.system ['echo hi']\n",
    "deep.yaml": b"[" * 5000 + b"]" * 5000,
    "deep.json": b"[" * 50000 + b"]" * 50000,
    "broken.json": b'{"name": "t", ',
    "list.json": b"[1, 2]",
    "nul.yaml": b"name: t\x00\n",
}
EXPECTED = {
    "binary.yaml": "not a text file",
    "latin1.yaml": "not a text file",
    "empty.yaml": "the document is empty",
    "comment.yaml": "the document is empty",
    "list.yaml": "must be a mapping at the top level",
    "scalar.yaml": "must be a mapping at the top level",
    "broken.yaml": "not valid YAML (line 3, column 1)",
    "tabs.yaml": "not valid YAML",
    "twice.yaml": "the key 'name' appears twice",
    "python.yaml": "not valid YAML",
    "deep.yaml": "nested too deeply to be a campaign document",
    "deep.json": "nested too deeply to be a campaign document",
    "broken.json": "not valid JSON",
    "list.json": "must be a mapping at the top level",
    "nul.yaml": "not valid YAML",
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_files_exit_1_without_a_traceback(shop: Path, tmp_path: Path,
                                                  name: str) -> None:
    path = tmp_path / name
    path.write_bytes(GARBAGE[name])
    result = run(shop, "validate", str(path))
    assert result.exit_code == 1
    assert f"error: {path}" in result.stderr.replace("\n", "")
    assert EXPECTED[name] in result.stderr
    as_json = run(shop, "validate", str(path), "--json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["valid"] is False
    assert len(data["problems"]) == 1 and EXPECTED[name] in data["problems"][0]["message"]


def test_a_directory(shop: Path, tmp_path: Path) -> None:
    result = run(shop, "validate", str(tmp_path))
    assert result.exit_code == 1
    assert "is a directory, not a campaign document" in result.stderr


def test_a_missing_file(shop: Path, tmp_path: Path) -> None:
    result = run(shop, "validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "no such file" in result.stderr


def test_a_document_of_wrong_types_everywhere(shop: Path) -> None:
    text = "name: [1]\ntimezone: 3\nvariables: []\nactivities: {a: 1}\ncanvas: 2\n"
    result = run(shop, "validate", str(write(shop, "types.yaml", text)), "--json")
    assert result.exit_code == 1
    paths = sorted(p["path"] for p in json.loads(result.stdout)["problems"])
    assert paths == ["activities", "canvas", "name", "timezone", "variables"]


# ------------------------------------------------------------------ schema

def test_schema_prints_json_schema() -> None:
    result = run(None, "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Campaign"
    assert "BuildAudience" in schema["$defs"]
