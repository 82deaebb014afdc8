"""One real `overture serve` per test module, on a retail workspace, with one user and
one API token per role.

The users are added through `UserRepository` before the server starts; the server's
own admin token (`ServerProcess.token`) is the one it writes for the local CLI. The
server reads a frozen file clock, so rules over "the last 90 days" count the same
profiles as `overture run --test --clock` does on the untouched copy of the workspace
(`Api.pristine`), made before the server started.

Each module's server is its own: modules mark their tests with an `xdist_group` of
their own, so under `--dist loadgroup` one worker starts it once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from overture.auth import Role
from overture.data.workspace import Workspace
from overture.store.users import UserRepository
from support.retail import retail_workspace
from support.server import OVERTURE, Response, ServerProcess

CUSTOMERS = 300
#: the instant the sample campaigns are written for (examples/campaigns/*.yaml)
CLOCK_AT = datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
PASSWORD = "server-tests-password-1"
#: a well-formed token that no user holds
FORGED = "ovt_0000_bad"


def username(role: Role) -> str:
    return f"{role.value}-user"


@dataclass
class Api:
    """The running server, its workspace and a token per role."""

    server: ServerProcess
    root: Path
    pristine: Path
    tokens: dict[Role, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, *, role: Role | None = Role.ADMIN,
             token: str | None = None, cookie: str | None = None) -> Response:
        """Call as `role` (None: no credentials at all), or with an explicit token."""
        if token is None:
            token = self.tokens[role] if role is not None else ""
        return self.server.call(method, path, body, token=token, cookie=cookie)

    def ok(self, method: str, path: str, body: Any = None, *, status: int = 200,
           role: Role | None = Role.ADMIN) -> Any:
        answer = self.call(method, path, body, role=role)
        assert answer.status == status, (method, path, answer.status, answer.body)
        return answer.body

    def document(self, name: str) -> dict[str, Any]:
        """A sample campaign of the workspace's campaigns/ folder, as a mapping."""
        loaded = yaml.safe_load((self.root / "campaigns" / f"{name}.yaml").read_text())
        assert isinstance(loaded, dict)
        return loaded

    def wait_run(self, run_id: str, *statuses: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll the run until its status is one of `statuses` (done by default)."""
        wanted = statuses or ("done",)

        def reached() -> dict[str, Any] | None:
            summary = self.server.run_status(run_id)
            return summary if summary["status"] in wanted else None

        result: dict[str, Any] = self.server.wait_for(reached, timeout,
                                                      f"run {run_id} to be {wanted}")
        return result

    def sse(self, path: str, role: Role = Role.ADMIN) -> tuple[int, str, dict[str, str]]:
        """A server-sent events answer, read to its end: status, text, headers (lowercase)."""
        request = urllib.request.Request(self.server.url + path, headers={
            "Authorization": f"Bearer {self.tokens[role]}", "Accept": "text/event-stream"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return (answer.status, answer.read().decode(),
                    {key.lower(): value for key, value in answer.headers.items()})


def header(response: Response, name: str) -> str | None:
    """A response header, whatever the case of its name."""
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def error(answer: Response, status: int, code: str) -> dict[str, Any]:
    """The JSON error of an answer, checked: `{"error": {"code", "message", ...}}`."""
    assert answer.status == status, (answer.status, answer.body)
    assert isinstance(answer.body, dict) and set(answer.body) == {"error"}, answer.body
    assert answer.body["error"]["code"] == code, answer.body
    assert isinstance(answer.body["error"]["message"], str) and answer.body["error"]["message"]
    return dict(answer.body["error"])


def small_document(name: str, **extra: Any) -> dict[str, Any]:
    """A valid campaign started by signals: publishing it starts nothing."""
    return {"name": name, "label": f"Campaign {name}", "target": "customers",
            "schedule": {"signal": {"min_interval": "1h"}},
            "activities": [
                {"id": "french", "type": "build_audience",
                 "rule": {"field": "country", "op": "eq", "value": "FR"}},
                {"id": "done", "type": "end", "inputs": ["french"]}],
            **extra}


def add_role_users(root: Path) -> dict[Role, str]:
    """One user per role (password PASSWORD) and an API token of each, before serving."""
    ws = Workspace.open(root)
    try:
        users = UserRepository(ws.control)
        tokens = {}
        for role in Role:
            users.add_user(username(role), role, PASSWORD)
            _, secret = users.create_token(username(role), "server-tests")
            tokens[role] = secret
        return tokens
    finally:
        ws.close()


def cli_test_run(root: Path, campaign_file: Path) -> dict[str, Any]:
    """`overture run FILE --test --json` at CLOCK_AT, in a workspace no server holds."""
    done = subprocess.run(
        [OVERTURE, "--workspace", str(root), "run", str(campaign_file), "--test", "--json",
         "--clock", CLOCK_AT.isoformat()],
        cwd=root, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def start_api(root: Path) -> Api:
    retail_workspace(root, CUSTOMERS)
    tokens = add_role_users(root)
    pristine = root.parent / f"{root.name}-pristine"
    shutil.copytree(root, pristine)
    server = ServerProcess(root, clock_at=CLOCK_AT).start()
    return Api(server=server, root=root, pristine=pristine, tokens=tokens)


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A running server on a retail workspace of CUSTOMERS customers, for one module.

    The workspace is in a folder of its own, not under pytest's numbered temporary
    folders: another pytest session starting meanwhile prunes those, and would delete
    the workspace under a server that lives as long as the module.
    """
    folder = Path(tempfile.mkdtemp(prefix="overture-server-"))
    try:
        running = start_api(folder / "shop")
        try:
            yield running
        finally:
            code = running.server.stop()
            assert code == 0, running.server.log_path.read_text(errors="replace")[-3000:]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
