"""`overture init`'s first admin and `overture users`, through the real command line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from overture.auth import Role
from overture.cli.main import app
from overture.data.workspace import Workspace
from overture.store.users import SESSIONS, TOKENS, USERS, UserRepository

PASSWORD = "typed-by-a-human-1"
GENERATED = re.compile(r"^([a-km-np-z2-9]{5}(?:-[a-km-np-z2-9]{5}){3})$", re.M)
TOKEN = re.compile(r"^(ovt_[0-9a-f]{16}_[A-Za-z0-9]{43})$", re.M)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    Workspace.init(root).close()
    return root


@contextmanager
def repository(root: Path) -> Iterator[UserRepository]:
    workspace = Workspace.open(root)
    try:
        yield UserRepository(workspace.control)
    finally:
        workspace.close()


def run(root: Path, *args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(app, ["--workspace", str(root), "users", *args], input=stdin)
    assert "Traceback" not in result.output, result.output
    return result


def ok(root: Path, *args: str, stdin: str | None = None) -> str:
    result = run(root, *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def error(root: Path, *args: str, stdin: str | None = None) -> str:
    result = run(root, *args, stdin=stdin)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return " ".join(str(result.stderr).split())


def table_dump(root: Path) -> str:
    from sqlalchemy import select

    workspace = Workspace.open(root)
    try:
        with workspace.control._engine.connect() as conn:
            return repr([list(conn.execute(select(t))) for t in (USERS, TOKENS, SESSIONS)])
    finally:
        workspace.close()


# ---- overture init ----
def test_init_prints_an_admin_password_once_and_it_works(tmp_path: Path):
    root = tmp_path / "new"
    result = CliRunner().invoke(app, ["init", str(root)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "admin user: admin" in out
    (password,) = re.findall(r"^password: +(\S+)$", out, re.M)
    assert GENERATED.fullmatch(password)
    assert out.count(password) == 1
    assert "will not be shown again" in out
    assert "overture users add NAME --role ROLE" in " ".join(out.split())
    with repository(root) as users:
        admin = users.authenticate("admin", password)
        assert admin is not None and admin.role is Role.ADMIN
        assert users.authenticate("admin", password + "x") is None
    assert password not in table_dump(root)
    assert password not in (root / "overture.toml").read_text()


# ---- add, list ----
def test_add_generates_a_password_printed_once(ws: Path):
    out = ok(ws, "add", "ann", "--role", "manager")
    assert "added user ann (manager)" in out
    (password,) = GENERATED.findall(out)
    assert "It will not be shown again" in out
    with repository(ws) as users:
        ann = users.authenticate("ann", password)
        assert ann is not None and ann.role is Role.MANAGER
    assert password not in table_dump(ws)
    assert password not in ok(ws, "list") + ok(ws, "list", "--json")


def test_add_reads_one_line_from_stdin(ws: Path):
    out = ok(ws, "add", "bob", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\r\n")
    assert PASSWORD not in out and not GENERATED.search(out)
    ok(ws, "add", "cid", "--role", "Approver", "--password-stdin", stdin=PASSWORD)
    with repository(ws) as users:
        assert users.authenticate("bob", PASSWORD) is not None
        cid = users.authenticate("cid", PASSWORD)
        assert cid is not None and cid.role is Role.APPROVER


def test_add_refuses_bad_input_cleanly(ws: Path):
    message = error(ws, "add", "ann", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert message == "error: password too short: it needs at least 10 characters"
    assert "--password-stdin reads one line" in error(
        ws, "add", "ann", "--role", "viewer", "--password-stdin", stdin="one-long-line\ntwo\n")
    assert "standard input is empty" in error(
        ws, "add", "ann", "--role", "viewer", "--password-stdin", stdin="")
    assert "unknown role 'boss'" in error(ws, "add", "ann", "--role", "boss")
    assert "username 'a b' is not valid" in error(ws, "add", "a b", "--role", "viewer")
    assert json.loads(ok(ws, "list", "--json")) == []
    ok(ws, "add", "ann", "--role", "viewer")
    assert error(ws, "add", "ann", "--role", "admin") == "error: user 'ann' exists already"


def test_list(ws: Path):
    ok(ws, "add", "zed", "--role", "admin")
    ok(ws, "add", "ann", "--role", "viewer")
    ok(ws, "disable", "ann")
    listed = json.loads(ok(ws, "list", "--json"))
    assert [(u["username"], u["role"], u["disabled_at"] is not None) for u in listed] == [
        ("ann", "viewer", True), ("zed", "admin", False)]
    assert datetime.fromisoformat(listed[0]["created_at"]).tzinfo is not None
    table = ok(ws, "list")
    assert re.search(r"ann .*viewer .*disabled", table) and re.search(r"zed .*admin .*enabled",
                                                                      table)


# ---- set-role, password, disable ----
def test_set_role_and_the_last_admin(ws: Path):
    ok(ws, "add", "root", "--role", "admin")
    ok(ws, "add", "ann", "--role", "viewer")
    assert "ann is now approver" in ok(ws, "set-role", "ann", "approver")
    message = error(ws, "set-role", "root", "manager")
    assert "cannot make 'root' manager: it is the last enabled admin" in message
    assert "cannot disable 'root': it is the last enabled admin" in error(ws, "disable", "root")
    with repository(ws) as users:
        assert users.get_user("ann").role is Role.APPROVER
        assert users.get_user("root").role is Role.ADMIN and users.get_user("root").enabled
    assert error(ws, "set-role", "nobody", "viewer") == "error: no user 'nobody'"


def test_password_changes_it(ws: Path):
    ok(ws, "add", "ann", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    out = ok(ws, "password", "ann")
    (generated,) = GENERATED.findall(out)
    with repository(ws) as users:
        assert users.authenticate("ann", PASSWORD) is None
        assert users.authenticate("ann", generated) is not None
    ok(ws, "password", "ann", "--password-stdin", stdin="yet another password\n")
    with repository(ws) as users:
        assert users.authenticate("ann", generated) is None
        assert users.authenticate("ann", "yet another password") is not None
    assert "at least 10" in error(ws, "password", "ann", "--password-stdin", stdin="tiny")
    assert error(ws, "password", "bob") == "error: no user 'bob'"


def test_disable_refuses_logins_and_tokens(ws: Path):
    ok(ws, "add", "root", "--role", "admin")
    ok(ws, "add", "ann", "--role", "manager", "--password-stdin", stdin=PASSWORD)
    (token,) = TOKEN.findall(ok(ws, "token", "ann"))
    out = ok(ws, "disable", "ann")
    assert "disabled ann" in out
    with repository(ws) as users:
        assert users.authenticate("ann", PASSWORD) is None
        assert users.user_for_token(token) is None
    assert "user 'ann' is disabled" in error(ws, "token", "ann")
    ok(ws, "enable", "ann")
    with repository(ws) as users:
        assert users.authenticate("ann", PASSWORD) is not None
        assert users.user_for_token(token) is None


# ---- tokens ----
def test_token_printed_once_works_until_revoked(ws: Path):
    ok(ws, "add", "ann", "--role", "manager")
    out = ok(ws, "token", "ann", "--label", "nightly export", "--expires-days", "30")
    (token,) = TOKEN.findall(out)
    assert "It will not be shown again" in out and "Authorization: Bearer" in out
    token_id = token.split("_")[1]
    assert f"token {token_id} (nightly export) for ann, expires" in " ".join(out.split())
    with repository(ws) as users:
        ann = users.user_for_token(token)
        assert ann is not None and ann.username == "ann"
        (record,) = users.list_tokens("ann")
        assert record.expires_at is not None
        assert abs(record.expires_at - (datetime.now(UTC) + timedelta(days=30))) < timedelta(
            minutes=1)
    assert token not in table_dump(ws)
    listed = ok(ws, "tokens", "ann", "--json")
    assert token.rsplit("_", 1)[1] not in listed
    (shown,) = json.loads(listed)
    assert (shown["id"], shown["label"], shown["state"]) == (token_id, "nightly export",
                                                             "active")
    assert shown["last_used_at"] is not None  # the lookup above used it
    assert token_id in ok(ws, "tokens", "ann")

    assert f"revoked token {token_id} (nightly export) of ann" in ok(ws, "revoke", token_id)
    with repository(ws) as users:
        assert users.user_for_token(token) is None
    assert json.loads(ok(ws, "tokens", "ann", "--json"))[0]["state"] == "revoked"
    assert error(ws, "revoke", "0123456789abcdef") == "error: no token '0123456789abcdef'"


def test_token_options_refused_cleanly(ws: Path):
    ok(ws, "add", "ann", "--role", "manager")
    result = run(ws, "token", "ann", "--expires-days", "0")
    assert result.exit_code == 2 and "--expires-days" in result.stderr
    assert error(ws, "token", "bob") == "error: no user 'bob'"
    assert error(ws, "tokens", "bob") == "error: no user 'bob'"
    assert json.loads(ok(ws, "tokens", "ann", "--json")) == []
    ok(ws, "token", "ann")  # the default label
    assert json.loads(ok(ws, "tokens", "ann", "--json"))[0]["label"] == "token"


def test_without_a_workspace_the_error_is_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("OVERTURE_WORKSPACE", raising=False)
    message = error(tmp_path / "nowhere", "list")
    assert "is not an Overture workspace" in message
