"""Simulate content: the message one profile would get from a channel activity, and proofs.

`preview_profile` takes the profile's row as it reaches the activity's input port in
a run (a run given by the caller, else a test run made for the purpose), and renders
it the way live sending does: the same `Composer` (variant, language, the email's
MIME with its text part derived from the HTML when missing), the same send plan (so
an excluded profile is rendered along with its exclusion reason). A profile that
does not reach the activity is an error saying where it was dropped.

`send_proofs` sends that rendered message to test addresses through the channel's
provider, marked as a proof (`[PROOF] ` before the subject, `X-Overture-Proof: yes`),
each under a fresh random message id. Proofs are never written to the message log,
so frequency caps never count them.

The CLI (`overture preview`) is a thin layer over this module; the API can reuse it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from overture.activities.base import ExecContext, PortInput
from overture.channels import plan as planning
from overture.channels.compose import Composer
from overture.channels.identity import message_id
from overture.channels.mime import html_to_text
from overture.channels.providers import (
    OutgoingMessage,
    ProviderConfigError,
    ProviderPool,
    RawEmail,
    SendResult,
)
from overture.channels.render import CompiledContent, ContentError, RenderedMessage
from overture.channels.settings import delivery_settings
from overture.data.workspace import Workspace
from overture.definition.activities import CHANNEL_TYPES
from overture.definition.errors import InvalidDocument
from overture.definition.graph import PortRef
from overture.definition.validation import Validated, test_variables, validate
from overture.errors import OvertureError
from overture.store.repository import ActivityRunRecord, RunRecord
from overture.store.status import ActivityStatus

PROOF_PREFIX = "[PROOF] "
PROOF_HEADER = "X-Overture-Proof"
#: the push `data` key that marks a proof (the push counterpart of the header)
PROOF_DATA_KEY = "overture_proof"
#: the sender shown when neither the activity nor [delivery] gives one
NO_SENDER = "no-sender@invalid"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class PreviewError(OvertureError):
    """A preview that cannot be made: unknown activity or profile, bad run, bad address."""


@dataclass(frozen=True)
class Drop:
    """Where a profile stopped on its way to the activity, and why."""

    activity: str
    type: str
    why: str


class NotReached(PreviewError):
    """The profile exists but is not in the activity's input in this run."""

    def __init__(self, message: str, drops: list[Drop]) -> None:
        super().__init__(message)
        self.drops = drops


@dataclass
class Preview:
    """One profile's message from one channel activity, as live sending would build it."""

    run: str
    run_mode: str
    made_for_preview: bool          # a test run made for this preview (no --run)
    campaign: str
    activity: str
    channel: str
    category: str
    dimension: str
    key: str
    profile: str
    address: str | None
    excluded: str | None            # the plan's reason: live sending would not send it
    deferred_until: datetime | None  # quiet hours (action "defer"): sent at this UTC time
    variant: str | None
    language: str | None
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    text_derived: bool = False      # the text part made from the HTML
    body: str | None = None
    title: str | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # what proofs need: the composer, the row and the activity's own provider
    _composer: Composer | None = field(default=None, repr=False, compare=False)
    _row: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _provider: str | None = field(default=None, repr=False, compare=False)

    def message_json(self) -> dict[str, Any]:
        if self.channel == "email":
            return {"subject": self.subject, "html": self.html, "text": self.text,
                    "text_derived": self.text_derived, "headers": dict(self.headers)}
        if self.channel == "sms":
            return {"body": self.body}
        return {"title": self.title, "body": self.body, "data": dict(self.data or {})}

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run, "run_mode": self.run_mode,
            "made_for_preview": self.made_for_preview, "campaign": self.campaign,
            "activity": self.activity, "channel": self.channel, "category": self.category,
            "dimension": self.dimension, "key": self.key, "profile": self.profile,
            "address": self.address, "excluded": self.excluded,
            "deferred_until": None if self.deferred_until is None
            else self.deferred_until.isoformat(),
            "variant": self.variant, "language": self.language,
            "message": self.message_json(), "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ProofResult:
    to: str
    message_id: str
    provider: str
    ok: bool
    provider_id: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"to": self.to, "message_id": self.message_id, "provider": self.provider,
                "ok": self.ok, "provider_id": self.provider_id, "error": self.error}


def channel_activity_ids(campaign: Any) -> list[str]:
    return [a.id for a in campaign.activities if a.type in CHANNEL_TYPES]


# ---- the preview ----

