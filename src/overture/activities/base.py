"""What an activity is given and what it gives back, and the registry by type name.

An activity reads its input ports (work tables), writes one table per output port and
returns their names and counts. The runner records the outcome; activities never
touch the control plane themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

from overture.data.catalog import Catalog
from overture.data.plane import DataPlane, work_table_name
from overture.definition.campaign import Campaign
from overture.errors import OvertureError
from overture.rules.compiler import Compiler, RuleContext
from overture.rules.resolve import PortSchema, Resolver


class ActivityError(OvertureError):
    """An activity that cannot complete; the message goes to the run log and the user."""


@dataclass(frozen=True)
class PortInput:
    """One input port as the activity sees it. `table` None means a skipped input."""

    ref: str
    table: str | None
    schema: PortSchema

    @property
    def skipped(self) -> bool:
        return self.table is None

    @property
    def dimension(self) -> str:
        """The profiles' dimension; validation guarantees one where activities read it."""
        if self.schema.dimension is None:
            raise ActivityError(f"{self.ref} holds file rows, not profiles")
        return self.schema.dimension


@dataclass
class PortOutput:
    table: str | None  # None: a port not taken (a test branch)
    count: int | None


@dataclass
class Outcome:
    ports: dict[str, PortOutput] = field(default_factory=dict)
    excluded: dict[str, int] | None = None
    clock: datetime | None = None  # set by waits: the clock downstream activities see
    waiting: str | None = None  # the activity stops here for now (why), resumable
    #: why it waits: timer, deferred, errors, interrupted (see store.status.WaitingFor)
    waiting_for: str | None = None
    wake_at: datetime | None = None  # when a timer (or deferred messages) fall due


@dataclass
class ExecContext:
    """Everything an activity may use: the data plane, names, the run's clock."""

    plane: DataPlane
    catalog: Catalog
    campaign: Campaign
    run_id: str
    mode: str
    clock: datetime
    variables: dict[str, Any]
    ports: dict[str, PortSchema]
    columns_of: dict[str, dict[str, str]]
    filters_dir: Path | None = None
    base_dir: Path | None = None
    log: Callable[[str], None] = lambda message: None
    config: dict[str, Any] = field(default_factory=dict)  # overture.toml
    state_dir: Path | None = None  # the workspace's .overture/ folder
    providers: Callable[[str, str | None], Any] | None = None
    progress: Callable[[int, int], None] | None = None  # (done, total) while sending
    #: the engine's clock (live waits compare against it); system time by default
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: this activity's stored state from before (a resumed wait finds its wake-up time)
    previous: Any = None
    #: set when the run must stop soon (pause, stop, server shutdown): senders finish
    #: what is in flight, record it, and return
    interrupted: Callable[[], bool] = lambda: False
    #: starts a signal-scheduled campaign (campaign, variables) -> its run id; live only
    signal: Callable[[str, dict[str, Any]], str] | None = None
    #: the control plane's claims (`overture.store.claims.Claims`): send batches that
    #: every worker may take; live sending needs them
    claims: Any = None
    _compiler: Compiler | None = None

    @property
    def live(self) -> bool:
        return self.mode == "live"

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.campaign.timezone)

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.catalog, self.columns_of)

    @property
    def compiler(self) -> Compiler:
        if self._compiler is None:
            from overture.data import audiences

            def audience_table(name: str) -> tuple[str, str] | None:
                info = audiences.lookup(self.plane, name)
                return (info.table_name, info.dimension) if info else None

            self._compiler = Compiler(RuleContext(
                plane=self.plane, resolver=self.resolver, clock=self.clock,
                timezone=self.timezone, variables=self.variables,
                filters_dir=self.filters_dir, audience_table=audience_table))
        return self._compiler

    def provider_for(self, channel: str, name: str | None = None) -> Any:
        """The provider a channel activity sends through (its own `provider`, else the
        channel's in overture.toml)."""
        if self.providers is None:
            raise ActivityError("no providers in this context: live sending needs a workspace")
        return self.providers(channel, name)

    def table_name(self, activity: str, port: str) -> str:
        return work_table_name(self.run_id, activity, port)

    def read(self, port: PortInput) -> ir.Table:
        """The rows of an input port; a skipped input reads as an empty table."""
        if port.table is None:
            return empty_table(port.schema)
        return self.plane.table_any(port.table)

    def write(self, activity: str, port: str, expr: ir.Table) -> PortOutput:
        name = self.table_name(activity, port)
        return PortOutput(name, self.plane.materialize(expr, name))

    def passthrough(self, port: PortInput) -> PortOutput:
        """An output that is the input itself: no copy, the same table."""
        if port.table is None:
            return PortOutput(None, None)
        return PortOutput(port.table, self.plane.count(self.plane.table_any(port.table)))

    def key_of(self, dimension: str) -> str:
        return self.catalog.tables[dimension].key


_PRIME = 2147483647  # 2^31 - 1: products stay inside 64-bit integers on every engine


def seeded_hash(key: ir.Value, seed: int) -> ir.IntegerValue:
    """A pseudo-random order from (seed, key) that every engine computes alike.

    The seed picks a multiplier, then a squaring and a Lehmer step mix the key; every
    product stays below 2^62, inside 64-bit integers on every engine. (Steps that are
    only affine in the key would let the seed merely rotate one fixed order, so every
    seed would pick nearly the same rows.) Text keys use the engine's own hash, which
    is stable on one engine but differs between engines (see docs/decisions.md).
    """
    if key.type().is_integer():
        x = key.cast("int64") % _PRIME
    else:
        x = key.hash().cast("int64") % _PRIME
    factor = 1 + (seed * 69621 + 48271) % (_PRIME - 1)  # in [1, 2^31 - 2]: never 0
    x = (x * factor + 12345) % _PRIME
    x = (x * x + 1) % _PRIME
    x = (x * 48271 + 12345) % _PRIME
    return x


def empty_table(schema: PortSchema) -> ir.Table:
    return ibis.memtable({name: [] for name in schema.columns},
                         schema=ibis.schema(schema.columns))


Executor = Callable[[Any, list[PortInput], ExecContext], Outcome]
REGISTRY: dict[str, Executor] = {}


def executes(*types: str) -> Callable[[Executor], Executor]:
    """Register an executor for activity types."""

    def register(func: Executor) -> Executor:
        for name in types:
            REGISTRY[name] = func
        return func

    return register


def executor_for(activity_type: str) -> Executor:
    # importing the families fills the registry
    from overture.activities import channels, direct_mail, flow, targeting  # noqa: F401

    try:
        return REGISTRY[activity_type]
    except KeyError:
        raise ActivityError(f"activity type {activity_type!r} cannot run yet") from None
