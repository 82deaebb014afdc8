"""Logging in and out, who am I, API tokens, and users (admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from overture.auth import AuthError, Role
from overture.server import views
from overture.server.auth import COOKIE, Admin, Viewer
from overture.server.errors import ApiError
from overture.store.users import UserRecord, UserRepository

router = APIRouter(prefix="/api", tags=["users"])
SESSION_HOURS = 12


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class TokenIn(BaseModel):
    name: str = Field(default="token", min_length=1, max_length=200)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=10, max_length=1000)


class RoleIn(BaseModel):
    role: Role


def _users(request: Request) -> UserRepository:
    return request.app.state.server.users


def _existing(users: UserRepository, username: str) -> UserRecord:
    """The user, or a 404 (not the 422 of an invalid request)."""
    try:
        return users.get_user(username)
    except AuthError:
        raise ApiError(404, "not_found", f"no user {username!r}") from None


@router.post("/auth/login", summary="Log in: sets the session cookie")
def login(request: Request, body: LoginIn, response: Response) -> dict[str, Any]:
    users = _users(request)
    user = users.authenticate(body.username, body.password)
    if user is None:
        raise ApiError(401, "unauthorized", "wrong username or password")
    secret = users.create_session(user.id, timedelta(hours=SESSION_HOURS))
    response.set_cookie(COOKIE, secret, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return {"user": views.user(user)}


@router.post("/auth/logout", summary="End this session")
def logout(request: Request, response: Response, user: Viewer) -> dict[str, Any]:
    cookie = request.cookies.get(COOKIE)
    if cookie:
        _users(request).end_session(cookie)
    response.delete_cookie(COOKIE)
    return {"ok": True}


@router.get("/me", summary="Who is logged in")
def me(user: Viewer) -> dict[str, Any]:
    return {"user": views.user(user)}


@router.get("/me/tokens", summary="My API tokens")
def my_tokens(request: Request, user: Viewer) -> dict[str, Any]:
    return {"tokens": [views.token(t) for t in _users(request).list_tokens(user.username)]}


@router.post("/me/tokens", status_code=201, summary="A new API token (shown once)")
def create_token(request: Request, body: TokenIn, user: Viewer) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(days=body.expires_days) \
        if body.expires_days else None
    record, secret = _users(request).create_token(user.username, body.name, expires)
    return {"token": views.token(record), "secret": secret}


@router.delete("/me/tokens/{token_id}", summary="Revoke one of my tokens")
def revoke_token(request: Request, token_id: str, user: Viewer) -> dict[str, Any]:
    users = _users(request)
    mine = {t.id for t in users.list_tokens(user.username)}
    if token_id not in mine:
        raise ApiError(404, "not_found", f"you have no token {token_id!r}")
    return {"token": views.token(users.revoke_token(token_id))}


@router.get("/users", summary="Users (admin)")
def list_users(request: Request, user: Admin) -> dict[str, Any]:
    return {"users": [views.user(u) for u in _users(request).list_users()]}


@router.post("/users", status_code=201, summary="Add a user (admin)")
def add_user(request: Request, body: UserIn, user: Admin) -> dict[str, Any]:
    users = _users(request)
    try:
        added = users.add_user(body.username, body.role, body.password)
    except AuthError:
        if any(u.username == body.username for u in users.list_users()):
            raise ApiError(409, "conflict", f"user {body.username!r} exists already") from None
        raise  # not an acceptable username: 422
    return {"user": views.user(added)}


@router.put("/users/{username}/role", summary="Change a user's role (admin)")
def set_role(request: Request, username: str, body: RoleIn, user: Admin) -> dict[str, Any]:
    users = _users(request)
    _existing(users, username)
    try:
        return {"user": views.user(users.set_role(username, body.role))}
    except AuthError as exc:  # the last enabled admin
        raise ApiError(409, "conflict", str(exc)) from None


@router.post("/users/{username}/disable", summary="Disable a user (admin)")
def disable_user(request: Request, username: str, user: Admin) -> dict[str, Any]:
    users = _users(request)
    _existing(users, username)
    try:
        return {"user": views.user(users.disable(username))}
    except AuthError as exc:  # the last enabled admin
        raise ApiError(409, "conflict", str(exc)) from None


@router.get("/settings", summary="The workspace's settings and providers (admin)")
def settings(request: Request, user: Admin) -> dict[str, Any]:
    """overture.toml as the server read it. Secrets are never in that file (only the
    names of the environment variables holding them), so nothing is hidden here."""
    ws = request.app.state.server.ws
    config = ws.config
    providers = config.get("providers") or {}
    return {"workspace": str(ws.root), "data": {"backend": ws.data.backend},
            "control": {"url": _without_password(ws.control_url)},
            "tracking": config.get("tracking") or {},
            "channels": config.get("channels") or {},
            "providers": {name: dict(section) for name, section in providers.items()
                          if isinstance(section, dict)},
            "delivery": config.get("delivery") or {}}


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: say nothing of it
        return "(unreadable)"