def preview_profile(ws: Workspace, raw: dict[str, Any], activity_id: str, profile: str, *,
                    base_dir: Path | None, run_id: str | None = None,
                    clock: datetime | None = None,
                    variables: Mapping[str, Any] | None = None,
                    trigger: str | None = None, started_by: str | None = None) -> Preview:
    """Render `profile`'s message from `activity_id` of the document `raw`.

    The row comes from run `run_id` (a run of this campaign), else from a test run of
    the document made now (with `clock` and `variables`, recorded with `trigger` and
    `started_by` when given). Raises `PreviewError` (or `NotReached`) with a message
    for the user.
    """
    from overture.engine.environment import environment_for
    from overture.engine.runner import absolutize_paths, start_run

    doc = absolutize_paths(raw, base_dir)
    env = environment_for(ws, base_dir)
    validated = validate(doc, env)
    if validated.problems:
        raise InvalidDocument(validated.problems)
    campaign = validated.raise_for_problems()
    activity = _channel_activity(campaign, activity_id)
    ref = validated.edges[activity.id][0]
    schema = validated.ports[str(ref)]
    if schema.dimension is None:
        raise PreviewError(f"{activity.id} reads file rows ({ref}), not profiles")
    dim = schema.dimension
    key = ws.catalog.tables[dim].key
    profile = profile.strip()
    table = ws.data.table(dim)
    if ws.data.count(table.filter(table[key].cast("string") == profile)) == 0:
        raise PreviewError(f"no profile {key} = {profile!r} in {dim}")

    if run_id is not None:
        record = ws.control.get_run(run_id)
        if record.campaign != campaign.name:
            raise PreviewError(f"run {record.id} is a run of campaign {record.campaign!r}, "
                               f"not of {campaign.name!r}")
        if record.pruned_at is not None:
            raise PreviewError(f"run {record.id} was pruned: its work tables are gone")
        values = {**record.variables, **(variables or {})}
        made = False
    else:
        summary = start_run(ws, raw, base_dir=base_dir, mode="test", clock=clock,
                            variables=dict(variables or {}), trigger=trigger,
                            started_by=started_by)
        record = ws.control.get_run(summary["run"])
        values = test_variables(campaign, dict(variables or {}), "test")
        made = True
    states = ws.control.activity_runs(record.id)
    upstream = states.get(ref.activity)
    if upstream is None or upstream.status not in (ActivityStatus.DONE, ActivityStatus.SKIPPED):
        status = "has not run" if upstream is None else f"is {upstream.status.value}"
        why = f" ({record.error})" if record.error else ""
        raise PreviewError(f"{ref.activity} {status} in run {record.id}{why}: "
                           f"nothing reaches {activity.id}")
    input_clock = upstream.clock if upstream.clock is not None else record.clock
    ctx = ExecContext(
        plane=ws.data, catalog=ws.catalog, campaign=campaign, run_id=record.id,
        mode=record.mode, clock=clock if (clock is not None and not made) else input_clock,
        variables=dict(values), ports=validated.ports, columns_of=env.columns_of,
        filters_dir=ws.filters_dir, base_dir=base_dir, config=ws.config,
        state_dir=ws.state_dir)
    port_table = None if upstream.status == ActivityStatus.SKIPPED \
        else (upstream.tables or {}).get(ref.port)
    source = PortInput(str(ref), port_table, schema)
    work = ctx.read(source)
    mine = work.filter(work[key].cast("string") == profile)
    if port_table is None or ws.data.count(mine) == 0:
        drops = _where_dropped(ws, validated, states, ref, dim, key, profile)
        said = "; ".join(d.why for d in drops) or "it is not in the input"
        raise NotReached(f"{key} {profile} does not reach {activity.id} in run {record.id}: "
                         f"{said}", drops)
    return _render(ws, ctx, activity, source, record, made, profile)


def _channel_activity(campaign: Any, activity_id: str) -> Any:
    channels = channel_activity_ids(campaign)
    listed = ", ".join(channels) if channels else "none"
    try:
        activity = campaign.activity(activity_id)
    except KeyError:
        raise PreviewError(f"campaign {campaign.name!r} has no activity {activity_id!r}; "
                           f"its channel activities: {listed}") from None
    if activity.type not in CHANNEL_TYPES:
        raise PreviewError(f"{activity_id} is a {activity.type} activity, not a channel "
                           f"(email, sms, push); the campaign's channel activities: {listed}")
    return activity


