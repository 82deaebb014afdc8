"""Debian's Chromium driven by Playwright's Python package, as the browser tests and
bench/canvas.py launch it (docs: /work/shared/dependencies.md, "browser tests").

Playwright's own browsers are never downloaded (`playwright install` cannot work
here): `executable_path` points at the system Chromium. `missing()` says what stops
the browser tests from running, or None when they can.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Playwright is imported only when a browser is launched
    from playwright.sync_api import Browser, Playwright

ROOT = Path(__file__).resolve().parents[2]
#: the Chromium of Debian's `chromium` package (OVERTURE_CHROMIUM points elsewhere)
CHROMIUM = Path(os.environ.get("OVERTURE_CHROMIUM", "/usr/bin/chromium"))
APT = "apt-get install -y --no-install-recommends chromium chromium-driver"
#: the built web app `overture serve` serves at / (`make install` builds it)
WEB_BUILD = ROOT / "src" / "overture" / "server" / "static" / "index.html"
#: quiet, reproducible and offline: nothing phones home, nothing updates itself
ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
]


def missing() -> str | None:
    """What the browser tests lack (a sentence saying how to get it), or None."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return (f"{CHROMIUM} is missing: `make install` as root installs it, or run "
                f"`sudo {APT}`")
    if importlib.util.find_spec("playwright") is None:
        return ("the playwright package is missing: `make install` (or "
                ".venv/bin/pip install -c constraints.txt -e '.[dev]')")
    if not WEB_BUILD.is_file():
        return f"the web app is not built ({WEB_BUILD.relative_to(ROOT)}): run `make web`"
    return None


def launch_args() -> list[str]:
    """Chromium's flags; `--no-sandbox` only as root, where the sandbox cannot start."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    return [*(["--no-sandbox"] if root else []), *ARGS]


def launch(playwright: Playwright, *, headless: bool = True) -> Browser:
    """A headless Chromium. Each launch gets a fresh user-data directory of its own
    (Playwright makes a temporary profile and deletes it on close); each test then
    opens a new context, so no cookie or storage crosses from one test to the next."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=headless,
                                      args=launch_args())
