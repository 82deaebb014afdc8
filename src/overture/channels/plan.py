"""Who a channel activity sends to, and who it excludes and why: one query in the engine.

Spec §5: a profile excluded for several reasons is counted once, under the first
reason in `EXCLUSION_ORDER`. Every reason is a column expression or a membership
test against a small table (the suppression list, unsubscribes, recent sends), so
the whole plan is one statement whatever the audience's size; test runs count it,
live runs write it to the message log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir

from overture.activities.base import ActivityError, ExecContext, PortInput
from overture.channels.settings import DeliverySettings, QuietHours
from overture.data import messages
from overture.data.messages import utc_naive

EXCLUSION_ORDER = ("no_address", "invalid_address", "no_consent", "unsubscribed",
                   "suppressed", "frequency_cap", "quiet_hours", "throttle_window")
ADDRESS_PATTERNS = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "sms": r"^\+?[0-9][0-9 ().-]{5,19}$",
    "push": r"^\S{8,}$",
}
#: the columns a plan adds to the input's rows
KEY_TEXT, ADDRESS, REASON, NOT_BEFORE = "_key_text", "_address", "_reason", "_not_before"


@dataclass(frozen=True)
class PlanOptions:
    """What the plan depends on besides the input rows."""

    kind: str                      # email, sms, push, direct_mail
    category: str = "marketing"
    rate: float | None = None      # messages per second (activity throttle or provider rate)
    window: timedelta | None = None
    settings: DeliverySettings | None = None
    clock: datetime | None = None  # the run's clock: quiet hours are judged at this instant


def plan(ctx: ExecContext, source: PortInput, options: PlanOptions) -> ir.Table:
    """The input's rows with `_key_text`, `_address`, `_reason` and `_not_before`."""
    dim = source.dimension
    table_spec = ctx.catalog.tables[dim]
    spec = table_spec.channels.get(options.kind)  # type: ignore[call-overload]
    if spec is None:
        raise ActivityError(f"{dim!r} declares no {options.kind} channel in schema.yaml")
    key = ctx.key_of(dim)
    settings = options.settings or DeliverySettings()
    clock = options.clock or datetime.now(UTC)
    fields = {ADDRESS: spec.address}
    if spec.consent:
        fields["_consent"] = spec.consent
    quiet = _quiet_hours(settings, options)
    if quiet is not None and table_spec.timezone:
        fields["_tz"] = table_spec.timezone
    wide = ctx.compiler.scope(dim, ctx.read(source), source.schema, fields=fields)
    address = wide[ADDRESS].cast("string").strip()
    key_text = wide[key].cast("string")
    wide = wide.mutate(**{ADDRESS: address, KEY_TEXT: key_text})
    address, key_text = wide[ADDRESS], wide[KEY_TEXT]

    reasons: list[tuple[ir.BooleanValue, str]] = [
        (address.isnull() | (address == ""), "no_address")]
    if options.kind in ADDRESS_PATTERNS:
        reasons.append((~address.re_search(ADDRESS_PATTERNS[options.kind]).fill_null(False),
                        "invalid_address"))
    if spec.consent:
        reasons.append((~wide["_consent"].fill_null(False), "no_consent"))
    if options.kind in ("email", "sms", "push"):
        reasons.extend(_lists(ctx, dim, options.kind, address, key_text))
        caps = settings.caps_for(options.kind, options.category)
        # messages other live runs still have to send count too: two runs planned at
        # once (on two workers) must not both fill a profile's cap
        active = ctx.claims.active_live_runs() if caps and ctx.claims is not None else []
        for cap in caps:
            # caps count real sends, so their window ends at the real now
            recent = messages.recent_sends(ctx.plane, options.kind, options.category, dim,
                                           datetime.now(UTC) - cap.window, ctx.run_id,
                                           pending_of=active)
            if recent is not None:
                over = recent.filter(recent.n >= cap.max).profile_key
                reasons.append((key_text.isin(over), "frequency_cap"))

    not_before: ir.Value = ibis.literal(None, type="timestamp")
    if quiet is not None:
        until = _quiet_until(ctx, wide, quiet, clock)
        if quiet.action == "exclude":
            reasons.append((until.notnull(), "quiet_hours"))
        else:
            not_before = until
    reason = ibis.cases(*[(cond, ibis.literal(name)) for cond, name in reasons],
                        else_=ibis.literal(None, type="string"))
    wide = wide.mutate(**{REASON: reason, NOT_BEFORE: not_before})

    if options.rate is not None and options.window is not None:
        capacity = math.floor(options.rate * options.window.total_seconds())
        rank = ibis.row_number().over(ibis.window(group_by=wide[REASON].isnull(),
                                                  order_by=wide[key]))
        over_window = wide[REASON].isnull() & (rank >= capacity)
        wide = wide.mutate(**{REASON: ibis.ifelse(over_window, ibis.literal("throttle_window"),
                                                  wide[REASON])})
    keep = [*source.schema.columns, KEY_TEXT, ADDRESS, REASON, NOT_BEFORE]
    return wide.select(*keep)


