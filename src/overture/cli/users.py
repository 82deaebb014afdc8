"""`overture users`: users and roles, passwords, and API tokens for scripts.

Whoever can run these commands on the workspace can read its control plane
anyway, so they ask for no login. Passwords and tokens are printed once, on
standard output and on a line of their own, and never again.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from overture.auth.errors import AuthError
from overture.auth.roles import Role
from overture.cli.common import clean_errors, console, workspace_session

if TYPE_CHECKING:  # SQLAlchemy and argon2 load only when a command runs
    from overture.store.users import TokenRecord, UserRecord, UserRepository

app = typer.Typer(
    help="Users and their roles (viewer < manager < approver < admin), passwords, and API "
         "tokens for scripts.",
    no_args_is_help=True,
)

ROLES = ", ".join(role.value for role in Role)
NameArg = Annotated[str, typer.Argument(help="The username.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from standard input (one line) instead of "
                             "generating one.")]
NOT_SHOWN_AGAIN = "It will not be shown again: copy it now."


def _users(ws: Any) -> UserRepository:
    from overture.store.users import UserRepository

    return UserRepository(ws.control)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _read_password() -> str:
    """One line of standard input, without its line ending."""
    text = sys.stdin.read()
    if text.endswith("\n"):
        text = text[:-1].removesuffix("\r")
    if "\n" in text or "\r" in text:
        raise AuthError("--password-stdin reads one line; standard input holds several")
    if not text:
        raise AuthError("--password-stdin: standard input is empty")
    return text


def _new_password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set, and whether it was generated (and so must be printed)."""
    if from_stdin:
        return _read_password(), False
    from overture.auth.passwords import generate_password

    return generate_password(), True


def _print_password(username: str, password: str) -> None:
    typer.echo(f"password for {username}:")
    typer.echo(password)
    typer.echo(NOT_SHOWN_AGAIN)


def _user_json(user: UserRecord) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role.value,
            "created_at": _iso(user.created_at), "disabled_at": _iso(user.disabled_at)}


def _token_json(token: TokenRecord) -> dict[str, Any]:
    return {"id": token.id, "label": token.name, "state": token.state(),
            "created_at": _iso(token.created_at), "last_used_at": _iso(token.last_used_at),
            "expires_at": _iso(token.expires_at), "revoked_at": _iso(token.revoked_at)}


@app.command("add")
@clean_errors
def add_command(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", "-r", help=f"One of {ROLES}.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user; without --password-stdin a password is generated and printed once."""
    level = Role.parse(role)
    password, generated = _new_password(password_stdin)
    with workspace_session() as ws:
        user = _users(ws).add_user(name, level, password)
    console.print(f"added user [bold]{escape(user.username)}[/] ({user.role.value})",
                  highlight=False)
    if generated:
        _print_password(user.username, password)


@app.command("list")
@clean_errors
def list_command(as_json: JsonOpt = False) -> None:
    """Every user, its role and whether it is disabled."""
    with workspace_session() as ws:
        users = _users(ws).list_users()
    if as_json:
        typer.echo(json.dumps([_user_json(user) for user in users], indent=2))
        return
    table = Table()
    for column in ("username", "role", "status", "created (UTC)", "disabled (UTC)"):
        table.add_column(column)
    for user in users:
        table.add_row(escape(user.username), user.role.value,
                      "enabled" if user.enabled else "[red]disabled[/]",
                      _when(user.created_at), _when(user.disabled_at))
    console.print(table)


@app.command("set-role")
@clean_errors
def set_role_command(
    name: NameArg,
    role: Annotated[str, typer.Argument(help=f"One of {ROLES}.")],
) -> None:
    """Give a user another role (the last enabled admin cannot be demoted)."""
    with workspace_session() as ws:
        user = _users(ws).set_role(name, Role.parse(role))
    console.print(f"{escape(user.username)} is now {user.role.value}", highlight=False)


@app.command("password")
@clean_errors
def password_command(name: NameArg, password_stdin: PasswordStdin = False) -> None:
    """Set a user's password (and end its browser sessions); generated unless --password-stdin."""
    password, generated = _new_password(password_stdin)
    with workspace_session() as ws:
        user = _users(ws).set_password(name, password)
    console.print(f"password of {escape(user.username)} changed; its browser sessions ended",
                  highlight=False)
    if generated:
        _print_password(user.username, password)


@app.command("disable")
@clean_errors
def disable_command(name: NameArg) -> None:
    """Disable a user: no more logins, its sessions end and its tokens are revoked."""
    with workspace_session() as ws:
        user = _users(ws).disable(name)
    console.print(f"disabled {escape(user.username)}: its sessions ended and its tokens are "
                  "revoked", highlight=False)


@app.command("enable")
@clean_errors
def enable_command(name: NameArg) -> None:
    """Let a disabled user log in again (its old tokens stay revoked)."""
    with workspace_session() as ws:
        user = _users(ws).enable(name)
    console.print(f"enabled {escape(user.username)}", highlight=False)


@app.command("token")
@clean_errors
def token_command(
    name: NameArg,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "token",
    expires_days: Annotated[int | None, typer.Option(
        "--expires-days", min=1, help="Expire after this many days (default: never).")] = None,
) -> None:
    """Create an API token acting as this user, for scripts; printed once."""
    expires_at = None
    if expires_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=expires_days)
    with workspace_session() as ws:
        token, secret = _users(ws).create_token(name, label, expires_at)
    until = f"expires {_when(token.expires_at)} UTC" if token.expires_at else "never expires"
    console.print(f"token {token.id} ({escape(token.name)}) for {escape(name)}, {until}:",
                  highlight=False)
    typer.echo(secret)
    typer.echo(f"{NOT_SHOWN_AGAIN} Scripts send it as `Authorization: Bearer <token>`.")


@app.command("tokens")
@clean_errors
def tokens_command(name: NameArg, as_json: JsonOpt = False) -> None:
    """A user's API tokens, revoked and expired ones too (never their secrets)."""
    with workspace_session() as ws:
        tokens = _users(ws).list_tokens(name)
    if as_json:
        typer.echo(json.dumps([_token_json(token) for token in tokens], indent=2))
        return
    table = Table()
    for column in ("id", "label", "state", "created (UTC)", "last used (UTC)",
                   "expires (UTC)"):
        table.add_column(column, no_wrap=column == "id")
    for token in tokens:
        state = token.state()
        table.add_row(token.id, escape(token.name),
                      state if state == "active" else f"[red]{state}[/]",
                      _when(token.created_at), _when(token.last_used_at),
                      _when(token.expires_at))
    console.print(table)


@app.command("revoke")
@clean_errors
def revoke_command(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `overture users tokens`).")],
) -> None:
    """Revoke an API token: scripts using it are refused from now on."""
    with workspace_session() as ws:
        users = _users(ws)
        token = users.revoke_token(token_id)
        owner = users.user_by_id(token.user_id)
    console.print(f"revoked token {token.id} ({escape(token.name)}) of "
                  f"{escape(owner.username)}", highlight=False)
