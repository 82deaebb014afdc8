"""The `engagement` leaf (spec §3): who was sent, excluded, opened, clicked… compiled
in the engine from the message log and the events table.

Two live runs write the log through the outbox: campaign `promo` (an email `mail` to
everyone and an SMS `text`), then campaign `other` (an email also called `mail`).
Events are then appended by hand for known profiles at known instants; every
expectation below is counted by hand from ROWS and that list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.kit import ALL_IDS, Harness
from overture.data import events, messages
from overture.data.workspace import Workspace
from overture.definition import yamlio
from overture.definition.validation import validate
from overture.engine.environment import environment_for
from overture.rules.compiler import RULE_ADAPTER, Compiler, RuleError
from support.workspace import CLOCK

from .helpers import compile_rule, context, escaped, matching, sql_ids

#: email: valid address and consent (3 and 7 lack consent; 4 and 10 have no address;
#: 6 and 9 invalid ones)
EMAILED = {1, 2, 5, 8, 11, 12}
EMAIL_EXCLUDED = ALL_IDS - EMAILED
#: sms: the only customers with a phone (and sms consent)
TEXTED = {1, 5}

PROMO = """
- {id: all, type: build_audience}
- {id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "Hi {{ first_name }}", html: "<p>Hello {{ first_name }}</p>"}
- {id: text, type: sms, inputs: [all], body: "Hi {{ first_name }}"}
"""
OTHER = """
- {id: all, type: build_audience}
- {id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "News", html: "<p>News</p>"}
"""

#: (campaign, activity, customer, type, seconds before CLOCK, machine)
EVENTS: list[tuple[str, str, int, str, int, bool]] = [
    ("promo", "mail", 1, "open", 86400, False),
    ("promo", "mail", 1, "open", 2 * 86400, False),       # a second open: still one profile
    ("promo", "mail", 2, "open", 10 * 86400, False),      # outside a 7-day window
    ("promo", "mail", 5, "open", 3600, True),              # a mail scanner, 1 hour before
    ("promo", "mail", 1, "click", 86400, False),
    ("promo", "mail", 8, "click", 86400, True),            # a link checker
    ("promo", "mail", 11, "bounce", 3 * 86400, False),
    ("promo", "mail", 12, "unsubscribe", 86400, False),
    ("promo", "mail", 8, "complaint", 86400, False),
    *[("promo", "mail", key, "delivered", 4 * 86400, False) for key in (1, 2, 5, 8, 12)],
    ("other", "mail", 11, "open", 86400, False),
    ("other", "mail", 12, "open", 86400, False),
    ("other", "mail", 2, "click", 86400, False),
]


def message_ids(ws: Workspace) -> dict[tuple[str, str, int], str]:
    log = messages.message_log(ws.data)
    assert log is not None
    rows = log.select("campaign", "activity_id", "profile_key", "message_id").to_pyarrow()
    return {(r["campaign"], r["activity_id"], int(r["profile_key"])): r["message_id"]
            for r in rows.to_pylist()}


def event_rows(ws: Workspace) -> list[dict[str, Any]]:
    ids = message_ids(ws)
    clock = CLOCK.astimezone(UTC).replace(tzinfo=None)
    return [{"event_id": f"e{i}", "message_id": ids[(campaign, activity, key)],
             "type": kind, "at": clock - timedelta(seconds=before), "machine": machine,
             "bounce_type": "hard" if kind == "bounce" else None, "source": "manual"}
            for i, (campaign, activity, key, kind, before, machine) in enumerate(EVENTS)]


def live_runs(root: Path, data_url: str | None = None) -> Harness:
    h = Harness(root, data_url=data_url)
    for doc, name in ((PROMO, "promo"), (OTHER, "other")):
        result = h.run(doc, name=name, mode="live")
        assert result["status"] == "done", result
    return h


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory,
      data_urls: Callable[[], str | None]) -> Iterator[Harness]:
    harness = live_runs(tmp_path_factory.mktemp("engagement"), data_urls())
    stored = events.append(harness.ws.data, event_rows(harness.ws))
    assert (stored.stored, stored.unknown) == (len(EVENTS), [])
    yield harness
    harness.close()


def eng(event: str, **settings: Any) -> dict[str, Any]:
    return {"engagement": {"event": event, **settings}}


def keys(h: Harness, rule: dict[str, Any], **ctx: Any) -> set[int]:
    return matching(h.ws, rule, **ctx)


# ------------------------------------------------------------------ the log as written

def test_the_live_runs_logged_what_the_expectations_assume(h: Harness) -> None:
    log = messages.message_log(h.ws.data)
    assert log is not None
    rows = log.to_pyarrow().to_pylist()
    by: dict[tuple[str, str, str], set[int]] = {}
    for r in rows:
        by.setdefault((r["campaign"], r["activity_id"], r["status"]), set()).add(
            int(r["profile_key"]))
    assert by == {("promo", "mail", "sent"): EMAILED,
                  ("promo", "mail", "excluded"): EMAIL_EXCLUDED,
                  ("promo", "text", "sent"): TEXTED,
                  ("promo", "text", "excluded"): ALL_IDS - TEXTED,
                  ("other", "mail", "sent"): EMAILED,
                  ("other", "mail", "excluded"): EMAIL_EXCLUDED}


# ------------------------------------------------------------------ opens and clicks

PROMO_MAIL = {"campaign": "promo", "activity": "mail"}


def test_opened(h: Harness) -> None:
    assert keys(h, eng("opened", **PROMO_MAIL)) == {1, 2}  # 5's open is a machine's


def test_did_not_open_among_those_sent(h: Harness) -> None:
    rule = {"all": [eng("sent", **PROMO_MAIL), {"not": eng("opened", **PROMO_MAIL)}]}
    assert keys(h, rule) == EMAILED - {1, 2}
    # `not` alone keeps everyone else too, never sent to included
    assert keys(h, {"not": eng("opened", **PROMO_MAIL)}) == ALL_IDS - {1, 2}


def test_clicked(h: Harness) -> None:
    assert keys(h, eng("clicked", **PROMO_MAIL)) == {1}
    assert keys(h, eng("clicked")) == {1, 2}  # any campaign


def test_machine_opens_and_clicks_count_only_when_asked(h: Harness) -> None:
    assert keys(h, eng("opened", include_machine=False, **PROMO_MAIL)) == {1, 2}
    assert keys(h, eng("opened", include_machine=True, **PROMO_MAIL)) == {1, 2, 5}
    assert keys(h, eng("clicked", include_machine=True, **PROMO_MAIL)) == {1, 8}


@pytest.mark.parametrize(("event", "expected"), [
    ("delivered", {1, 2, 5, 8, 12}),
    ("bounced", {11}),
    ("unsubscribed", {12}),
    ("complained", {8}),
])
def test_feedback_events(h: Harness, event: str, expected: set[int]) -> None:
    assert keys(h, eng(event, **PROMO_MAIL)) == expected
    assert keys(h, {"not": eng(event, **PROMO_MAIL)}) == ALL_IDS - expected


# ------------------------------------------------------------------ within

def test_within_counts_back_from_the_clock(h: Harness) -> None:
    assert keys(h, eng("opened", within="7 days", **PROMO_MAIL)) == {1}  # 2's is 10 days old
    assert keys(h, eng("opened", within="11 days", **PROMO_MAIL)) == {1, 2}
    assert keys(h, eng("opened", within="7 days", include_machine=True,
                       **PROMO_MAIL)) == {1, 5}
    # both ends are included: the scanner's open is exactly one hour old
    assert keys(h, eng("opened", within="1 hour", include_machine=True,
                       **PROMO_MAIL)) == {5}
    assert keys(h, eng("opened", within="59 minutes", include_machine=True,
                       **PROMO_MAIL)) == set()
    assert keys(h, eng("bounced", within="2 days", **PROMO_MAIL)) == set()
    assert keys(h, eng("bounced", within="3 days", **PROMO_MAIL)) == {11}


def test_events_after_the_clock_are_not_within(h: Harness) -> None:
    earlier = CLOCK - timedelta(days=5)
    # from 5 days back: 1's opens (1 and 2 days back) are later, 2's (10 days) is in
    assert keys(h, eng("opened", within="7 days", **PROMO_MAIL), clock=earlier) == {2}
    # without `within`, every event counts whatever the clock
    assert keys(h, eng("opened", **PROMO_MAIL), clock=earlier) == {1, 2}


def test_within_applies_to_sent_at_and_to_the_exclusion_time(h: Harness) -> None:
    real_now = datetime.now(UTC)
    assert keys(h, eng("sent", within="1 hour", **PROMO_MAIL), clock=real_now) == EMAILED
    assert keys(h, eng("excluded", within="1 hour", **PROMO_MAIL),
                clock=real_now) == EMAIL_EXCLUDED
    month_before = real_now - timedelta(days=30)
    assert keys(h, eng("sent", within="7 days", **PROMO_MAIL), clock=month_before) == set()
    assert keys(h, eng("excluded", within="7 days", **PROMO_MAIL),
                clock=month_before) == set()


def test_within_and_names_may_be_variables(h: Harness) -> None:
    rule = eng("opened", campaign="${vars.source}", activity="mail", within="${vars.window}")
    assert keys(h, rule, variables={"source": "promo", "window": "7 days"}) == {1}
    assert keys(h, rule, variables={"source": "other", "window": "7 days"}) == {11, 12}
    with pytest.raises(RuleError, match="unknown variable 'window'"):
        keys(h, rule, variables={"source": "promo"})
    with pytest.raises(RuleError, match=r"engagement\.within: 'soon' is not a duration"):
        keys(h, rule, variables={"source": "promo", "window": "soon"})


# ------------------------------------------------------------------ campaign and activity

def test_another_campaigns_events_do_not_count(h: Harness) -> None:
    assert keys(h, eng("opened", campaign="other")) == {11, 12}
    assert keys(h, eng("opened", campaign="other", activity="mail")) == {11, 12}
    assert keys(h, eng("opened", campaign="promo")) == {1, 2}
    assert keys(h, eng("opened")) == {1, 2, 11, 12}
    assert keys(h, eng("opened", activity="mail")) == {1, 2, 11, 12}  # both campaigns'
    assert keys(h, eng("clicked", campaign="other")) == {2}


def test_unknown_campaigns_and_activities_match_nobody(h: Harness) -> None:
    assert keys(h, eng("sent", campaign="spring-sale")) == set()
    assert keys(h, eng("opened", campaign="promo", activity="text")) == set()
    assert keys(h, eng("sent", campaign="promo", activity="nope")) == set()
    assert keys(h, {"not": eng("sent", campaign="spring-sale")}) == ALL_IDS


# ------------------------------------------------------------------ sent and excluded

def test_sent(h: Harness) -> None:
    assert keys(h, eng("sent", **PROMO_MAIL)) == EMAILED
    assert keys(h, eng("sent", campaign="promo", activity="text")) == TEXTED
    assert keys(h, eng("sent", campaign="promo")) == EMAILED | TEXTED


def test_excluded(h: Harness) -> None:
    assert keys(h, eng("excluded", **PROMO_MAIL)) == EMAIL_EXCLUDED
    assert keys(h, eng("excluded", campaign="promo", activity="text")) == ALL_IDS - TEXTED
    # excluded from the email but sent the SMS
    rule = {"all": [eng("excluded", **PROMO_MAIL),
                    eng("sent", campaign="promo", activity="text")]}
    assert keys(h, rule) == EMAIL_EXCLUDED & TEXTED


def test_with_other_leaves_and_groups(h: Harness) -> None:
    rule = {"any": [eng("bounced", **PROMO_MAIL), eng("complained", **PROMO_MAIL)]}
    assert keys(h, rule) == {8, 11}
    rule = {"all": [{"field": "country", "op": "eq", "value": "FR"},
                    eng("sent", **PROMO_MAIL), {"not": eng("opened", **PROMO_MAIL)}]}
    assert keys(h, rule) == {5, 12}  # French, sent, did not open (1 opened)
    rule = {"all": [eng("opened", **PROMO_MAIL),
                    {"exists": {"link": "purchases",
                                "where": {"field": "amount", "op": "gt", "value": 100}}}]}
    assert keys(h, rule) == {2}  # 1 opened too but never spent over 100 at once


def test_profiles_are_matched_in_their_own_dimension(h: Harness) -> None:
    """Store 1 has the key of customer 1: the log's customers are not stores."""
    assert keys(h, eng("sent", **PROMO_MAIL), dimension="stores") == set()
    assert keys(h, {"not": eng("sent")}, dimension="stores") == {1, 2, 3}


