"""A campaign's report (spec §9): figures per campaign, per run and per channel activity,
and breakdowns per link, email domain, A/B variant and hour or day.

Everything is counted inside the data plane's engine, from the message log (one row per
run, activity and profile of live channel activities) and the events table (opens,
clicks, deliveries, bounces, unsubscribes, complaints): a handful of Ibis aggregations,
each one query, whatever the number of messages. Python only adds up the aggregated
rows (one per run and activity, per link, per domain, per variant, per bucket) and
computes the rates and the significance tests from them.

Counting rules:

- a message is *targeted* when its activity planned it (excluded or not); *sent* and
  *errors* (failed) come from the log; *pending* are planned and not yet sent;
- *delivered*, *bounces* (hard, soft), *unsubscribes*, *complaints* and the *unique*
  opens and clicks count messages that have at least one such event, so a retried
  webhook or two soft bounces of one message count once; *total* opens and clicks count
  events;
- opens and clicks flagged `machine` (scanners, privacy proxies, too soon after
  delivery) are left out of the totals and uniques and reported apart as `machine`,
  unless `include_machine` is set;
- `ctr` is unique clicks over delivered messages, or over sent ones when no delivery
  receipt exists for the scope (`ctr_basis` says which); `ctor` is unique clicks over
  unique opens;
- the last-24-hours window counts what happened in it: messages planned (targeted,
  excluded, pending), sent or failed, and events, between `now - 24 h` and `now`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from overture.data import events as event_data
from overture.data import messages as message_data
from overture.data.plane import DataPlane
from overture.errors import OvertureError
from overture.reports.significance import rate, two_proportion_z

#: the exclusion reasons of spec §5, in their order
EXCLUSION_REASONS = ("no_address", "invalid_address", "no_consent", "unsubscribed",
                     "suppressed", "frequency_cap", "quiet_hours", "throttle_window")
WINDOW = timedelta(hours=24)
WINDOW_NAME = "last_24h"
#: domains listed one by one per scope; the rest are added up under OTHER_DOMAINS
DOMAIN_LIMIT = 25
OTHER_DOMAINS = "(other)"
NO_DOMAIN = "(none)"
#: the decimals of rates (fractions, spec §9)
RATE_DIGITS = 4

#: per-message event counts: name -> what counts (`human` is replaced by the rule)
_EVENT_KINDS = ("d", "bh", "bs", "o", "om", "k", "km", "u", "c")
#: figures counting messages with at least one such event
_UNIQUE = (("delivered", "d"), ("bounces_hard", "bh"), ("bounces_soft", "bs"),
           ("opens_unique", "o"), ("clicks_unique", "k"), ("unsubscribes", "u"),
           ("complaints", "c"))
#: figures counting events
_TOTAL = (("opens_total", "o"), ("opens_machine", "om"), ("clicks_total", "k"),
          ("clicks_machine", "km"))
_W = "_24"  # the suffix of a figure counted over the window


class ReportError(OvertureError):
    """Nothing to report (`code` says why: `no_live_run`, `not_found`)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class _Tally:
    """Aggregated counts of one scope (an activity, a run, the campaign)."""

    counts: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    excluded_window: Counter[str] = field(default_factory=Counter)

    def add(self, other: _Tally) -> None:
        self.counts.update(other.counts)
        self.excluded.update(other.excluded)
        self.excluded_window.update(other.excluded_window)


@dataclass
class _Span:
    since: datetime
    until: datetime

    def within(self, column: ir.TimestampValue) -> ir.BooleanValue:
        return (column >= ibis.literal(self.since, type="timestamp")) & \
            (column <= ibis.literal(self.until, type="timestamp"))


