"""`/` serves the web app's shell without login (it holds no data); the API still needs
credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.kit import Harness
from overture.server.app import STATIC
from support.server import ServerProcess

pytestmark = pytest.mark.xdist_group("server_web")


def test_the_shell_answers_without_login_and_the_api_does_not(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.close()
    server = ServerProcess(harness.ws.root).start()
    try:
        page = server.call("GET", "/", token="")
        assert page.status == 200
        assert "Overture" in str(page.body)
        if not (STATIC / "index.html").exists():
            assert "/api/docs" in str(page.body)  # not built: says where the API is
        assert server.call("GET", "/api/campaigns", token="").status == 401
    finally:
        server.stop()
