"""`overture worker`: a process that executes runs and sends batches for any server.

Workers on one or many machines share a PostgreSQL control plane and a data plane that
every process can reach (PostgreSQL or Spark). Each loop a worker first helps with a
send batch of any running run (so one big send spreads over every worker), else claims
a run to execute: a pending one, or one whose worker died (its lease lapsed). Claims
use `FOR UPDATE SKIP LOCKED`, so workers never wait on each other nor double up.

SIGTERM or SIGINT stops taking work; the run or batch in hand stops at its next safe
point, its messages in flight recorded, and another worker carries on with it.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field

from overture.data.workspace import Workspace
from overture.engine.clock import Clock, SystemClock
from overture.engine.runner import assist_batch
from overture.errors import OvertureError
from overture.observability.logs import log_context
from overture.service.workers import drive_run
from overture.store.claims import BatchClaim

logger = logging.getLogger("overture.worker")
#: seconds between checks that the data plane's connection still answers
PING_EVERY = 5.0


class WorkerSetupError(OvertureError):
    """A workspace that several processes cannot share."""


def check_shareable(ws: Workspace) -> None:
    """Workers need planes that several processes can open at once."""
    if not ws.control.claims.shared:
        raise WorkerSetupError(
            "overture worker needs a PostgreSQL control plane that every worker and the "
            f"server share; this workspace's is {ws.control_url.split(':', 1)[0]}: set "
            "[control] url = \"postgresql://…\" in overture.toml (see docs/operations.md)")
    if ws.data_url.startswith("pyspark://local"):
        raise WorkerSetupError(
            "overture worker needs a data plane that several processes can open; a local "
            "Spark warehouse (pyspark://local[N]) keeps its catalog in one process: use a "
            "Spark cluster with a shared metastore, or PostgreSQL (see docs/data.md)")
    if ws.data_url.startswith("duckdb://"):
        raise WorkerSetupError(
            "overture worker needs a data plane that several processes can open "
            "(PostgreSQL or Spark); DuckDB allows one process per file: set [data] url "
            "(see docs/operations.md)")


@dataclass
class Worker:
    ws: Workspace
    clock: Clock = field(default_factory=SystemClock)
    #: seconds between looks for work when there was none
    poll: float = 0.5
    stop: threading.Event = field(default_factory=threading.Event)
    runs: int = 0
    batches: int = 0
    _pinged_at: float = -PING_EVERY

    def run_forever(self) -> None:
        logger.info("worker %s ready", self.ws.control.claims.owner)
        while not self.stop.is_set():
            if not self.step():
                self.stop.wait(self.poll)
        logger.info("worker %s stopped", self.ws.control.claims.owner)

    def step(self) -> bool:
        """Take one piece of work and do it; False when there was none (or the data
        plane cannot be reached: no work is claimed until it can)."""
        if not self._data_plane_ready():
            return False
        claims = self.ws.control.claims
        claim = claims.claim_batch()
        if claim is not None:
            self._assist(claim)
            self.batches += 1
            return True
        run = claims.claim_run()
        if run is not None:
            self.ws.control.log(run.run_id, f"executing on worker {claims.owner}")
            if run.taken_from is not None:
                self.ws.control.log(run.run_id, f"taken over by worker {claims.owner} from "
                                    f"worker {run.taken_from}: its lease lapsed",
                                    level="warning")
            drive_run(self.ws, run.run_id, self.clock, self.stop)
            self._finished(run.run_id)
            self.runs += 1
            return True
        return False

    def _data_plane_ready(self) -> bool:
        """Ask the data plane a trivial question every `PING_EVERY` seconds; a lost
        connection (a restarted server, an idle timeout) is opened again, so a
        long-lived worker never fails the runs it claims for a stale connection."""
        now = time.monotonic()
        if now - self._pinged_at < PING_EVERY:
            return True
        try:
            self.ws.data.ping()
        except Exception as exc:
            logger.warning("data plane unreachable (%s): reconnecting", exc)
            self.ws.reconnect_data()
            try:
                self.ws.data.ping()
            except Exception as again:
                logger.warning("data plane still unreachable: %s", again)
                return False
        self._pinged_at = now
        return True

    def _assist(self, claim: BatchClaim) -> None:
        with log_context(run=claim.run_id, activity=claim.activity_id):
            try:
                result = assist_batch(self.ws, claim, self.stop)
                logger.info("batch %s of %s/%s: sent %s, failed %s", claim.batch,
                            claim.run_id, claim.activity_id, result.sent, result.failed)
            except Exception as exc:  # hand the batch back; the run's executor decides
                detail = str(exc) if isinstance(exc, OvertureError) \
                    else f"internal error: {type(exc).__name__}: {exc}"
                logger.warning("batch %s of %s/%s handed back: %s", claim.batch,
                               claim.run_id, claim.activity_id, detail)
                self.ws.control.log(claim.run_id, traceback.format_exc(),
                                    activity_id=claim.activity_id, level="debug")
                self.ws.control.claims.finish_batch(claim, sent=0, failed=0, retried=0,
                                                    status="open")

    def _finished(self, run_id: str) -> None:
        """What the server does after a run: a one-shot campaign completes, and so on."""
        from overture.service.lifecycle import Lifecycle

        try:
            Lifecycle(self.ws, self.clock).run_finished(run_id)
        except Exception:  # the run is recorded; the campaign's status can catch up
            logger.exception("after run %s", run_id)