# ------------------------------------------------------------------ in campaigns

def test_build_audience_and_split_subsets_in_a_run(h: Harness) -> None:
    result = h.run("""
- id: sent
  type: build_audience
  rule: {engagement: {event: sent, campaign: promo, activity: mail}}
- id: tiers
  type: split
  inputs: [sent]
  subsets:
    - {id: openers, rule: {engagement: {event: opened, campaign: promo, activity: mail}}}
    - id: silent
      rule: {not: {engagement: {event: opened, campaign: promo, activity: mail,
                                include_machine: true}}}
  complement: true
""", name="retarget", clock=CLOCK)
    assert result["status"] == "done", result
    h.check(result, "sent", "out", EMAILED)
    h.check(result, "tiers", "openers", {1, 2})
    h.check(result, "tiers", "silent", EMAILED - {1, 2, 5})
    h.check(result, "tiers", "complement", {5})  # only a machine opened


def test_the_sms_reminder_of_the_samples(h: Harness) -> None:
    """Sent the email, did not open it: an SMS to those with a phone."""
    result = h.run("""
- id: silent
  type: build_audience
  rule:
    all:
      - {engagement: {event: sent, campaign: promo, activity: mail}}
      - not: {engagement: {event: opened, campaign: promo, activity: mail}}
- {id: reminder, type: sms, inputs: [silent], body: "Hi {{ first_name }}"}
""", name="reminder", clock=CLOCK)
    assert result["status"] == "done", result
    h.check(result, "silent", "out", {5, 8, 11, 12})
    h.check(result, "reminder", "out", {5})  # the others have no phone


