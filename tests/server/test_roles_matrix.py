"""The role-by-endpoint matrix, read from the app itself.

Every route under /api declares its minimum role through `needs(Role.X)` (the
dependency carries `.min_role`); only the login is open. For every endpoint, on the
running server, with real path values: no credentials and a forged token get 401, a
role below the minimum gets 403 and changes nothing, a role at or above it is let in
(whatever the answer then: 200, 404, 409...). An unknown resource still gets 401/403
before any 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from overture.auth import Role
from overture.server.app import create_app
from server.conftest import FORGED, PASSWORD, Api, header, small_document, username

pytestmark = pytest.mark.xdist_group("server_roles")

OPEN = {("POST", "/api/auth/login")}
#: outside /api, the tracking links answer without login: their signed token (or a
#: provider's webhook secret) is the credential
TRACKING = {("GET", "/u/{token}"), ("POST", "/u/{token}"), ("POST", "/hooks/{provider}")}
#: and the health checks, for load balancers and orchestrators: they say whether the
#: process answers and whether its parts work, nothing about campaigns or people
HEALTH = {("GET", "/health"), ("GET", "/health/ready")}
#: /metrics takes the scrape token of [server] metrics_token_env or any user (viewer and
#: up); tests/server/test_operations.py calls it with each
METRICS = ("GET", "/metrics")
ROLES = sorted(Role, key=lambda role: role.rank)
PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    name: str
    min_role: Role | None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _roles_of(dependant: Dependant) -> list[Role]:
    """Every role a route's dependencies (and theirs) declare."""
    found = []
    for sub in dependant.dependencies:
        role = getattr(sub.call, "min_role", None)
        if role is not None:
            found.append(Role(role))
        found.extend(_roles_of(sub))
    return found


def _api_routes() -> list[tuple[str, APIRoute]]:
    """(effective path, route) of every API route, routers included or not."""
    # building the app reads no state: a stand-in with nothing in it will do
    app = create_app(cast(Any, SimpleNamespace(tracker=None, ws=None)))
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.165: lazy routers
    except ImportError:  # pragma: no cover - older FastAPI lists every route flat
        return [(r.path, r) for r in app.routes if isinstance(r, APIRoute)]
    out = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            out.append((str(context.path), route))
    return out


def endpoints(*, api: bool = True) -> list[Endpoint]:
    """The /api endpoints (or, with api=False, every other route)."""
    out = []
    for path, route in _api_routes():
        if path.startswith("/api/") != api:
            continue
        roles = _roles_of(route.dependant)
        minimum = max(roles, key=lambda role: role.rank) if roles else None
        for method in sorted(route.methods or ()):
            out.append(Endpoint(method, path, route.endpoint.__name__, minimum))
    return out


ENDPOINTS = [e for e in endpoints() if (e.method, e.path) not in OPEN]


def test_outside_the_api_only_tracking_links_and_health_checks_answer_without_login() -> None:
    others = {(e.method, e.path): e.min_role for e in endpoints(api=False)}
    assert set(others) == TRACKING | HEALTH | {METRICS}
    assert others.pop(METRICS) == Role.VIEWER
    assert all(role is None for role in others.values())


def test_every_api_route_declares_its_role() -> None:
    found = endpoints()
    assert len(found) > 40
    assert {(e.method, e.path) for e in found} >= OPEN
    assert all(e.path.startswith("/api/") for e in found)
    missing = [e.id for e in found if e.min_role is None and (e.method, e.path) not in OPEN]
    assert missing == [], f"endpoints without needs(Role.X): {missing}"
    for method, path in OPEN:
        assert next(e for e in found if (e.method, e.path) == (method, path)).min_role is None
    declared = {e.id: e.min_role for e in found}
    # a few the issue names, so that a role lowered by mistake fails here too
    assert declared["POST /api/campaigns/{name}/publish"] == Role.APPROVER
    assert declared["POST /api/campaigns/{name}/signal"] == Role.APPROVER
    assert declared["POST /api/runs/{run_id}/activities/{activity_id}/confirm"] == Role.APPROVER
    assert declared["POST /api/campaigns/{name}/test-runs"] == Role.MANAGER
    assert declared["POST /api/campaigns/{name}/preview"] == Role.MANAGER
    assert declared["POST /api/users"] == Role.ADMIN
    assert declared["GET /api/campaigns"] == Role.VIEWER


DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
DOC_ROW = re.compile(r"^\| `([A-Z]+) (/api/\S+)` \| (\w+) \|", re.MULTILINE)


def test_the_docs_list_every_endpoint_with_its_role() -> None:
    """docs/api.md's tables: every endpoint of the app, with the role it declares."""
    documented = {(m, p): role for m, p, role in DOC_ROW.findall(DOCS.read_text())}
    declared = {(e.method, e.path): e.min_role.value if e.min_role else "open"
                for e in endpoints()}
    assert documented == declared


@dataclass
class Fixtures:
    run: str
    bystander: str


@pytest.fixture(scope="module")
def matrix(api: Api) -> Fixtures:
    """A finished test run and a user the admin endpoints may act on."""
    api.ok("POST", "/api/campaigns", {"document": small_document("matrix-base")}, status=201)
    run = api.ok("POST", "/api/campaigns/matrix-base/test-runs", {}, status=202)["run"]
    api.wait_run(run)
    api.ok("POST", "/api/users", {"username": "bystander", "role": "viewer",
                                  "password": PASSWORD}, status=201)
    return Fixtures(run=run, bystander="bystander")


def _values(campaign: str, fixtures: Fixtures) -> dict[str, str]:
    return {"name": campaign, "run_id": fixtures.run, "activity_id": "french",
            "port": "out", "number": "1", "table": "customers", "column": "country",
            "username": fixtures.bystander, "token_id": "0" * 16}


UNKNOWN = {"name": "no-such-campaign", "run_id": "000000000000", "activity_id": "nothing",
           "port": "none", "number": "99", "table": "no_table", "column": "no_column",
           "username": "nobody",
           "token_id": "f" * 16}


def _path(endpoint: Endpoint, values: dict[str, str]) -> str:
    path = PARAM.sub(lambda m: values.get(m.group(1), "x"), endpoint.path)
    if endpoint.name == "run_events":
        path += "?once=true"
    return path


def _body(endpoint: Endpoint, campaign: str) -> Any:
    bodies: dict[str, Any] = {
        "create_campaign": {"document": small_document(f"{campaign}-new")},
        "update_draft": {"document": small_document(campaign)},
        "duplicate_campaign": {"name": f"{campaign}-copy"},
        "start_test_run": {"variables": {}},
        "signal": {"variables": {}},
        "set_breakpoints": {"activities": ["french"]},
        "rule_count": {"document": small_document("rules"), "activity": "french"},
        "rule_sql": {"document": small_document("rules"), "activity": "french"},
        "preview_message": {"activity": "french", "profile": "1"},
        "preview_schedule": {"schedule": {"daily": {"at": "09:00"}},
                             "timezone": "Europe/Paris"},
        "add_user": {"username": "added-by-matrix", "role": "viewer", "password": PASSWORD},
        "set_role": {"role": "viewer"},
        "create_token": {"name": "matrix"},
    }
    if endpoint.name in bodies:
        return bodies[endpoint.name]
    return {} if endpoint.method in ("POST", "PUT", "PATCH") else None