def iso(moment: datetime | None) -> str | None:
    """Stored instants are naive UTC: shown with their offset."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _ratio(numerator: int, denominator: int) -> float | None:
    value = rate(numerator, denominator)
    return None if value is None else round(value, RATE_DIGITS)


# ---- the expressions ----

def scope_of(plane: DataPlane, campaign: str, run_id: str | None = None,
             activity_id: str | None = None) -> ir.Table | None:
    """The message log rows a report counts."""
    log = message_data.message_log(plane)
    if log is None:
        return None
    rows = log.filter(log.campaign == campaign)
    if run_id is not None:
        rows = rows.filter(rows.run_id == run_id)
    if activity_id is not None:
        rows = rows.filter(rows.activity_id == activity_id)
    return rows


def _scoped_events(plane: DataPlane, scope: ir.Table) -> ir.Table | None:
    """The events of the scope's messages, with their activity (`s_activity`)."""
    table = event_data.events(plane)
    if table is None:
        return None
    ids = scope.select(s_id=scope.message_id, s_activity=scope.activity_id)
    joined = table.inner_join(ids, table.message_id == ids.s_id)
    return joined.select(*table.columns, "s_activity")


def _counted(ev: ir.Table, include_machine: bool) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(what the human figures count, what is machine-made) of opens and clicks."""
    machine = ev.machine.fill_null(False)
    counted = ibis.literal(True) if include_machine else ~machine
    return counted, machine


def _per_message(ev: ir.Table, span: _Span, include_machine: bool) -> ir.Table:
    """`e_id` and per kind of event its count, all time and in the window."""
    counted, machine = _counted(ev, include_machine)
    kind = ev.type
    bounce = kind == "bounce"
    hard = ev.bounce_type.fill_null("soft") == "hard"
    conditions = {
        "d": kind == "delivered", "bh": bounce & hard, "bs": bounce & ~hard,
        "o": (kind == "open") & counted, "om": (kind == "open") & machine,
        "k": (kind == "click") & counted, "km": (kind == "click") & machine,
        "u": kind == "unsubscribe", "c": kind == "complaint",
    }
    recent = span.within(ev["at"])
    aggs: dict[str, ir.Scalar] = {}
    for name, condition in conditions.items():
        aggs[name] = ev.count(where=condition)
        aggs[name + _W] = ev.count(where=condition & recent)
    return ev.group_by(e_id=ev.message_id).aggregate(**aggs)


def message_level(plane: DataPlane, scope: ir.Table, span: _Span,
                  include_machine: bool) -> ir.Table:
    """The scope's rows with, per message, how many events of each kind it had."""
    names = [k + s for k in _EVENT_KINDS for s in ("", _W)]
    ev = _scoped_events(plane, scope)
    if ev is None:
        return scope.mutate(**{n: ibis.literal(0, type="int64") for n in names})
    per = _per_message(ev, span, include_machine)
    joined = scope.left_join(per, scope.message_id == per.e_id)
    return joined.select(*scope.columns, **{n: joined[n].fill_null(0) for n in names})


def _figure_aggs(m: ir.Table, span: _Span) -> dict[str, ir.Scalar]:
    status = m.status
    created, sent_in = span.within(m.created_at), span.within(m.sent_at)
    aggs: dict[str, ir.Scalar] = {
        "targeted": m.count(), "targeted" + _W: m.count(where=created),
        "pending": m.count(where=status == "pending"),
        "pending" + _W: m.count(where=(status == "pending") & created),
        "sent": m.count(where=status == "sent"),
        "sent" + _W: m.count(where=(status == "sent") & sent_in),
        "errors": m.count(where=status == "failed"),
        "errors" + _W: m.count(where=(status == "failed") & sent_in),
        "first_at": m.created_at.min(),
    }
    for name, column in _UNIQUE:
        aggs[name] = m.count(where=m[column] > 0)
        aggs[name + _W] = m.count(where=m[column + _W] > 0)
    for name, column in _TOTAL:
        aggs[name] = m[column].sum()
        aggs[name + _W] = m[column + _W].sum()
    return aggs


def _rows(expr: ir.Table) -> list[dict[str, Any]]:
    return list(expr.to_pyarrow().to_pylist())


# ---- the figures ----