def _render(ws: Workspace, ctx: ExecContext, a: Any, source: PortInput, record: RunRecord,
            made: bool, profile: str) -> Preview:
    from overture.activities.channels import composer_for

    dim = source.dimension
    key = ctx.key_of(dim)
    settings = delivery_settings(ctx.config)
    warnings: list[str] = []
    if not a.enabled:
        warnings.append(f"{a.id} is disabled: live runs skip it")
    rate = a.throttle or _provider_rate(ws, a, warnings)
    window = a.window_delta or settings.window
    options = planning.PlanOptions(kind=a.type, category=a.category, rate=rate, window=window,
                                   settings=settings, clock=ctx.clock)
    planned = planning.plan(ctx, source, options)
    mine = planned.filter(planned[planning.KEY_TEXT] == profile)
    plan_row = mine.limit(1).to_pyarrow().to_pylist()[0]
    work = ctx.read(source)
    rows = work.filter(work[key].cast("string") == profile).limit(1)
    rows = planning.with_attributes(ctx, rows.select(*source.schema.columns), dim)
    row = rows.to_pyarrow().to_pylist()[0]

    try:
        content = CompiledContent.compile(a, ctx.base_dir or ".")
    except ContentError as exc:
        raise PreviewError(str(exc)) from None
    composer = composer_for(a, source, ctx, content, settings)
    if a.type == "email" and not composer.from_:
        warnings.append("no sender: set `from` on the activity or under [delivery] in "
                        "overture.toml (live sending would fail; shown as "
                        f"{NO_SENDER})")
        composer = replace(composer, from_=NO_SENDER)
    key_text = plan_row[planning.KEY_TEXT]
    address = plan_row[planning.ADDRESS]
    deferred = plan_row[planning.NOT_BEFORE]  # naive UTC in the plan
    if deferred is not None and deferred.tzinfo is None:
        deferred = deferred.replace(tzinfo=UTC)
    mid = message_id(record.id, a.id, key_text)
    try:
        message, rendered = composer.compose(row, row[key], address or "", mid)
    except ContentError as exc:
        raise PreviewError(f"{key} {profile}: {exc}") from None
    except ValueError as exc:
        raise PreviewError(f"{a.id}: {key} {profile}: {exc}") from None
    preview = Preview(
        run=record.id, run_mode=record.mode, made_for_preview=made,
        campaign=ctx.campaign.name, activity=a.id, channel=a.type, category=a.category,
        dimension=dim, key=key, profile=key_text, address=address or None,
        excluded=plan_row[planning.REASON], deferred_until=deferred,
        variant=rendered.variant, language=rendered.language, warnings=warnings,
        _composer=composer, _row=row, _provider=getattr(a, "provider", None))
    if a.type == "email":
        payload = message.payload
        assert isinstance(payload, RawEmail)
        preview.subject = rendered.subject
        preview.html = rendered.html
        preview.text_derived = rendered.text_derived
        preview.text = rendered.text if rendered.text is not None \
            else html_to_text(rendered.html or "")
        preview.headers = dict(payload.headers)
    elif a.type == "sms":
        preview.body = rendered.body or ""
    else:
        assert isinstance(message.payload, dict)
        preview.title = rendered.title
        preview.body = rendered.body or ""
        preview.data = dict(message.payload.get("data") or {})
    return preview


def _provider_rate(ws: Workspace, a: Any, warnings: list[str]) -> float | None:
    """The provider's rate, as live sending plans with it (None when it has none)."""
    pool = ProviderPool(ws.config, os.environ, state_dir=ws.state_dir)
    try:
        return pool(a.type, getattr(a, "provider", None)).rate
    except ProviderConfigError as exc:
        warnings.append(f"the provider's rate is unknown ({exc}): throttle_window judged "
                        "without it")
        return None
    finally:
        pool.close()


# ---- where a profile was dropped ----

def _where_dropped(ws: Workspace, validated: Validated, states: dict[str, ActivityRunRecord],
                   ref: PortRef, dim: str, key: str, profile: str) -> list[Drop]:
    """The first activities on the paths to `ref` whose output no longer holds the
    profile: walking upstream until an activity's inputs hold it (or it has none)."""
    campaign = validated.campaign
    assert campaign is not None

    def holds(r: PortRef) -> bool:
        schema = validated.ports.get(str(r))
        if schema is None or schema.dimension != dim:
            return True  # another dimension (or file rows): the trail ends here
        state = states.get(r.activity)
        if state is None or state.status != ActivityStatus.DONE:
            return False
        table = (state.tables or {}).get(r.port)
        if table is None:
            return False
        rows = ws.data.table_any(table)
        return ws.data.count(rows.filter(rows[key].cast("string") == profile)) > 0

    seen: set[str] = set()

    def walk(r: PortRef) -> list[Drop]:
        if str(r) in seen:
            return []
        seen.add(str(r))
        a = campaign.activity(r.activity)
        state = states.get(r.activity)
        inputs = validated.edges.get(r.activity, [])
        if state is None or state.status not in (ActivityStatus.DONE, ActivityStatus.SKIPPED):
            status = "has not run" if state is None else f"is {state.status.value}"
            return [Drop(a.id, a.type, f"{a.id} {status} in this run")]
        if inputs and not any(holds(i) for i in inputs):
            found: list[Drop] = []
            for i in inputs:
                found.extend(walk(i))
            return found
        if state.status == ActivityStatus.SKIPPED:
            return [Drop(a.id, a.type, f"{a.id} ({a.type}) was skipped")]
        if not inputs:
            return [Drop(a.id, a.type, f"{a.id} ({a.type}) does not select it")]
        table = (state.tables or {}).get(r.port)
        if table is None:
            return [Drop(a.id, a.type, f"{a.id} ({a.type}) did not take its port {r.port}")]
        elsewhere = [p for p in (state.tables or {})
                     if p != r.port and holds(PortRef(a.id, p))]
        why = f"dropped by {a.id} ({a.type})"
        if elsewhere:
            why += f": it leaves on port {', '.join(elsewhere)}, not on {r.port}"
        return [Drop(a.id, a.type, why)]

    return walk(ref)