def _snapshot(api: Api, campaign: str) -> dict[str, Any]:
    """What a refused call must not change."""
    return {
        "campaign": api.ok("GET", f"/api/campaigns/{campaign}"),
        "history": api.ok("GET", f"/api/campaigns/{campaign}/history"),
        "campaigns": sorted(c["name"] for c in api.ok("GET", "/api/campaigns")["campaigns"]),
        "runs": sorted(r["id"] for r in api.ok("GET", "/api/runs?limit=500")["runs"]),
        "users": api.ok("GET", "/api/users"),
        "tokens": [t["id"] for t in api.ok("GET", "/api/me/tokens")["tokens"]],
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_role_matrix(api: Api, matrix: Fixtures, endpoint: Endpoint) -> None:
    assert endpoint.min_role is not None
    index = ENDPOINTS.index(endpoint)
    campaign = f"matrix-{index}"
    api.ok("POST", "/api/campaigns", {"document": small_document(campaign)}, status=201)
    path = _path(endpoint, _values(campaign, matrix))
    body = _body(endpoint, campaign)
    before = _snapshot(api, campaign)

    for token in ("", FORGED, "Bearer", "ovt_" + "0" * 16 + "_" + "a" * 43):
        answer = api.call(endpoint.method, path, body, token=token)
        assert answer.status == 401, (endpoint.id, token, answer.status, answer.body)
        assert answer.body["error"]["code"] == "unauthorized"
        assert header(answer, "WWW-Authenticate") == "Bearer"
    for role in ROLES:
        if role.rank >= endpoint.min_role.rank:
            continue
        answer = api.call(endpoint.method, path, body, role=role)
        assert answer.status == 403, (endpoint.id, role, answer.status, answer.body)
        assert answer.body["error"]["code"] == "forbidden"
        assert endpoint.min_role.value in answer.body["error"]["message"]

    unknown = _path(endpoint, UNKNOWN)
    assert api.call(endpoint.method, unknown, body, role=None).status == 401
    if endpoint.min_role != Role.VIEWER:
        assert api.call(endpoint.method, unknown, body, role=Role.VIEWER).status == 403
    assert _snapshot(api, campaign) == before, f"a refused {endpoint.id} changed something"

    for role in ROLES:
        if role.rank < endpoint.min_role.rank:
            continue
        answer = api.call(endpoint.method, path, body, role=role)
        assert answer.status not in (401, 403), (endpoint.id, role, answer.status, answer.body)
        assert answer.status < 500, (endpoint.id, role, answer.status, answer.body)


def test_viewer_cannot_publish_or_send(api: Api, matrix: Fixtures) -> None:
    api.ok("POST", "/api/campaigns", {"document": small_document("viewer-tries")}, status=201)
    api.ok("POST", "/api/campaigns/viewer-tries/publish", role=Role.APPROVER)
    api.ok("POST", "/api/campaigns/viewer-tries/pause", role=Role.APPROVER)
    api.ok("POST", "/api/campaigns", {"document": small_document("viewer-draft")}, status=201)
    runs = sorted(r["id"] for r in api.ok("GET", "/api/runs?limit=500")["runs"])
    tries: list[tuple[str, str, Any]] = [
        ("POST", "/api/campaigns/viewer-draft/publish", None),
        ("POST", "/api/campaigns/viewer-tries/signal", {}),
        ("POST", f"/api/runs/{matrix.run}/activities/french/confirm", None),
        ("POST", "/api/campaigns/viewer-draft/test-runs", {}),
        ("POST", "/api/campaigns/viewer-tries/resume", None),
        ("POST", f"/api/runs/{matrix.run}/resume", None),
    ]
    for method, path, body in tries:
        answer = api.call(method, path, body, role=Role.VIEWER)
        assert answer.status == 403, (path, answer.status, answer.body)
        assert answer.body["error"]["code"] == "forbidden"
        assert username(Role.VIEWER) in answer.body["error"]["message"]
    assert api.ok("GET", "/api/campaigns/viewer-draft")["status"] == "draft"
    assert api.ok("GET", "/api/campaigns/viewer-draft")["versions"] == []
    assert api.ok("GET", "/api/campaigns/viewer-tries")["status"] == "paused"
    assert sorted(r["id"] for r in api.ok("GET", "/api/runs?limit=500")["runs"]) == runs
    # the same calls by an approver go through
    api.ok("POST", "/api/campaigns/viewer-draft/publish", role=Role.APPROVER)
    assert api.ok("GET", "/api/campaigns/viewer-draft")["status"] == "live"


def test_session_cookie(api: Api) -> None:
    login = api.call("POST", "/api/auth/login",
                     {"username": username(Role.VIEWER), "password": PASSWORD}, role=None)
    assert login.status == 200, login.body
    assert login.body["user"]["role"] == "viewer"
    cookie = (header(login, "Set-Cookie") or "").split(";")[0]
    assert cookie.startswith("overture_session=")
    me = api.call("GET", "/api/me", role=None, cookie=cookie)
    assert me.status == 200
    assert me.body["user"]["username"] == username(Role.VIEWER)
    assert api.call("POST", "/api/campaigns/matrix-base/publish", role=None,
                    cookie=cookie).status == 403
    assert api.call("POST", "/api/auth/logout", role=None, cookie=cookie).status == 200
    assert api.call("GET", "/api/me", role=None, cookie=cookie).status == 401
