"""The tiny retail workspace of tests/support, opened once, and helpers to validate YAML."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overture.data.workspace import Workspace
from overture.definition.campaign import parse_document
from overture.definition.validation import Environment, Validated, validate
from overture.engine.environment import environment_for
from support.workspace import make_workspace

CONTACTS_CSV = "email,first_name,points\nana@example.com,Ana,10\nzed@example.com,Zed,3\n"
SEMICOLON_CSV = "email;points\nana@example.com;10\n"


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("retail")
    ws = make_workspace(root)
    (root / "contacts.csv").write_text(CONTACTS_CSV, encoding="utf-8")
    (root / "semicolon.csv").write_text(SEMICOLON_CSV, encoding="utf-8")
    ws.filters_dir.mkdir(exist_ok=True)
    (ws.filters_dir / "french.yaml").write_text("field: country\nop: eq\nvalue: FR\n",
                                                encoding="utf-8")
    (ws.filters_dir / "broken.yaml").write_text("field: colour\nop: eq\nvalue: red\n",
                                                encoding="utf-8")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def env(workspace: Workspace) -> Environment:
    """Validation's view of the workspace; relative file paths start at its root."""
    return environment_for(workspace, workspace.root)


def check(text: str, env: Environment | None) -> Validated:
    """Validate a YAML document as the CLI does."""
    raw: Any = parse_document(text)
    return validate(raw, env)


def root_of(env: Environment) -> Path:
    assert env.base_dir is not None
    return env.base_dir