def figures(tally: _Tally, *, window: bool = False, basis: str | None = None
            ) -> dict[str, Any]:
    """The spec §9 figures of a tally, all time or over the window."""
    suffix = _W if window else ""

    def n(name: str) -> int:
        return int(tally.counts.get(name + suffix, 0))

    excluded = tally.excluded_window if window else tally.excluded
    basis = basis or ctr_basis(tally)
    clicks, opens = n("clicks_unique"), n("opens_unique")
    return {
        "targeted": n("targeted"),
        "excluded": _ordered_reasons(excluded),
        "pending": n("pending"),
        "sent": n("sent"),
        "delivered": n("delivered"),
        "bounces": {"hard": n("bounces_hard"), "soft": n("bounces_soft")},
        "errors": n("errors"),
        "opens": {"total": n("opens_total"), "unique": opens, "machine": n("opens_machine")},
        "clicks": {"total": n("clicks_total"), "unique": clicks,
                   "machine": n("clicks_machine")},
        "unsubscribes": n("unsubscribes"),
        "complaints": n("complaints"),
        "ctr": _ratio(clicks, n(basis)),
        "ctr_basis": basis,
        "ctor": _ratio(clicks, opens),
    }


def ctr_basis(tally: _Tally) -> str:
    """`delivered` when delivery receipts exist for the scope, else `sent`."""
    return "delivered" if tally.counts.get("delivered", 0) > 0 else "sent"


def _ordered_reasons(counts: Counter[str]) -> dict[str, int]:
    known = [r for r in EXCLUSION_REASONS if counts.get(r)]
    other = sorted(str(r) for r in counts if r not in EXCLUSION_REASONS and counts[r])
    return {r: int(counts[r]) for r in (*known, *other)}


def _scoped(tally_rows: Iterable[tuple[tuple[str, str], _Tally]], index: int
            ) -> dict[str, _Tally]:
    """Tallies added up by run (index 0) or activity (index 1), in first-seen order."""
    out: dict[str, _Tally] = {}
    for key, tally in tally_rows:
        out.setdefault(key[index], _Tally()).add(tally)
    return out


# ---- breakdowns ----

def _links(plane: DataPlane, scope: ir.Table, ev: ir.Table | None,
           include_machine: bool) -> dict[str, list[dict[str, Any]]]:
    """Per activity, every tracked link (index, URL) with its clicks."""
    found: dict[tuple[str, int | None], dict[str, Any]] = {}
    if plane.has_table(event_data.LINKS):
        links = plane.table_any(event_data.LINKS)
        ids = scope.select(s_id=scope.message_id, s_activity=scope.activity_id)
        sent = links.inner_join(ids, links.message_id == ids.s_id)
        known = sent.group_by(activity=sent.s_activity, link=sent.link).aggregate(
            url=sent.url.min())
        for row in _rows(known):
            found[(row["activity"], row["link"])] = {
                "link": row["link"], "url": row["url"], "clicks": 0, "unique": 0,
                "machine": 0}
    if ev is not None:
        clicks = ev.filter(ev.type == "click")
        counted, machine = _counted(clicks, include_machine)
        agg = clicks.group_by(activity=clicks.s_activity, link=clicks.link).aggregate(
            url=clicks.url.min(), clicks=clicks.count(where=counted),
            unique=clicks.message_id.nunique(where=counted),
            machine=clicks.count(where=machine))
        for row in _rows(agg):
            entry = found.setdefault((row["activity"], row["link"]), {
                "link": row["link"], "url": row["url"]})
            entry["url"] = entry.get("url") or row["url"]
            entry.update(clicks=int(row["clicks"]), unique=int(row["unique"]),
                         machine=int(row["machine"]))
    out: dict[str, list[dict[str, Any]]] = {}
    for key in sorted(found, key=lambda k: (k[0], _link_key(k[1]))):
        out.setdefault(key[0], []).append(found[key])
    return out


def _link_key(link: int | None) -> int:
    return -1 if link is None else int(link)


