"""Channel templates are checked at validation: before anything runs, nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from overture.cli.main import app
from overture.data.workspace import Workspace
from overture.definition.campaign import parse_document
from overture.definition.validation import Environment, validate
from overture.engine.api import resume_run, run_campaign_file
from support.workspace import CLOCK

HEAD = """
name: content
variables: {coupon: {default: SPRING10}}
activities:
  - {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
  - {id: rich, type: enrich, inputs: [fr], attributes: [store.region]}
"""


def _problems(env: Environment, mail: str) -> list[tuple[str, str]]:
    result = validate(parse_document(HEAD + mail), env)
    return [(p.path, p.message) for p in result.problems]


def test_templates_naming_profile_work_and_variable_fields_are_valid(env: Environment) -> None:
    mail = """
  - id: mail
    type: email
    inputs: [rich]
    subject: "{{ first_name }}, {{ vars.coupon }}"
    html: "<p>Your store: {{ store_region }}</p>"
"""
    assert _problems(env, mail) == []


def test_an_undefined_variable_names_the_activity_field_and_a_guess(env: Environment) -> None:
    mail = """
  - id: mail
    type: email
    inputs: [rich]
    subject: "Hello {{ frist_name }}"
    html: "<p>{{ vars.cupon }}</p>"
"""
    problems = _problems(env, mail)
    assert ("mail.subject", "undefined variable 'frist_name' (did you mean 'first_name'?)") \
        in problems
    assert [path for path, _ in problems] == ["mail.subject", "mail.html"]
    assert "cupon" in problems[1][1]


def test_the_sandbox_refuses_reaching_into_python(env: Environment) -> None:
    mail = """
  - id: mail
    type: email
    inputs: [rich]
    subject: hi
    html: "{{ ''.__class__.__mro__ }}"
"""
    problems = _problems(env, mail)
    assert [path for path, _ in problems] == ["mail.html"]


def test_a_run_with_a_refused_template_never_starts(workspace: Workspace,
                                                    tmp_path: Path) -> None:
    doc = tmp_path / "bad.yaml"
    doc.write_text(HEAD + """
  - {id: mail, type: email, inputs: [rich], subject: hi, html: "{{ ''.__class__ }}"}
""")
    runs_before = len(workspace.control.list_runs(limit=1000))
    result = CliRunner().invoke(app, ["-w", str(workspace.root), "run", str(doc), "--test"])
    assert result.exit_code == 1
    assert "mail.html" in result.output
    assert len(workspace.control.list_runs(limit=1000)) == runs_before


def test_file_content_is_found_again_when_a_run_resumes(workspace: Workspace,
                                                        tmp_path: Path) -> None:
    folder = tmp_path / "campaign"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "mail.html").write_text("<p>Hi {{ first_name }}</p>")
    doc = folder / "file.yaml"
    doc.write_text(HEAD + """
  - {id: mail, type: email, inputs: [rich], subject: hi, html: {file: templates/mail.html}}
""")
    result = run_campaign_file(workspace, doc, clock=CLOCK)
    assert result["status"] == "done"
    stored = workspace.control.get_run(result["run"]).document
    html = stored["activities"][-1]["html"]["file"]
    assert Path(html).is_absolute() and Path(html).exists()
    # resuming validates the stored document again, from any working directory
    workspace.control.update_run(result["run"], status="running")
    workspace.control.upsert_activity_run(result["run"], "mail", status="running")
    again = resume_run(workspace, result["run"])
    assert again["status"] == "done"
    assert json.dumps(again["activities"]["mail"]["ports"]) == \
        json.dumps(result["activities"]["mail"]["ports"])
