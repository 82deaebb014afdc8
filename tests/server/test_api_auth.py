"""Logging in and out, API tokens and users through HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest

from overture.auth import Role
from server.conftest import FORGED, PASSWORD, Api, header, username

pytestmark = pytest.mark.xdist_group("server_auth")

TOKEN = re.compile(r"ovt_[0-9a-f]{16}_[A-Za-z0-9]{43}")


def login(api: Api, name: str, password: str = PASSWORD) -> Any:
    return api.call("POST", "/api/auth/login", {"username": name, "password": password},
                    role=None)


def session_cookie(answer: Any) -> str:
    assert answer.status == 200, answer.body
    cookie = header(answer, "Set-Cookie")
    assert cookie is not None
    return cookie.split(";")[0]


def expect_error(answer: Any, status: int, code: str) -> str:
    assert answer.status == status, (answer.status, answer.body)
    assert set(answer.body) == {"error"} and answer.body["error"]["code"] == code
    return str(answer.body["error"]["message"])


def test_login_sets_a_session_cookie(api: Api) -> None:
    answer = login(api, username(Role.MANAGER))
    assert answer.body["user"]["username"] == username(Role.MANAGER)
    assert answer.body["user"]["role"] == "manager"
    assert "password" not in str(answer.body)
    raw = header(answer, "Set-Cookie") or ""
    attributes = {part.strip().split("=")[0].lower() for part in raw.split(";")}
    assert {"httponly", "max-age", "path"} <= attributes
    assert "samesite=strict" in raw.lower()
    cookie = session_cookie(answer)

    me = api.call("GET", "/api/me", role=None, cookie=cookie)
    assert me.status == 200 and me.body["user"]["role"] == "manager"
    # the cookie acts with the user's role: a manager edits, does not publish
    created = api.call("POST", "/api/campaigns", {"document": api.document("newsletter")},
                       role=None, cookie=cookie)
    assert created.status == 201 and created.body["created_by"] == username(Role.MANAGER)
    expect_error(api.call("POST", "/api/campaigns/newsletter/publish", role=None,
                          cookie=cookie), 403, "forbidden")

    out = api.call("POST", "/api/auth/logout", role=None, cookie=cookie)
    assert out.status == 200 and out.body == {"ok": True}
    cleared = header(out, "Set-Cookie") or ""
    assert cleared.startswith("overture_session=") and "max-age=0" in cleared.lower()
    expect_error(api.call("GET", "/api/me", role=None, cookie=cookie), 401, "unauthorized")
    expect_error(api.call("POST", "/api/auth/logout", role=None, cookie=cookie), 401,
                 "unauthorized")


def test_wrong_logins(api: Api) -> None:
    for name, password in ((username(Role.VIEWER), "not-the-password"),
                           ("nobody-at-all", PASSWORD),
                           ("bad name!", PASSWORD)):
        answer = login(api, name, password)
        message = expect_error(answer, 401, "unauthorized")
        assert message == "wrong username or password"  # never says which one
        assert header(answer, "Set-Cookie") is None
    expect_error(api.call("POST", "/api/auth/login", {"username": "x"}, role=None), 422,
                 "invalid_request")
    expect_error(api.call("GET", "/api/me", role=None, cookie="overture_session=forged"),
                 401, "unauthorized")
    for token in (FORGED, "", "ovt_" + "0" * 16 + "_" + "a" * 43):
        answer = api.call("GET", "/api/me", token=token)
        expect_error(answer, 401, "unauthorized")
        assert header(answer, "WWW-Authenticate") == "Bearer"
    answer = api.server.call("GET", "/api/me", token="",
                             headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    expect_error(answer, 401, "unauthorized")


def test_my_tokens(api: Api) -> None:
    created = api.ok("POST", "/api/me/tokens", {"name": "nightly export",
                                                "expires_days": 30},
                     status=201, role=Role.VIEWER)
    secret = created["secret"]
    assert TOKEN.fullmatch(secret)
    token = created["token"]
    assert token["name"] == "nightly export" and token["expires_at"] is not None
    assert secret.split("_")[1] == token["id"]

    listed = api.ok("GET", "/api/me/tokens", role=Role.VIEWER)["tokens"]
    assert token["id"] in [t["id"] for t in listed]
    assert secret not in str(listed)
    assert all("secret" not in t for t in listed)

    me = api.call("GET", "/api/me", token=secret)
    assert me.status == 200 and me.body["user"]["username"] == username(Role.VIEWER)

    # nobody revokes another user's token through /api/me
    expect_error(api.call("DELETE", f"/api/me/tokens/{token['id']}", role=Role.ADMIN), 404,
                 "not_found")
    assert api.call("GET", "/api/me", token=secret).status == 200
    revoked = api.ok("DELETE", f"/api/me/tokens/{token['id']}", role=Role.VIEWER)
    assert revoked["token"]["revoked_at"] is not None
    expect_error(api.call("GET", "/api/me", token=secret), 401, "unauthorized")

    expect_error(api.call("POST", "/api/me/tokens", {"name": ""}, role=Role.VIEWER), 422,
                 "invalid_request")
    expect_error(api.call("POST", "/api/me/tokens", {"expires_days": 0}, role=Role.VIEWER),
                 422, "invalid_request")
    expect_error(api.call("POST", "/api/me/tokens", {"name": "   "}, role=Role.VIEWER), 422,
                 "invalid")


def test_users_for_admins(api: Api) -> None:
    users = api.ok("GET", "/api/users")["users"]
    roles = {u["username"]: u["role"] for u in users}
    for role in Role:
        assert roles[username(role)] == role.value
    assert all(set(u) == {"id", "username", "role", "created_at", "disabled_at"}
               for u in users)

    added = api.ok("POST", "/api/users", {"username": "newcomer", "role": "viewer",
                                          "password": "newcomer-password-1"}, status=201)
    assert added["user"]["role"] == "viewer" and added["user"]["disabled_at"] is None
    expect_error(api.call("POST", "/api/users", {"username": "newcomer", "role": "viewer",
                                                 "password": "newcomer-password-1"}),
                 409, "conflict")
    expect_error(api.call("POST", "/api/users", {"username": "short", "role": "viewer",
                                                 "password": "short"}),
                 422, "invalid_request")
    expect_error(api.call("POST", "/api/users", {"username": "x", "role": "owner",
                                                 "password": "long-enough-password"}),
                 422, "invalid_request")
    expect_error(api.call("POST", "/api/users", {"username": "bad name!", "role": "viewer",
                                                 "password": "long-enough-password"}),
                 422, "invalid")

    cookie = session_cookie(login(api, "newcomer", "newcomer-password-1"))
    draft = {"document": api.document("trade-fair")}
    expect_error(api.call("POST", "/api/campaigns", draft, role=None, cookie=cookie), 403,
                 "forbidden")
    promoted = api.ok("PUT", "/api/users/newcomer/role", {"role": "manager"})
    assert promoted["user"]["role"] == "manager"
    # the role is read at each request: the same session now may create drafts
    assert api.call("POST", "/api/campaigns", draft, role=None, cookie=cookie).status == 201

    disabled = api.ok("POST", "/api/users/newcomer/disable")
    assert disabled["user"]["disabled_at"] is not None
    expect_error(api.call("GET", "/api/me", role=None, cookie=cookie), 401, "unauthorized")
    expect_error(login(api, "newcomer", "newcomer-password-1"), 401, "unauthorized")

    expect_error(api.call("PUT", "/api/users/nobody/role", {"role": "viewer"}), 404,
                 "not_found")
    expect_error(api.call("POST", "/api/users/nobody/disable"), 404, "not_found")
    expect_error(api.call("PUT", "/api/users/newcomer/role", {"role": "king"}), 422,
                 "invalid_request")
    # the last enabled admin stays one
    admins = [u["username"] for u in api.ok("GET", "/api/users")["users"]
              if u["role"] == "admin" and u["disabled_at"] is None]
    assert admins == [username(Role.ADMIN)]
    expect_error(api.call("POST", f"/api/users/{admins[0]}/disable"), 409, "conflict")
    expect_error(api.call("PUT", f"/api/users/{admins[0]}/role", {"role": "viewer"}), 409,
                 "conflict")
    assert api.ok("GET", "/api/me")["user"]["role"] == "admin"