_DOMAIN_FIGURES = ("targeted", "sent", "delivered", "bounced", "opens", "clicks",
                   "unsubscribes", "complaints")


def _domains(m: ir.Table) -> dict[tuple[str, str], Counter[str]]:
    """Per (activity, email domain), counts of messages."""
    email = m.filter(m.channel == "email")
    domain = email.address.strip().lower().re_extract(r"@([^@\s]+)$", 1)
    domain = ibis.ifelse(domain == "", ibis.null("string"), domain)
    sent = email.status == "sent"
    agg = email.group_by(activity=email.activity_id, domain=domain).aggregate(
        targeted=email.count(), sent=email.count(where=sent),
        delivered=email.count(where=email.d > 0),
        bounced=email.count(where=(email.bh > 0) | (email.bs > 0)),
        opens=email.count(where=email.o > 0), clicks=email.count(where=email.k > 0),
        unsubscribes=email.count(where=email.u > 0),
        complaints=email.count(where=email.c > 0))
    out: dict[tuple[str, str], Counter[str]] = {}
    for row in _rows(agg):
        key = (row["activity"], row["domain"] or NO_DOMAIN)
        out[key] = Counter({name: int(row[name]) for name in _DOMAIN_FIGURES})
    return out


def _domain_list(counts: dict[str, Counter[str]]) -> list[dict[str, Any]]:
    """The DOMAIN_LIMIT largest domains (by targeted, then name), the rest added up."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1]["targeted"], item[0]))
    shown = [{"domain": name, **{k: int(c[k]) for k in _DOMAIN_FIGURES}}
             for name, c in ranked[:DOMAIN_LIMIT]]
    rest: Counter[str] = Counter()
    for _, c in ranked[DOMAIN_LIMIT:]:
        rest.update(c)
    if ranked[DOMAIN_LIMIT:]:
        shown.append({"domain": OTHER_DOMAINS, "domains": len(ranked) - DOMAIN_LIMIT,
                      **{k: int(rest[k]) for k in _DOMAIN_FIGURES}})
    return shown


def _variants(m: ir.Table) -> dict[str, dict[str, Counter[str]]]:
    """Per activity and variant, counts of sent messages."""
    sent = m.filter(m.variant.notnull() & (m.status == "sent"))
    agg = sent.group_by(activity=sent.activity_id, variant=sent.variant).aggregate(
        sent=sent.count(), delivered=sent.count(where=sent.d > 0),
        opens=sent.count(where=sent.o > 0), clicks=sent.count(where=sent.k > 0))
    out: dict[str, dict[str, Counter[str]]] = {}
    for row in _rows(agg):
        out.setdefault(row["activity"], {})[row["variant"]] = Counter(
            {k: int(row[k]) for k in ("sent", "delivered", "opens", "clicks")})
    return out


def variant_tests(counts: dict[str, Counter[str]], basis: str,
                  order: list[str] | None = None) -> list[dict[str, Any]]:
    """Each variant's click rate (unique clicks over `basis`) and its z-test against the
    first variant (in `order`, the document's, else by name)."""
    position = {name: i for i, name in enumerate(order or [])}
    names = sorted(counts, key=lambda v: (position.get(v, len(position)), v))
    out: list[dict[str, Any]] = []
    if not names:
        return out
    base = counts[names[0]]
    for name in names:
        c = counts[name]
        entry: dict[str, Any] = {"variant": name, "sent": c["sent"],
                                 "delivered": c["delivered"], "opens": c["opens"],
                                 "clicks": c["clicks"],
                                 "click_rate": _ratio(c["clicks"], c[basis]),
                                 "baseline": name == names[0]}
        if name == names[0]:
            entry.update(lift=None, z=None, p_value=None, significant=False,
                         enough_data=None)
        else:
            test = two_proportion_z(base["clicks"], base[basis], c["clicks"], c[basis])
            entry.update(lift=None if test.lift is None else round(test.lift, RATE_DIGITS),
                         z=None if test.z is None else round(test.z, RATE_DIGITS),
                         p_value=test.p_value, significant=test.significant,
                         enough_data=test.enough_data)
        out.append(entry)
    return out


TIMELINE_UNITS = (("hourly", "h"), ("daily", "D"))
_KINDS = ("sent", "opens", "clicks")


def _timeline(m: ir.Table, ev: ir.Table | None, include_machine: bool
              ) -> dict[str, dict[str, dict[datetime, Counter[str]]]]:
    """Per unit (hourly, daily), per activity, per bucket start: sends, opens, clicks."""
    sends = m.filter((m.status == "sent") & m.sent_at.notnull())
    parts = [sends.select(activity=sends.activity_id, at=sends.sent_at,
                          kind=ibis.literal("sent"))]
    if ev is not None:
        counted, _ = _counted(ev, include_machine)
        for kind, name in (("open", "opens"), ("click", "clicks")):
            chosen = ev.filter((ev.type == kind) & counted)
            parts.append(chosen.select(activity=chosen.s_activity, at=chosen["at"],
                                       kind=ibis.literal(name)))
    happened = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    out: dict[str, dict[str, dict[datetime, Counter[str]]]] = {}
    for unit_name, unit in TIMELINE_UNITS:
        agg = happened.group_by(activity=happened.activity, kind=happened.kind,
                                bucket=happened["at"].truncate(unit)).aggregate(
            n=happened.count())
        per: dict[str, dict[datetime, Counter[str]]] = {}
        for row in _rows(agg):
            bucket = row["bucket"]
            if not isinstance(bucket, datetime):  # a date on some engines
                bucket = datetime(bucket.year, bucket.month, bucket.day)
            per.setdefault(row["activity"], {}).setdefault(bucket, Counter())[row["kind"]] \
                += int(row["n"])
        out[unit_name] = per
    return out


def _buckets(per_bucket: dict[datetime, Counter[str]]) -> list[dict[str, Any]]:
    return [{"at": iso(at), **{k: int(c.get(k, 0)) for k in _KINDS}}
            for at, c in sorted(per_bucket.items())]


def _merged(parts: Iterable[dict[datetime, Counter[str]]]) -> dict[datetime, Counter[str]]:
    out: dict[datetime, Counter[str]] = {}
    for part in parts:
        for at, c in part.items():
            out.setdefault(at, Counter()).update(c)
    return out


# ---- the report ----

def campaign_report(plane: DataPlane, campaign: str, run_id: str | None = None,
                    activity_id: str | None = None, now: datetime | None = None, *,
                    include_machine: bool = False,
                    variant_order: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The report of a campaign's live runs (or one of them, or one activity).

    `now` (default: the wall clock) ends the last-24-hours window; `variant_order` gives,
    per activity, its variants in the document's order (the first is the baseline of
    the significance tests; default: by name). Raises `ReportError` when there is
    nothing to report.
    """
    moment = message_data.utc_naive(now) if now is not None else message_data.now()
    span = _Span(moment - WINDOW, moment)
    scope = scope_of(plane, campaign, run_id, activity_id)
    if scope is None:
        raise _nothing(campaign, run_id, activity_id)
    # five queries read it: computed once, in a temporary table of the engine
    m = message_level(plane, scope, span, include_machine).cache()
    try:
        return _assemble(plane, campaign, run_id, activity_id, moment, span, scope, m,
                         include_machine, variant_order or {})
    finally:
        m.release()


def _assemble(plane: DataPlane, campaign: str, run_id: str | None, activity_id: str | None,
              moment: datetime, span: _Span, scope: ir.Table, m: ir.Table,
              include_machine: bool, variant_order: dict[str, list[str]]) -> dict[str, Any]:
    grouped = m.group_by("run_id", "activity_id", "channel").aggregate(**_figure_aggs(m, span))
    rows = sorted(_rows(grouped), key=lambda r: (r["first_at"] or datetime.min,
                                                 r["run_id"], r["activity_id"]))
    if not rows:
        raise _nothing(campaign, run_id, activity_id)
    tallies: dict[tuple[str, str], _Tally] = {}
    channels: dict[str, str] = {}
    started: dict[str, datetime] = {}
    for row in rows:
        key = (row["run_id"], row["activity_id"])
        tally = tallies.setdefault(key, _Tally())
        tally.counts.update({k: int(v or 0) for k, v in row.items()
                             if k not in ("run_id", "activity_id", "channel", "first_at")})
        channels.setdefault(row["activity_id"], row["channel"])
        if row["first_at"] is not None:
            started.setdefault(row["run_id"], row["first_at"])
    excluded = scope.filter(scope.status == "excluded")
    by_reason = excluded.group_by("run_id", "activity_id", "reason").aggregate(
        n=excluded.count(), n_window=excluded.count(where=span.within(excluded.created_at)))
    for row in _rows(by_reason):
        tally = tallies.setdefault((row["run_id"], row["activity_id"]), _Tally())
        reason = row["reason"] or "unknown"
        tally.excluded[reason] += int(row["n"])
        tally.excluded_window[reason] += int(row["n_window"])

    per_activity = _scoped(tallies.items(), 1)
    per_run = _scoped(tallies.items(), 0)
    total = _Tally()
    for tally in per_activity.values():
        total.add(tally)

    ev = _scoped_events(plane, scope)
    links = _links(plane, scope, ev, include_machine)
    domains = _domains(m)
    variants = _variants(m)
    timeline = _timeline(m, ev, include_machine)

    activities: dict[str, Any] = {}
    for activity, tally in per_activity.items():
        basis = ctr_basis(tally)
        own_domains = {domain: c for (owner, domain), c in domains.items()
                       if owner == activity}
        activities[activity] = {
            "channel": channels.get(activity),
            **figures(tally),
            WINDOW_NAME: figures(tally, window=True, basis=basis),
            "links": links.get(activity, []),
            "domains": _domain_list(own_domains),
            "variants": variant_tests(variants.get(activity, {}), basis,
                                      variant_order.get(activity)),
            "timeline": {unit: _buckets(timeline[unit].get(activity, {}))
                         for unit, _ in TIMELINE_UNITS},
        }
    all_domains: dict[str, Counter[str]] = {}
    for (_, domain), c in domains.items():
        all_domains.setdefault(domain, Counter()).update(c)
    basis = ctr_basis(total)
    return {
        "campaign": campaign,
        "run": run_id,
        "activity": activity_id,
        "runs": len(per_run),
        "now": iso(moment),
        "windows": {WINDOW_NAME: {"from": iso(span.since), "to": iso(span.until)}},
        "include_machine": include_machine,
        "totals": {**figures(total), WINDOW_NAME: figures(total, window=True, basis=basis),
                   "domains": _domain_list(all_domains),
                   "timeline": {unit: _buckets(_merged(timeline[unit].values()))
                                for unit, _ in TIMELINE_UNITS}},
        "activities": activities,
        "by_run": [{"run": run, "first_message_at": iso(started.get(run)),
                    **figures(tally), WINDOW_NAME: figures(tally, window=True)}
                   for run, tally in per_run.items()],
    }


def _nothing(campaign: str, run_id: str | None, activity_id: str | None) -> ReportError:
    if run_id is not None and activity_id is not None:
        return ReportError("no_live_run", f"activity {activity_id!r} of run {run_id} of "
                                          f"campaign {campaign!r} planned no message")
    if run_id is not None:
        return ReportError("no_live_run", f"run {run_id} of campaign {campaign!r} planned no "
                                          "message: reports count what live runs send")
    if activity_id is not None:
        return ReportError("no_live_run", f"no live run of campaign {campaign!r} has a "
                                          f"channel activity {activity_id!r} that planned "
                                          "messages")
    return ReportError("no_live_run", f"campaign {campaign!r} has no live run with a channel "
                                      "activity yet: reports count what live runs send (test "
                                      "runs send nothing)")