def test_test_runs_write_no_log_rows_that_would_count(h: Harness) -> None:
    before = keys(h, eng("sent"))
    result = h.run(OTHER, name="dry", clock=CLOCK)  # test mode
    assert result["status"] == "done", result
    assert keys(h, eng("sent", campaign="dry")) == set()
    assert keys(h, eng("sent")) == before


# ------------------------------------------------------------------ no tables yet

def test_no_message_log_matches_nobody(ws: Workspace) -> None:
    assert not ws.data.has_table(messages.MESSAGES)
    for event in ("sent", "excluded", "opened", "clicked", "bounced"):
        assert matching(ws, eng(event)) == set()
        assert matching(ws, {"not": eng(event, campaign="promo")}) == ALL_IDS
    rule = {"all": [{"field": "country", "op": "eq", "value": "FR"},
                    {"not": eng("opened", within="7 days")}]}
    assert matching(ws, rule) == {1, 3, 5, 10, 12}


def test_a_log_without_events_table(tmp_path: Path, data_url: str | None) -> None:
    h = Harness(tmp_path, data_url=data_url)
    try:
        result = h.run(OTHER, name="other", mode="live")
        assert result["status"] == "done", result
        assert not h.ws.data.has_table(events.EVENTS)
        assert keys(h, eng("sent", campaign="other")) == EMAILED
        assert keys(h, eng("opened", campaign="other")) == set()
        assert keys(h, {"not": eng("clicked", campaign="other")}) == ALL_IDS
        rule = {"all": [eng("sent", campaign="other"),
                        {"not": eng("opened", campaign="other")}]}
        assert keys(h, rule) == EMAILED
    finally:
        h.close()