def _lists(ctx: ExecContext, dim: str, kind: str, address: ir.StringValue,
           key_text: ir.StringValue) -> list[tuple[ir.BooleanValue, str]]:
    """Unsubscribed profiles and suppressed addresses (plain or hashed), as membership tests."""
    from overture.data import suppressions

    reasons: list[tuple[ir.BooleanValue, str]] = []
    unsubscribed = suppressions.unsubscribed_keys(ctx.plane, dim, kind)
    if unsubscribed is not None:
        reasons.append((key_text.isin(unsubscribed.profile_key), "unsubscribed"))
    suppressed = suppressions.suppressed_addresses(ctx.plane, kind)
    if suppressed is not None:
        normal = suppressions.normalize_address_sql(address, kind)
        listed = normal.isin(suppressed.address)
        hashed = suppressions.hashed_suppressions(ctx.plane, kind)
        if hashed is not None:  # erased people's addresses, kept only as hashes
            digest = suppressions.hash_address_sql(normal, ctx.plane.backend)
            listed = listed | digest.isin(hashed.address)
        reasons.append((listed, "suppressed"))
    return reasons


def _quiet_hours(settings: DeliverySettings, options: PlanOptions) -> QuietHours | None:
    quiet = settings.quiet_hours
    if quiet is None or options.category != "marketing" or options.kind not in quiet.channels:
        return None
    return quiet


def next_allowed(quiet: QuietHours, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When a profile in `zone` may next receive a message: None if it may now."""
    local = now.astimezone(zone)
    if not quiet.quiet_at(local.time().replace(tzinfo=None)):
        return None
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day = day + timedelta(days=1)  # the quiet period runs past midnight
    wake = datetime.combine(day, quiet.end, tzinfo=zone)
    return wake.astimezone(UTC)


def _zone(name: object, default: ZoneInfo) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        return default
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return default


def _quiet_until(ctx: ExecContext, wide: ir.Table, quiet: QuietHours,
                 now: datetime) -> ir.Value:
    """Per row: the instant quiet hours end in the profile's zone, NULL when not quiet.

    The zones are few: their answers are computed here once each and joined back as a
    small table (an unknown or missing zone falls back to the campaign's).
    """
    default = ctx.timezone
    if "_tz" not in wide.columns:
        until = next_allowed(quiet, default, now)
        return ibis.literal(None if until is None else utc_naive(until), type="timestamp")
    zones = [row["_tz"] for row in wide.select("_tz").distinct().to_pyarrow().to_pylist()]
    answers = {}
    for name in zones:
        wake = next_allowed(quiet, _zone(name, default), now)
        answers[name] = None if wake is None else utc_naive(wake)
    fallback = next_allowed(quiet, default, now)
    mapping = ibis.cases(
        *[(wide["_tz"] == ibis.literal(name), ibis.literal(value, type="timestamp"))
          for name, value in answers.items() if name is not None],
        else_=ibis.literal(None if fallback is None else utc_naive(fallback),
                           type="timestamp")) if answers else \
        ibis.literal(None if fallback is None else utc_naive(fallback), type="timestamp")
    return mapping


def with_attributes(ctx: ExecContext, rows: ir.Table, dimension: str) -> ir.Table:
    """`rows` (holding the dimension's key) plus the dimension's other columns: what
    a template may name besides the work table's columns."""
    key = ctx.key_of(dimension)
    table = ctx.plane.table(dimension)
    extra = [c for c in table.columns if c not in rows.columns]
    if not extra:
        return rows
    attributes = table.select(table[key].name("_dkey"), *extra)
    return rows.left_join(attributes, rows[key] == attributes._dkey).drop("_dkey")


def excluded_counts(planned: ir.Table) -> dict[str, int]:
    """Profiles excluded by reason, in the spec's order."""
    dropped = planned.filter(planned[REASON].notnull())
    rows = dropped.group_by(REASON).aggregate(n=dropped.count()).to_pyarrow().to_pylist()
    found = {row[REASON]: int(row["n"]) for row in rows}
    return {name: found[name] for name in EXCLUSION_ORDER if name in found}
