"""The CLI's way to a running `overture serve`, and the two backends its commands use.

`ServerClient` is a small JSON client (stdlib urllib) of the REST API. `server_for`
says which server, if any, a command talks to: `OVERTURE_URL` (with `OVERTURE_TOKEN`,
or the local CLI token of `.overture/server.json` when that file names the same URL)
wins; else the server that holds the workspace. Otherwise commands work on the
workspace directly.

`LocalBackend` (the lifecycle service on the workspace) and `RemoteBackend` (the API)
answer the same questions with the same JSON, the API's, so each command has one code
path and prints the same either way.
"""

from __future__ import annotations

import getpass
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overture.definition.errors import Problem
from overture.errors import OvertureError

if TYPE_CHECKING:  # the engine's libraries load only when a command needs them
    from overture.data.workspace import Workspace
    from overture.engine.runner import Observer, Progress
    from overture.service.lifecycle import Lifecycle

URL_ENV = "OVERTURE_URL"
TOKEN_ENV = "OVERTURE_TOKEN"
#: run statuses that still change without anyone acting
MOVING = frozenset({"pending", "running"})
POLL_SECONDS = 0.2


class ServerCallError(OvertureError):
    """What the server answered to a request it refused: its message and problems."""

    def __init__(self, message: str, *, code: str = "", status: int = 0,
                 problems: list[Problem] | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.problems = problems or []
        self.retry_after = retry_after


class ServerUnreachable(ServerCallError):
    """No answer at all: nothing listens at the URL, or the network is in the way."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def plain_json(document: Any) -> Any:
    """The document as JSON holds it (YAML dates become ISO strings): what the API
    receives, and what is stored locally, so both store the same thing."""
    return json.loads(json.dumps(document, default=_jsonable))


@dataclass
class ServerClient:
    url: str
    token: str | None = None
    #: the workspace folder the server holds, when it is this machine's (server.json)
    workspace: Path | None = None
    timeout: float = 120.0

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, {} if body is None else body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(self, method: str, path: str, body: Any = None,
                query: dict[str, Any] | None = None) -> Any:
        url = self.url.rstrip("/") + path
        pairs = {k: v for k, v in (query or {}).items() if v is not None}
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, default=_jsonable).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            raise self._refused(exc) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ConnectionRefusedError):
                raise ServerUnreachable(
                    f"cannot reach the Overture server at {self.url}: connection refused "
                    "(is `overture serve` running there?)") from None
            raise ServerUnreachable(f"cannot reach the Overture server at {self.url}: "
                                    f"{getattr(reason, 'strerror', None) or reason}") from None
        except TimeoutError:
            raise ServerUnreachable(f"the Overture server at {self.url} did not answer within "
                                    f"{self.timeout:.0f} s") from None
        except OSError as exc:  # reset, closed mid-answer
            raise ServerUnreachable(f"lost the connection to the Overture server at "
                                    f"{self.url}: {exc.strerror or exc}") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ServerCallError(f"the server at {self.url} answered {path} with something "
                                  "that is not JSON: is it an Overture server?") from None

    def _refused(self, exc: urllib.error.HTTPError) -> ServerCallError:
        try:
            payload = json.loads(exc.read() or b"null")
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict):
            return ServerCallError(f"the server at {self.url} answered HTTP {exc.code} "
                                   f"({exc.reason})", status=exc.code)
        message = str(error.get("message") or f"HTTP {exc.code}")
        code = str(error.get("code") or "")
        problems = [Problem(str(p.get("path") or ""), str(p.get("message") or ""),
                            p.get("activity"))
                    for p in (error.get("problems") or error.get("details") or [])
                    if isinstance(p, dict)]
        if exc.code == 401:
            message += (f"; set {TOKEN_ENV} to an API token (`overture users token NAME` "
                        "creates one)")
        retry = error.get("retry_after")
        return ServerCallError(message, code=code, status=exc.code, problems=problems,
                               retry_after=retry if isinstance(retry, int) else None)


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerCallError(f"{URL_ENV}={url!r} is not an http(s) URL such as "
                              "http://127.0.0.1:8000")


def _same_url(a: str, b: str) -> bool:
    def key(url: str) -> tuple[str, str, int | None]:
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        host = (parts.hostname or "").lower()
        host = "127.0.0.1" if host in ("localhost", "::1") else host
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = None
        return parts.scheme, host, port

    return key(a) == key(b)


def server_for(ws: Workspace | None) -> ServerClient | None:
    """The server a command talks to, or None: work on the workspace directly."""
    from overture.server.serve import server_info

    held = server_info(ws.state_dir) if ws is not None else None
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        _check_url(url)
        same = held is not None and _same_url(str(held.get("url") or ""), url)
        token = os.environ.get(TOKEN_ENV, "").strip() or None
        if token is None and same and held is not None:
            token = str(held.get("token") or "") or None
        return ServerClient(url, token, workspace=ws.root if same and ws else None)
    if held is not None and held.get("url") and ws is not None:
        return ServerClient(str(held["url"]), str(held.get("token") or "") or None,
                            workspace=ws.root)
    return None


def local_actor() -> str:
    """Who acts when the CLI works on the workspace directly."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = str(os.getuid())
    return f"cli:{user}"


def campaigns_folder(root: Path) -> Path:
    """Where relative paths of stored documents are read (`Lifecycle.base_dir`)."""
    folder = root / "campaigns"
    return folder if folder.is_dir() else root


def storable(document: dict[str, Any], file: Path, root: Path | None) -> dict[str, Any]:
    """A document read from `file`, as stored: relative content paths are kept when the
    file lives in the workspace's campaigns/ folder (where stored documents read them),
    else made absolute against the file's folder. Without a workspace on this machine
    (a remote server) the document goes as written."""
    if root is not None and file.parent.resolve() != campaigns_folder(root).resolve():
        from overture.engine.runner import absolutize_paths

        document = absolutize_paths(document, file.parent.resolve())
    return dict(plain_json(document))


def spec_result(summary: dict[str, Any]) -> dict[str, Any]:
    """A run resource cut down to the spec §5 shape `overture run --json` prints."""
    out: dict[str, Any] = {k: summary[k] for k in ("run", "campaign", "mode", "status",
                                                   "clock") if k in summary}
    out["activities"] = {
        activity: {k: v for k, v in entry.items() if k in ("status", "ports", "excluded",
                                                             "error")}
        for activity, entry in summary.get("activities", {}).items()}
    if summary.get("error"):
        out["error"] = summary["error"]
    return out


# ---- backends: the same JSON, from the lifecycle service or from the API ----

class LocalBackend:
    """The workspace itself; runs started here execute in this process."""

    remote = False

    def __init__(self, ws: Workspace):
        from overture.engine.clock import clock_from_env
        from overture.service.lifecycle import Lifecycle

        self.ws = ws
        self.root: Path | None = ws.root
        self.clock = clock_from_env()
        self.life: Lifecycle = Lifecycle(ws, self.clock)
        self.actor = local_actor()
        self.where = f"workspace {ws.root}"

    def close(self) -> None:
        self.ws.close()

    # ---- campaigns ----
    def campaigns(self) -> list[dict[str, Any]]:
        from overture.server import views

        return [views.campaign(c) for c in self.life.campaigns.all()]

    def campaign(self, name: str, problems: bool = True) -> dict[str, Any]:
        """The API's campaign resource: the record, its versions and the draft's problems
        (`problems=False`: not computed, an empty list)."""
        from overture.server import views

        life = self.life
        record = life.get(name)
        out = views.campaign(record)
        out["versions"] = [views.version(v, with_document=False)
                           for v in life.campaigns.versions(name)]
        out["problems"] = [p.to_dict() for p in life.problems(record.draft)] \
            if record.draft is not None and problems else []
        return plain_json(out)

    def version_document(self, name: str, number: int) -> dict[str, Any]:
        from overture.service.lifecycle import LifecycleError
        from overture.store.campaigns import CampaignNotFound

        self.life.get(name)
        try:
            return self.life.campaigns.version(name, number).document
        except CampaignNotFound as exc:
            raise LifecycleError("not_found", str(exc)) from None

    def history(self, name: str) -> list[dict[str, Any]]:
        from overture.server import views

        self.life.get(name)
        return plain_json([views.history(h)
                           for h in self.life.campaigns.history(name)])

    def create(self, document: dict[str, Any]) -> dict[str, Any]:
        record = self.life.create(plain_json(document), self.actor)
        return self.campaign(record.name)

    def update(self, name: str, document: dict[str, Any]) -> dict[str, Any]:
        self.life.update_draft(name, plain_json(document), self.actor)
        return self.campaign(name)

    def delete(self, name: str) -> None:
        self.life.delete(name, self.actor)

    def duplicate(self, name: str, new_name: str) -> dict[str, Any]:
        self.life.duplicate(name, new_name, self.actor)
        return self.campaign(new_name)

    def publish(self, name: str) -> dict[str, Any]:
        version = self.life.publish(name, self.actor)
        out = self.campaign(name)
        out["published"] = version.number
        return out

    def unpublish(self, name: str) -> dict[str, Any]:
        self.life.unpublish(name, self.actor)
        return self.campaign(name)

    def act(self, name: str, action: str) -> dict[str, Any]:
        self.life.act(name, action, self.actor)
        return self.campaign(name)

    def start_test_run(self, name: str, variables: dict[str, Any] | None = None,
                       breakpoints: list[str] | None = None) -> str:
        return self.life.start_test_run(name, self.actor, variables or None,
                                        breakpoints or None)

    def signal(self, name: str, variables: dict[str, Any] | None = None) -> str:
        return self.life.signal(name, self.actor, variables or None)

    # ---- runs ----
    def runs(self, campaign: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        from overture.server import views

        return plain_json([views.run(r)
                           for r in self.ws.control.list_runs(campaign, limit)])

    def run(self, run_id: str) -> dict[str, Any]:
        """The API's run resource: the spec §5 summary and the run's bookkeeping."""
        return plain_json(self.life.run_resource(run_id))

    def run_document(self, run_id: str) -> dict[str, Any] | None:
        return self.life.run(run_id).document

    def run_action(self, run_id: str, action: str) -> str:
        life = self.life
        if action == "restart":
            return life.restart_run(run_id, self.actor)
        calls = {"pause": life.pause_run, "stop": life.stop_run, "resume": life.resume_run}
        return calls[action](run_id, self.actor).id

    def confirm(self, run_id: str, activity: str) -> str:
        return self.life.confirm(run_id, activity, self.actor).id

    def continue_breakpoint(self, run_id: str, activity: str) -> str:
        return self.life.continue_breakpoint(run_id, activity, self.actor).id

    def tasks(self) -> list[dict[str, Any]]:
        from overture.store.status import ActivityStatus, RunStatus

        out = []
        for run in self.ws.control.runs_with_status(RunStatus.WAITING, RunStatus.PAUSED):
            for state in self.ws.control.activity_runs(run.id).values():
                if state.status != ActivityStatus.WAITING:
                    continue
                out.append({"run": run.id, "activity": state.activity_id,
                            "kind": state.waiting_for,
                            "wake_at": state.wake_at.isoformat() if state.wake_at else None,
                            "message": state.error})
        return out

    def log(self, run_id: str) -> list[dict[str, Any]]:
        from overture.server import views

        run = self.life.run(run_id)
        return plain_json([views.log(e)
                           for e in self.ws.control.logs(run.id)])

    def settle(self, run_id: str, observer: Observer | None = None,
               progress: Progress | None = None) -> dict[str, Any]:
        """A run started or resumed here has no worker: execute it now, in this process,
        until it is done or waits; then the campaign's status follows, as on a server."""
        from overture.definition.errors import InvalidDocument
        from overture.engine.runner import execute_run
        from overture.store.status import RunStatus

        run = self.life.run(run_id)
        if run.status == RunStatus.PENDING:
            try:
                execute_run(self.ws, run.id, observer=observer, progress=progress,
                            now=self.clock.now)
            except (OvertureError, InvalidDocument) as exc:  # as a server's worker does
                self.ws.control.log(run.id, str(exc), level="error")
                self.ws.control.update_run(run.id, status=RunStatus.FAILED.value,
                                           error=str(exc))
            self.life.run_finished(run.id)
        return self.run(run.id)


class RemoteBackend:
    """A running server, through its API: the same answers as `LocalBackend`."""

    remote = True

    def __init__(self, client: ServerClient):
        self.client = client
        self.root = client.workspace
        self.where = f"the server at {client.url}"

    def close(self) -> None:
        pass

    @staticmethod
    def _name(name: str) -> str:
        return urllib.parse.quote(name, safe="")

    def campaigns(self) -> list[dict[str, Any]]:
        return list(self.client.get("/api/campaigns")["campaigns"])

    def campaign(self, name: str, problems: bool = True) -> dict[str, Any]:
        return dict(self.client.get(f"/api/campaigns/{self._name(name)}"))

    def version_document(self, name: str, number: int) -> dict[str, Any]:
        answer = self.client.get(f"/api/campaigns/{self._name(name)}/versions/{number}")
        return dict(answer["document"])

    def history(self, name: str) -> list[dict[str, Any]]:
        return list(self.client.get(f"/api/campaigns/{self._name(name)}/history")["history"])

    def create(self, document: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.post("/api/campaigns", {"document": document}))

    def update(self, name: str, document: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.put(f"/api/campaigns/{self._name(name)}/draft",
                                    {"document": document}))

    def delete(self, name: str) -> None:
        self.client.delete(f"/api/campaigns/{self._name(name)}")

    def duplicate(self, name: str, new_name: str) -> dict[str, Any]:
        return dict(self.client.post(f"/api/campaigns/{self._name(name)}/duplicate",
                                     {"name": new_name}))

    def publish(self, name: str) -> dict[str, Any]:
        return dict(self.client.post(f"/api/campaigns/{self._name(name)}/publish"))

    def unpublish(self, name: str) -> dict[str, Any]:
        return dict(self.client.post(f"/api/campaigns/{self._name(name)}/unpublish"))

    def act(self, name: str, action: str) -> dict[str, Any]:
        return dict(self.client.post(f"/api/campaigns/{self._name(name)}/{action}"))

    def start_test_run(self, name: str, variables: dict[str, Any] | None = None,
                       breakpoints: list[str] | None = None) -> str:
        answer = self.client.post(f"/api/campaigns/{self._name(name)}/test-runs",
                                  {"variables": variables or {},
                                   "breakpoints": breakpoints or []})
        return str(answer["run"])

    def signal(self, name: str, variables: dict[str, Any] | None = None) -> str:
        answer = self.client.post(f"/api/campaigns/{self._name(name)}/signal",
                                  {"variables": variables or {}})
        return str(answer["run"])

    def runs(self, campaign: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.client.get("/api/runs", campaign=campaign, limit=limit)["runs"])

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/api/runs/{self._name(run_id)}"))

    def run_document(self, run_id: str) -> dict[str, Any] | None:
        """The API's run resource has no document: the version it ran, or for a test
        run the campaign's current draft (None when neither is there any more)."""
        summary = self.run(run_id)
        try:
            if summary.get("version"):
                return self.version_document(summary["campaign"], int(summary["version"]))
            draft = self.campaign(summary["campaign"]).get("draft")
        except ServerCallError as exc:
            if exc.status == 404:
                return None
            raise
        return dict(draft) if isinstance(draft, dict) else None

    def run_action(self, run_id: str, action: str) -> str:
        return str(self.client.post(f"/api/runs/{self._name(run_id)}/{action}")["run"])

    def confirm(self, run_id: str, activity: str) -> str:
        path = f"/api/runs/{self._name(run_id)}/activities/{self._name(activity)}/confirm"
        return str(self.client.post(path)["run"])

    def continue_breakpoint(self, run_id: str, activity: str) -> str:
        path = f"/api/runs/{self._name(run_id)}/activities/{self._name(activity)}/continue"
        return str(self.client.post(path)["run"])

    def tasks(self) -> list[dict[str, Any]]:
        return list(self.client.get("/api/tasks")["tasks"])

    def log(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.client.get(f"/api/runs/{self._name(run_id)}/log")["log"])

    def rows(self, run_id: str, activity: str, port: str, limit: int) -> dict[str, Any]:
        path = (f"/api/runs/{self._name(run_id)}/activities/{self._name(activity)}"
                f"/ports/{self._name(port)}/rows")
        return dict(self.client.get(path, limit=limit))

    def settle(self, run_id: str, observer: Observer | None = None,
               progress: Progress | None = None) -> dict[str, Any]:
        """Poll the run until it is no longer pending or running (the server executes it)."""
        while True:
            summary = self.run(run_id)
            if observer is not None:
                for activity, entry in summary.get("activities", {}).items():
                    observer(activity, entry.get("status", ""), entry.get("ports"))
            if summary.get("status") not in MOVING:
                return summary
            time.sleep(POLL_SECONDS)  # waiting for the server's workers, not a delay


Backend = LocalBackend | RemoteBackend


def connect() -> Backend:
    """The server when one is named or holds the workspace, else the workspace itself."""
    from overture.cli.common import open_workspace
    from overture.data.workspace import WorkspaceError

    ws = None
    try:
        ws = open_workspace()
    except WorkspaceError:
        if not os.environ.get(URL_ENV, "").strip():
            raise
    client = server_for(ws)
    if client is not None:
        return RemoteBackend(client)
    assert ws is not None
    return LocalBackend(ws)