# ---- proofs ----

def parse_proof_addresses(channel: str, text: str) -> list[str]:
    """The comma-separated test addresses, each checked for the channel."""
    addresses = [part.strip() for part in text.split(",") if part.strip()]
    if not addresses:
        raise PreviewError("--proof needs at least one address")
    pattern = _EMAIL if channel == "email" else re.compile(planning.ADDRESS_PATTERNS[channel])
    what = {"email": "an email address", "sms": "a phone number",
            "push": "a device token"}[channel]
    bad = [a for a in addresses if not pattern.search(a)]
    if bad:
        raise PreviewError(f"proof address {bad[0]!r} is not {what} (for {channel} proofs)")
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True)
class _ProofComposer(Composer):
    """The activity's composer, with the rendered message marked as a proof."""

    def render(self, profile: Mapping[str, Any], key: object) -> RenderedMessage:
        rendered = super().render(profile, key)
        if self.channel == "email":
            return replace(rendered, subject=PROOF_PREFIX + (rendered.subject or ""))
        if self.channel == "push" and rendered.title:
            return replace(rendered, title=PROOF_PREFIX + rendered.title)
        return replace(rendered, body=PROOF_PREFIX + (rendered.body or ""))


def proof_message(preview: Preview, address: str) -> OutgoingMessage:
    """The preview's message for a test address, marked as a proof, under a new id."""
    composer = preview._composer
    if composer is None:
        raise PreviewError("this preview holds no message to send")
    if preview.channel == "email" and composer.from_ == NO_SENDER:
        raise PreviewError("email needs a sender: set `from` on the activity or `from` "
                           "under [delivery] in overture.toml")
    proof = _ProofComposer(**{f.name: getattr(composer, f.name) for f in fields(composer)})
    key = preview._row.get(preview.key)
    try:
        message, _ = proof.compose(preview._row, key, address, uuid.uuid4())
    except (ContentError, ValueError) as exc:
        raise PreviewError(f"{preview.key} {preview.profile}: {exc}") from None
    payload: Any = message.payload
    if isinstance(payload, RawEmail):
        payload = RawEmail(f"{PROOF_HEADER}: yes\r\n".encode() + payload.data,
                           {**payload.headers, PROOF_HEADER: "yes"})
    elif preview.channel == "push":
        payload = {**payload, "data": {**payload.get("data", {}), PROOF_DATA_KEY: "yes"}}
    return replace(message, payload=payload, run_id=None)


def send_proofs(ws: Workspace, preview: Preview, addresses: list[str]) -> list[ProofResult]:
    """Send the preview's message to each test address through the activity's provider
    (its own `provider`, else the channel's in [channels]); never logged."""
    messages = [proof_message(preview, address) for address in addresses]
    pool = ProviderPool(ws.config, os.environ, state_dir=ws.state_dir)
    results: list[ProofResult] = []
    try:
        provider = pool(preview.channel, preview._provider)
        for message in messages:
            try:
                answer = provider.send(message)
            except Exception as exc:  # a provider bug: reported, never a traceback
                answer = SendResult.failed(f"provider error: {type(exc).__name__}: {exc}")
            results.append(ProofResult(
                to=message.to, message_id=str(message.message_id), provider=provider.name,
                ok=answer.ok, provider_id=answer.provider_id,
                error=None if answer.ok else (answer.error or "failed")))
    finally:
        pool.close()
    return results


__all__ = [
    "PROOF_HEADER",
    "PROOF_PREFIX",
    "Drop",
    "NotReached",
    "Preview",
    "PreviewError",
    "ProofResult",
    "channel_activity_ids",
    "parse_proof_addresses",
    "preview_profile",
    "proof_message",
    "send_proofs",
]
