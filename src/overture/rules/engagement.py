"""The `engagement` leaf of spec §3: has the profile had this feedback event?

`{engagement: {event: E, campaign: C, activity: A, within: D, include_machine: B}}`
holds for a profile with at least one message in the message log — of its dimension,
of campaign `C` and activity `A` when given — that had event `E`:

- `sent` and `excluded` read the log's status (`within` applies to `sent_at`, or to
  `created_at` for exclusions, the moment the plan was written);
- the others read the events table, joined to the log on `message_id`: `delivered`,
  `opened` (`open`), `clicked` (`click`), `bounced`, `unsubscribed`, `complained`
  (`within` applies to the event's `at`). Opens and clicks flagged `machine` count
  only with `include_machine: true`.

The log holds live runs only, so test runs never count. A profile is matched on
`dimension` = the rule's dimension and `profile_key` = CAST(key AS text), as the
channel activities wrote it. The leaf compiles to one subquery — the distinct
matching `profile_key`s — which the rule tests with `CAST(key AS text) IN (…)`; every
value in it is a typed literal. When the log (or, for events, the events table) does
not exist yet, no profile can match: the leaf is FALSE, and its `not:` TRUE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from overture.data import events, messages
from overture.data.plane import DataPlane
from overture.definition.rules import MACHINE_EVENTS, EngagementSpec
from overture.rules.values import ValueProblem, parse_duration, substitute

#: events read from the message log's status, and the column `within` applies to
LOG_STATUSES = {"sent": ("sent", "sent_at"), "excluded": ("excluded", "created_at")}
#: events read from the events table, by their `type` there
EVENT_TYPES = {"delivered": "delivered", "opened": "open", "clicked": "click",
               "bounced": "bounce", "unsubscribed": "unsubscribe", "complained": "complaint"}


@dataclass(frozen=True)
class Settings:
    """A leaf with its variables substituted and its duration parsed."""

    event: str
    campaign: str | None
    activity: str | None
    within: timedelta | None
    include_machine: bool


def _text(raw: str | None, variables: dict[str, Any]) -> str | None:
    if raw is None:
        return None
    value = substitute(raw, variables)
    if value is None or isinstance(value, list | dict | bool):
        raise ValueProblem(f"{value!r} is not a name")
    text = str(value)
    if not text:
        raise ValueProblem("must not be empty")
    if "\x00" in text:
        raise ValueProblem("text cannot contain the NUL character (\\x00)")
    return text


def settings(spec: EngagementSpec, variables: dict[str, Any]) -> Settings:
    """The leaf's settings, or ValueProblem naming the setting (`within: …`)."""
    values: dict[str, Any] = {}
    for name in ("campaign", "activity"):
        try:
            values[name] = _text(getattr(spec, name), variables)
        except ValueProblem as exc:
            raise ValueProblem(f"{name}: {exc}") from None
    within = None
    if spec.within is not None:
        try:
            within = parse_duration(substitute(spec.within, variables))
        except ValueProblem as exc:
            raise ValueProblem(f"within: {exc}") from None
    return Settings(spec.event, values["campaign"], values["activity"], within,
                    spec.include_machine)


def problems(spec: EngagementSpec, variables: dict[str, Any]) -> list[tuple[str, str]]:
    """Validation's checks, as (setting, message): unknown variables, a bad duration.

    The shape (the event's name, `include_machine` for opens and clicks only) is checked
    when the rule is parsed.
    """
    found: list[tuple[str, str]] = []
    for name in ("campaign", "activity"):
        try:
            _text(getattr(spec, name), variables)
        except ValueProblem as exc:
            found.append((name, str(exc)))
    if spec.within is not None:
        try:
            parse_duration(substitute(spec.within, variables))
        except ValueProblem as exc:
            found.append(("within", str(exc)))
    return found


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # a naive clock is UTC (spec §3)
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _window(column: ir.TimestampValue, within: timedelta | None,
            clock: datetime) -> ir.BooleanValue | None:
    """`column` within `within` up to the clock, both ends included (as `in_last`)."""
    if within is None:
        return None
    now = _naive_utc(clock)
    try:
        start = now - within
    except OverflowError:
        raise ValueProblem(f"within: {within} reaches back before the year 1") from None
    return ((column >= ibis.literal(start, type="timestamp"))
            & (column <= ibis.literal(now, type="timestamp")))


def matching_keys(plane: DataPlane, leaf: Settings, dimension: str,
                  clock: datetime) -> ir.Table | None:
    """`profile_key`: the distinct keys (as text) of the profiles the leaf holds for, or
    None when the tables it reads do not exist yet (then it holds for nobody)."""
    log = messages.message_log(plane)
    if log is None:
        return None
    rows = log.filter(log.dimension == ibis.literal(dimension, type="string"))
    if leaf.campaign is not None:
        rows = rows.filter(rows.campaign == ibis.literal(leaf.campaign, type="string"))
    if leaf.activity is not None:
        rows = rows.filter(rows.activity_id == ibis.literal(leaf.activity, type="string"))
    if leaf.event in LOG_STATUSES:
        status, at = LOG_STATUSES[leaf.event]
        rows = rows.filter(rows.status == ibis.literal(status, type="string"))
        window = _window(rows[at], leaf.within, clock)
        if window is not None:
            rows = rows.filter(window)
    else:
        table = events.events(plane)
        if table is None:
            return None
        happened = table.filter(table.type == ibis.literal(EVENT_TYPES[leaf.event],
                                                           type="string"))
        if leaf.event in MACHINE_EVENTS and not leaf.include_machine:
            happened = happened.filter(~happened.machine.fill_null(False))
        window = _window(happened["at"], leaf.within, clock)
        if window is not None:
            happened = happened.filter(window)
        rows = rows.semi_join(happened, rows.message_id == happened.message_id)
    keys = rows.filter(rows.profile_key.notnull()).select("profile_key").distinct()
    return keys


def predicate(plane: DataPlane, spec: EngagementSpec, variables: dict[str, Any],
              dimension: str, key: ir.Value, clock: datetime) -> ir.BooleanValue:
    """The leaf as a non-null boolean of the rule's wide table (`key`: the profile key)."""
    leaf = settings(spec, variables)
    keys = matching_keys(plane, leaf, dimension, clock)
    if keys is None:
        return ibis.literal(False)
    return key.cast("string").isin(keys.profile_key).fill_null(False)
