"""Flow control: fork, and_join, wait, test, alert, end. They route tables, never copy them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from overture.activities.base import (
    ActivityError,
    ExecContext,
    Outcome,
    PortInput,
    PortOutput,
    executes,
)
from overture.definition import activities as act
from overture.errors import OvertureError
from overture.rules.values import parse_duration


@executes("fork")
def fork(a: act.Fork, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    out = ctx.passthrough(inputs[0])
    return Outcome({branch: PortOutput(out.table, out.count) for branch in a.branches})


@executes("and_join")
def and_join(a: act.AndJoin, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    primary = inputs[a.inputs.index(a.primary) if a.primary else 0]
    if primary.skipped:
        return Outcome({"out": ctx.write(a.id, "out", ctx.read(primary))})
    return Outcome({"out": ctx.passthrough(primary)})


@executes("wait")
def wait(a: act.Wait, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    """Test mode: the clock jumps. Live: the wake-up time is returned to be stored
    before the run goes idle; the scheduler resumes the run once it has passed, and
    the resumed wait finds it again in `ctx.previous` rather than counting anew."""
    stored = getattr(ctx.previous, "wake_at", None)
    if ctx.live and stored is not None:
        wake = stored
    elif a.duration:
        wake = ctx.clock + parse_duration(a.duration)
    else:
        assert a.until is not None
        until = datetime.fromisoformat(a.until)
        if until.tzinfo is None:
            until = until.replace(tzinfo=ZoneInfo(ctx.campaign.timezone))
        wake = max(ctx.clock, until)
    if not ctx.live:
        ctx.log(f"test mode: the clock jumps to {wake.isoformat()}")
        return Outcome({"out": ctx.passthrough(inputs[0])}, clock=wake)
    if ctx.now() < wake:
        return Outcome({}, waiting=f"waiting until {wake.isoformat()}", waiting_for="timer",
                       wake_at=wake)
    ctx.log(f"woke up: the wait ended at {wake.isoformat()}")
    return Outcome({"out": ctx.passthrough(inputs[0])}, clock=wake)


_COMPARE = {
    "eq": lambda n, v: n == v, "ne": lambda n, v: n != v, "gt": lambda n, v: n > v,
    "gte": lambda n, v: n >= v, "lt": lambda n, v: n < v, "lte": lambda n, v: n <= v,
}


@executes("test")
def test(a: act.Test, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    source = inputs[0]
    count = 0 if source.skipped else ctx.plane.count(ctx.read(source))
    chosen = next((c.id for c in a.conditions if _COMPARE[c.count.op](count, c.count.value)),
                  "default")
    ctx.log(f"{count} profiles: branch {chosen!r} taken")
    out = ctx.passthrough(source) if not source.skipped else ctx.write(a.id, chosen,
                                                                       ctx.read(source))
    return Outcome({port: out if port == chosen else PortOutput(None, None)
                    for port in a.output_ports()})


test.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@executes("alert")
def alert(a: act.Alert, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    suffix = " (test mode: only logged)" if not ctx.live else ""
    ctx.log(f"ALERT {a.title}: {a.message}{suffix}")
    return Outcome({"out": ctx.passthrough(inputs[0])})


@executes("end")
def end(a: act.End, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    if a.signal is None:
        return Outcome({})
    target, variables = a.signal.campaign, dict(a.signal.variables or {})
    if not ctx.live:
        ctx.log(f"test mode: would signal campaign {target!r} with {variables}")
        return Outcome({})
    if ctx.signal is None:
        raise ActivityError("this run cannot signal other campaigns (no lifecycle)")
    try:
        run_id = ctx.signal(target, variables)
    except OvertureError as exc:  # refused (too soon, not published): said, not fatal
        ctx.log(f"campaign {target!r} not signalled: {exc}")
        return Outcome({})
    ctx.log(f"signalled campaign {target!r}: run {run_id}")
    return Outcome({})
