"""Channel activities (email, SMS, push): who is sent to, who is excluded and why.

Test mode computes the plan (spec §5) and renders a few samples, sending nothing.
Live mode writes the plan to the message log once, sends every pending message
through the provider, and passes on the profiles actually sent to. A resumed live
run finds its plan and sends only what is still pending.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ibis

from overture.activities.base import (
    ActivityError,
    ExecContext,
    Outcome,
    PortInput,
    PortOutput,
    executes,
)
from overture.channels import plan as planning
from overture.channels.compose import Composer
from overture.channels.identity import message_id_sql
from overture.channels.plan import EXCLUSION_ORDER, PlanOptions
from overture.channels.render import CompiledContent, ContentError
from overture.channels.settings import DeliverySettings, delivery_settings, tracking_base_url
from overture.data import messages
from overture.observability import metrics

__all__ = ["EXCLUSION_ORDER", "channel"]

SAMPLES = 3


def _settings(ctx: ExecContext) -> DeliverySettings:
    return delivery_settings(ctx.config)


@executes("email", "sms", "push")
def channel(a: Any, inputs: list[PortInput], ctx: ExecContext) -> Outcome:
    source = inputs[0]
    settings = _settings(ctx)
    provider = None
    if ctx.live:
        provider = ctx.provider_for(a.type, a.provider)
    rate = a.throttle or (provider.rate if provider is not None else None)
    window = a.window_delta or settings.window
    options = PlanOptions(kind=a.type, category=a.category, rate=rate, window=window,
                          settings=settings, clock=ctx.clock)
    content = _compile(a, ctx)
    if not ctx.live:
        return _test(a, source, ctx, options, content)
    assert provider is not None
    return _live(a, source, ctx, options, content, provider, settings)


def _compile(a: Any, ctx: ExecContext) -> CompiledContent:
    try:
        return CompiledContent.compile(a, ctx.base_dir or ".")
    except ContentError as exc:
        raise ActivityError(str(exc)) from None


def composer_for(a: Any, source: PortInput, ctx: ExecContext, content: CompiledContent,
              settings: DeliverySettings) -> Composer:
    language = ctx.catalog.tables[source.dimension].language
    signer = None
    if a.type == "email":  # unsubscribe links (marketing), click and open tracking
        from overture.channels.tokens import Signer
        signer = Signer.for_workspace(ctx.state_dir)
    return Composer(
        content=content, variables=ctx.variables, campaign=ctx.campaign.name,
        run_id=ctx.run_id, from_=getattr(a, "from_", None) or settings.from_,
        reply_to=getattr(a, "reply_to", None), base_url=tracking_base_url(ctx.config),
        signer=signer, language_column=language, push_data=getattr(a, "data", None))


def _test(a: Any, source: PortInput, ctx: ExecContext, options: PlanOptions,
          content: CompiledContent) -> Outcome:
    planned = planning.plan(ctx, source, options)
    excluded = planning.excluded_counts(planned)
    kept = planned.filter(planned[planning.REASON].isnull())
    out = ctx.write(a.id, "out", kept.select(*source.schema.columns))
    _samples(a, source, ctx, content, kept)
    ctx.log(f"test mode: {out.count} would be sent; excluded {excluded or 'none'}")
    return Outcome({"out": out}, excluded=excluded)


def _samples(a: Any, source: PortInput, ctx: ExecContext, content: CompiledContent,
             kept: Any) -> None:
    """Render the first few would-be messages: a template that fails on real data is
    found by the test run, not by the live one."""
    dim = source.dimension
    key = ctx.key_of(dim)
    first = kept.order_by(key).limit(SAMPLES).select(*source.schema.columns)
    rows = planning.with_attributes(ctx, first, dim)
    composer = composer_for(a, source, ctx, content, _settings(ctx))
    for row in rows.to_pyarrow().to_pylist():
        try:
            rendered = composer.render(row, row[key])
        except ContentError as exc:
            raise ActivityError(f"profile {row[key]}: {exc}") from None
        headline = rendered.subject or rendered.title or rendered.body or ""
        ctx.log(f"sample for {key} {row[key]}: {' '.join(headline.split())[:120]}")


def _live(a: Any, source: PortInput, ctx: ExecContext, options: PlanOptions,
          content: CompiledContent, provider: Any, settings: DeliverySettings) -> Outcome:
    with _planning_lock(ctx, a, options):
        _write_plan(a, source, ctx, options, provider)
    delivery = delivery_for(a, source, ctx, content, provider, settings)
    report = delivery.run()
    if not report.others_sending:  # else their results would be appended mid-fold
        messages.fold(ctx.plane, ctx.run_id, a.id)
    counts = messages.counts(ctx.plane, ctx.run_id, a.id)
    excluded = messages.excluded_counts(ctx.plane, ctx.run_id, a.id)
    excluded = {name: excluded[name] for name in EXCLUSION_ORDER if name in excluded}
    retries = f", {report.retried} retries" if report.retried else ""
    ctx.log(f"sent {report.sent}, failed {report.failed}{retries} this time; "
            f"message log: {counts}")
    if report.paused:
        return Outcome({}, excluded=excluded, waiting=report.paused,
                       waiting_for="interrupted" if report.interrupted else "errors")
    pending = counts.get("pending", 0)
    if pending:
        log = messages.of_activity(ctx.plane, ctx.run_id, a.id)
        assert log is not None
        wake = log.filter(log.status == "pending").not_before.min().execute()
        if wake is None or wake != wake:  # None or NaT: due now, yet not sent
            return Outcome({}, excluded=excluded, waiting_for="errors",
                           waiting=f"{pending} messages due now are still pending: resume "
                                   "the run to send them")
        wake_at = wake.replace(tzinfo=UTC)
        return Outcome({}, excluded=excluded, waiting_for="deferred", wake_at=wake_at,
                       waiting=f"{pending} messages deferred by quiet hours until {wake} UTC; "
                               "the server resumes the run then (or resume it by hand)")
    out = _sent_profiles(ctx, source, a.id)
    return Outcome({"out": out}, excluded=excluded)


def _planning_lock(ctx: ExecContext, a: Any, options: PlanOptions) -> Any:
    """Plans counted against frequency caps are written one at a time across workers:
    two runs planned at once would each miss the other's messages."""
    import contextlib

    settings = options.settings
    if ctx.claims is None or settings is None or not settings.caps_for(a.type, a.category):
        return contextlib.nullcontext()
    return ctx.claims.exclusive(f"overture-plan:{a.type}:{a.category}")


