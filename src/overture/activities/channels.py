"""Channel activities in test mode: who would be sent to, and who is excluded and why.

The address and consent checks run in the engine (one grouped count per reason);
rendering and delivery come with the channels work.
"""

from __future__ import annotations

import ibis

from overture.activities.base import ActivityError, ExecContext, Outcome, PortInput, executes

#: the first reason that applies wins (spec §5), in this order
EXCLUSION_ORDER = ("no_address", "invalid_address", "no_consent")
_VALID = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "sms": r"^\+?[0-9][0-9 ().-]{5,19}$",
    "push": r"^\S{8,}$",
}


@executes("email", "sms", "push", "direct_mail")
def channel(a: object, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    activity_id = getattr(a, "id")  # noqa: B009 - any channel model
    kind = getattr(a, "type")  # noqa: B009
    if ctx.live:
        raise ActivityError(f"live {kind} delivery is not available yet: run in test mode")
    source = inputs[0]
    dim = source.dimension
    spec = ctx.catalog.tables[dim].channels.get(kind)
    if spec is None:
        raise ActivityError(f"{dim!r} declares no {kind} channel in schema.yaml")
    fields = {"_address": spec.address}
    if spec.consent:
        fields["_consent"] = spec.consent
    wide = ctx.compiler.scope(dim, ctx.read(source), source.schema, fields=fields)
    address = wide["_address"].cast("string").strip()
    reasons = [(address.isnull() | (address == ""), "no_address")]
    if kind in _VALID:
        reasons.append((~address.re_search(_VALID[kind]).fill_null(False), "invalid_address"))
    if spec.consent:
        reasons.append((~wide["_consent"].fill_null(False), "no_consent"))
    reason = ibis.cases(*[(cond, ibis.literal(name)) for cond, name in reasons],
                        else_=ibis.literal(None, type="string"))
    wide = wide.mutate(_reason=reason)
    cols = list(source.schema.columns)
    out = ctx.write(activity_id, "out", wide.filter(wide._reason.isnull()).select(*cols))
    dropped = wide.filter(wide._reason.notnull())
    counts = dropped.group_by("_reason").aggregate(n=dropped.count()).to_pyarrow().to_pylist()
    excluded = {row["_reason"]: int(row["n"]) for row in counts}
    excluded = {name: excluded[name] for name in EXCLUSION_ORDER if name in excluded}
    ctx.log(f"test mode: {out.count} would be sent; excluded {excluded or 'none'}")
    return Outcome({"out": out}, excluded=excluded)
