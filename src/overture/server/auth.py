"""Who is asking: a session cookie (the web app) or a bearer token (scripts), and the
role each endpoint needs. Every endpoint declares its role with `needs(Role.X)`;
the role matrix test reads the declarations back from the app's routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from overture.auth import Role
from overture.server.errors import ApiError
from overture.store.users import UserRecord

COOKIE = "overture_session"
#: the route attribute where `needs` records the minimum role, for the matrix test
ROLE_KEY = "x-min-role"


def current_user(request: Request) -> UserRecord:
    state = request.app.state.server
    header = request.headers.get("authorization", "")
    user = None
    if header.lower().startswith("bearer "):
        user = state.users.user_for_token(header[7:].strip())
    elif (cookie := request.cookies.get(COOKIE)):
        user = state.users.user_for_session(cookie)
    if user is None:
        raise ApiError(401, "unauthorized", "log in, or send `Authorization: Bearer TOKEN`")
    return user


def needs(role: Role) -> Callable[..., UserRecord]:
    def dependency(user: Annotated[UserRecord, Depends(current_user)]) -> UserRecord:
        if not user.role.allows(role):
            raise ApiError(403, "forbidden", f"this needs the {role.value} role; "
                                             f"{user.username} is {user.role.value}")
        return user

    dependency.min_role = role  # type: ignore[attr-defined]
    return dependency


def actor(user: UserRecord) -> str:
    return user.username


def route_extra(role: Role) -> dict[str, Any]:
    return {ROLE_KEY: role.value}


Viewer = Annotated[UserRecord, Depends(needs(Role.VIEWER))]
Manager = Annotated[UserRecord, Depends(needs(Role.MANAGER))]
Approver = Annotated[UserRecord, Depends(needs(Role.APPROVER))]
Admin = Annotated[UserRecord, Depends(needs(Role.ADMIN))]