def _write_plan(a: Any, source: PortInput, ctx: ExecContext, options: PlanOptions,
                provider: Any) -> None:
    """The message log's plan of this activity run, written once: a resumed run finds it."""
    dim = source.dimension
    if not messages.has_plan(ctx.plane, ctx.run_id, a.id):
        planned = planning.plan(ctx, source, options)
        now = messages.now()
        reason = planned[planning.REASON]
        rows = planned.select(
            message_id=message_id_sql(ctx.run_id, a.id, planned[planning.KEY_TEXT]),
            run_id=ibis.literal(ctx.run_id), campaign=ibis.literal(ctx.campaign.name),
            activity_id=ibis.literal(a.id), channel=ibis.literal(a.type),
            category=ibis.literal(a.category), dimension=ibis.literal(dim),
            profile_key=planned[planning.KEY_TEXT], address=planned[planning.ADDRESS],
            status=ibis.ifelse(reason.isnull(), ibis.literal("pending"),
                               ibis.literal("excluded")),
            reason=reason, not_before=planned[planning.NOT_BEFORE],
            created_at=ibis.literal(now, type="timestamp"),
            variant=ibis.literal(None, type="string"),
            language=ibis.literal(None, type="string"),
            provider=ibis.literal(provider.name), provider_id=ibis.literal(None, type="string"),
            error=ibis.literal(None, type="string"), attempts=ibis.literal(0, type="int32"),
            sent_at=ibis.literal(None, type="timestamp"))
        messages.write_plan(ctx.plane, rows)
        ctx.log(f"plan written: {messages.counts(ctx.plane, ctx.run_id, a.id)}")
        if metrics.enabled() is not None:  # counted once, when the plan is written
            metrics.messages_excluded(a.type, messages.excluded_counts(ctx.plane, ctx.run_id,
                                                                       a.id))
    else:
        ctx.log("plan found: continuing with the messages still pending")


def delivery_for(a: Any, source: PortInput, ctx: ExecContext, content: CompiledContent,
                 provider: Any, settings: DeliverySettings) -> Any:
    """The `Delivery` of a live channel activity: the run's executor sends with it, and
    so does any worker that claims one of its batches."""
    from overture.channels.delivery import Delivery
    from overture.channels.throttle import RateLimiter, limiter_for

    composer = composer_for(a, source, ctx, content, settings)
    if a.type == "email" and not composer.from_:
        raise ActivityError("email needs a sender: set `from` on the activity or "
                            "`from` under [delivery] in overture.toml")
    claims = ctx.claims if ctx.claims is not None and ctx.claims.shared else None
    limiters: list[Any] = [lim for lim in (
        limiter_for(provider.name, provider.rate, claims),) if lim]
    if a.throttle:
        limiters.append(limiter_for(f"throttle:{ctx.run_id}:{a.id}", a.throttle, claims)
                        if claims is not None else RateLimiter(a.throttle))
    # deferred messages are due once the later of the real now and the run's clock
    # has passed their time (a run whose clock is ahead keeps them deferred)
    due = max(datetime.now(UTC), ctx.clock)
    return Delivery(ctx, source, composer, provider, settings, limiters, now=due,
                    progress=ctx.progress)


def assist(a: Any, inputs: list[PortInput], ctx: ExecContext, claim: Any) -> Any:
    """Send one batch of a live channel activity that another worker executes."""
    content = _compile(a, ctx)
    provider = ctx.provider_for(a.type, a.provider)
    return delivery_for(a, inputs[0], ctx, content, provider, _settings(ctx)).assist(claim)


def _sent_profiles(ctx: ExecContext, source: PortInput, activity_id: str) -> PortOutput:
    log = messages.of_activity(ctx.plane, ctx.run_id, activity_id)
    assert log is not None
    sent = log.filter(log.status == "sent").select(_k=log.profile_key)
    work = ctx.read(source)
    key = ctx.key_of(source.dimension)
    rows = work.filter(work[key].cast("string").isin(sent._k))
    return ctx.write(activity_id, "out", rows)