# ------------------------------------------------------------------ values are bound

EVIL = "x' OR '1'='1"


def test_names_in_the_sql_are_escaped_literals(h: Harness) -> None:
    for field in ("campaign", "activity"):
        rule = eng("opened", **{field: EVIL})
        sql = Compiler(context(h.ws)).sql(compile_rule(h.ws, rule))
        assert escaped(h.ws, EVIL) in sql
        rest = sql.replace(escaped(h.ws, EVIL), "<literal>")
        assert "'1'" not in rest
        assert sql_ids(h.ws, sql) == set()
        assert keys(h, {"not": rule}) == ALL_IDS
    sql = Compiler(context(h.ws)).sql(compile_rule(h.ws, eng("sent", campaign="promo")))
    assert "'promo'" in sql and "'sent'" in sql
    assert sql_ids(h.ws, sql) == EMAILED | TEXTED  # the printed SQL is what runs


def test_the_leaf_is_one_query_of_the_engine(h: Harness) -> None:
    sql = Compiler(context(h.ws)).sql(compile_rule(h.ws, eng("opened", within="7 days",
                                                             **PROMO_MAIL)))
    assert messages.MESSAGES in sql and events.EVENTS in sql
    assert "IN (" in sql.upper() or "SEMI" in sql.upper()


