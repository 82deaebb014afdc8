"""Fault injection for crash tests: kill this process at a chosen point.

`OVERTURE_FAULT=after:ACTIVITY` (or `before:` / `during:`) sends SIGKILL to the
running process at that checkpoint, exactly like `kill -9` from outside, so tests
can prove that a resumed run loses and repeats nothing.
"""

from __future__ import annotations

import os
import signal


def checkpoint(stage: str, activity_id: str) -> None:
    wanted = os.environ.get("OVERTURE_FAULT")
    if wanted and wanted == f"{stage}:{activity_id}":
        os.kill(os.getpid(), signal.SIGKILL)