# ------------------------------------------------------------------ validation

def problems_of(ws: Workspace, rule: dict[str, Any], **head: Any) -> list[str]:
    raw = {"name": "t", **head,
           "activities": [{"id": "a", "type": "build_audience", "rule": rule}]}
    return [str(p) for p in validate(raw, environment_for(ws, ws.root)).problems]


def test_a_valid_leaf_validates(ws: Workspace) -> None:
    assert problems_of(ws, {"not": eng("opened", campaign="spring-sale", activity="vip_mail",
                                       within="7 days", include_machine=True)}) == []
    assert problems_of(ws, eng("clicked", within="${vars.w}"),
                       variables={"w": {"type": "string", "default": "2 weeks"}}) == []


@pytest.mark.parametrize(("settings", "expected"), [
    ({"event": "open"}, "a.rule.engagement.event: 'open' is not an engagement event; "
                        "did you mean 'opened'?"),
    ({"event": "clikced"}, "a.rule.engagement.event: 'clikced' is not an engagement event; "
                           "did you mean 'clicked'?"),
    ({"event": "purchase"}, "a.rule.engagement.event: 'purchase' is not an engagement event:"
                            " use sent, delivered, bounced, opened, clicked, unsubscribed, "
                            "complained or excluded"),
    ({"campaign": "x"}, "a.rule.engagement.event: required setting is missing"),
    ({"event": "sent", "include_machine": True},
     "a.rule.engagement.include_machine: include_machine applies to opened and clicked "
     "only, not to sent"),
    ({"event": "opened", "include_machine": "yes"},
     "a.rule.engagement.include_machine: must be true or false"),
    ({"event": "opened", "within": 7}, "a.rule.engagement.within: must be text"),
    ({"event": "opened", "within": "a fortnight"},
     "a.rule.engagement.within: 'a fortnight' is not a duration such as '30 days' or "
     "'12 hours'"),
    ({"event": "opened", "within": "${vars.nope}"},
     "a.rule.engagement.within: unknown variable 'nope'"),
    ({"event": "opened", "campaign": ""}, "a.rule.engagement.campaign: must not be empty"),
    ({"event": "opened", "since": "7 days"}, "a.rule.engagement.since: unknown setting"),
])
def test_validation_names_the_setting(ws: Workspace, settings: dict[str, Any],
                                      expected: str) -> None:
    assert problems_of(ws, {"engagement": settings}) == [expected]


def test_the_examples_of_the_docs_are_rules() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text("utf-8")
    start = page.index("\n## Engagement: retargeting")
    section = page[start:page.index("\n## ", start + 1)]
    blocks = re.findall(r"^```yaml\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert len(blocks) == 3
    for block in blocks:
        raw = yamlio.load(block)
        RULE_ADAPTER.validate_python(raw.get("rule", raw))


def test_include_machine_false_is_accepted_for_any_event() -> None:
    """A default written out (by an editor) is not an error."""
    rule = RULE_ADAPTER.validate_python(eng("sent", include_machine=False))
    assert rule.engagement.include_machine is False


def test_validation_checks_leaves_in_split_subsets(ws: Workspace) -> None:
    raw = {"name": "t", "activities": [
        {"id": "a", "type": "build_audience"},
        {"id": "s", "type": "split", "inputs": ["a"],
         "subsets": [{"id": "x", "rule": eng("opened", within="soon")}]}]}
    got = [str(p) for p in validate(raw, environment_for(ws, ws.root)).problems]
    assert got == ["s.subsets[0].rule.engagement.within: 'soon' is not a duration such as "
                   "'30 days' or '12 hours'"]
