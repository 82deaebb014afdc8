"""Flow control: fork, and_join, test, alert, end, wait, and disabled activities."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.kit import ALL_IDS, CLOCK, PURCHASES, Harness, where

FR = where(lambda r: r["country"] == "FR")
GOLD = where(lambda r: r["loyalty_tier"] == "gold")
SOURCES = """
- {id: fr, type: build_audience, rule: {field: country, op: eq, value: FR}}
- {id: gold, type: build_audience, rule: {field: loyalty_tier, op: eq, value: gold}}
"""


def test_fork_gives_every_branch_the_whole_input(shared: Harness) -> None:
    result = shared.run(SOURCES + """
- {id: fork, type: fork, inputs: [fr], branches: [left, right, third]}
- {id: left_gold, type: combine, operation: intersection, inputs: [fork.left, gold]}
- {id: right_split, type: split, inputs: [fork.right], subsets: [{id: two, limit: {count: 2}}]}
    """)
    assert result["activities"]["fork"]["ports"] == {"left": 5, "right": 5, "third": 5}
    for branch in ("left", "right", "third"):
        shared.check(result, "fork", branch, FR)
    shared.check(result, "left_gold", "out", FR & GOLD)
    shared.check(result, "right_split", "two", {1, 3})


def test_and_join_passes_the_primary_population(shared: Harness) -> None:
    result = shared.run(SOURCES + """
- {id: join, type: and_join, inputs: [fr, gold], primary: gold}
- {id: join_default, type: and_join, inputs: [fr, gold]}
    """)
    shared.check(result, "join", "out", GOLD)
    shared.check(result, "join_default", "out", FR)  # no primary: the first input


TAKEN = """
- id: check
  type: test
  inputs: [fr]
  conditions:
    - {id: empty, count: {op: eq, value: 0}}
    - {id: few, count: {op: lt, value: 10}}
    - {id: some, count: {op: gte, value: 3}}
- {id: after_empty, type: alert, inputs: [check.empty], title: empty}
- {id: after_few, type: split, inputs: [check.few], subsets: [{id: gold,
   rule: {field: loyalty_tier, op: eq, value: gold}}]}
- {id: after_some, type: split, inputs: [check.some], subsets: [{id: all}]}
- {id: after_default, type: alert, inputs: [check.default], title: default}
- {id: chained, type: end, inputs: [after_some.all]}
"""


def test_test_sends_the_input_down_the_first_matching_condition(shared: Harness) -> None:
    result = shared.run(SOURCES + TAKEN)
    activities = result["activities"]
    # 5 FR profiles: `few` (5 < 10) matches first; `some` (5 >= 3) matches too but comes later
    assert activities["check"]["ports"] == {"empty": None, "few": 5, "some": None,
                                            "default": None}
    shared.check(result, "check", "few", FR)
    shared.check(result, "after_few", "gold", FR & GOLD)
    for skipped in ("after_empty", "after_some", "after_default", "chained"):
        assert activities[skipped] == {"status": "skipped", "ports": None}, skipped


def test_test_default_when_nothing_matches(shared: Harness) -> None:
    result = shared.run(SOURCES + """
- id: check
  type: test
  inputs: [gold]
  conditions: [{id: huge, count: {op: gt, value: 100}}]
- {id: on_default, type: split, inputs: [check.default], subsets: [{id: all}]}
- {id: on_huge, type: split, inputs: [check.huge], subsets: [{id: all}]}
    """)
    assert result["activities"]["check"]["ports"] == {"huge": None, "default": 5}
    shared.check(result, "on_default", "all", GOLD)
    assert result["activities"]["on_huge"] == {"status": "skipped", "ports": None}


def test_and_join_counts_a_skipped_input_as_empty(shared: Harness) -> None:
    result = shared.run(SOURCES + """
- id: check
  type: test
  inputs: [fr]
  conditions: [{id: huge, count: {op: gt, value: 100}}]
- {id: join, type: and_join, inputs: [check.huge, gold], primary: gold}
- {id: join_on_skipped, type: and_join, inputs: [check.huge, gold], primary: check.huge}
- {id: both_skipped, type: and_join, inputs: [check.huge, disabled.x]}
- {id: disabled, type: split, inputs: [fr], enabled: false, subsets: [{id: x}]}
    """)
    shared.check(result, "join", "out", GOLD)
    shared.check(result, "join_on_skipped", "out", set())
    assert result["activities"]["both_skipped"] == {"status": "skipped", "ports": None}


def test_alert_is_logged_and_passes_its_input_on(shared: Harness) -> None:
    result = shared.run(SOURCES + """
- {id: warn, type: alert, inputs: [gold], title: Gold is small, message: only a few}
- {id: after, type: split, inputs: [warn], subsets: [{id: all}]}
    """)
    shared.check(result, "warn", "out", GOLD)
    shared.check(result, "after", "all", GOLD)
    assert "ALERT Gold is small: only a few (test mode: only logged)" in shared.logs(result,
                                                                                     "warn")


def test_end_has_no_ports_and_only_logs_a_signal_in_test_mode(shared: Harness) -> None:
    result = shared.run(SOURCES + """
- {id: stop, type: end, inputs: [fr]}
- {id: chain, type: end, inputs: [gold], signal: {campaign: follow_up, variables: {n: 1}}}
    """)
    assert result["status"] == "done"
    assert result["activities"]["stop"] == {"status": "done", "ports": {}}
    assert result["activities"]["chain"] == {"status": "done", "ports": {}}
    assert any("would signal campaign 'follow_up'" in m for m in shared.logs(result, "chain"))


# ---------------------------------------------------------------- wait
def _bought_between(start: datetime, end: datetime) -> set[int]:
    return {p["customer_id"] for p in PURCHASES if start <= p["purchased_at"] <= end}


def test_a_wait_moves_the_clock_that_later_rules_see(shared: Harness) -> None:
    recent = "{exists: {link: purchases, where: {field: purchased_at, op: in_last, " \
             "value: 2 days}}}"
    result = shared.run(f"""
- {{id: all, type: build_audience}}
- {{id: before, type: split, inputs: [all], subsets: [{{id: recent, rule: {recent}}}]}}
- {{id: pause, type: wait, inputs: [all], duration: 2 days}}
- {{id: after, type: split, inputs: [pause], subsets: [{{id: recent, rule: {recent}}}]}}
    """)
    now = CLOCK.replace(tzinfo=None)
    later = now + timedelta(days=2)
    before = _bought_between(now - timedelta(days=2), now)
    after = _bought_between(later - timedelta(days=2), later)
    # by hand: Ben (28 Feb 23:00) and Lou (1 Mar 08:59) before; after the wait only Lou's
    # purchase of 1 Mar 09:01 (one minute after the run's start) is inside the window
    assert (before, after) == ({2, 12}, {12})
    shared.check(result, "before", "recent", before)
    shared.check(result, "after", "recent", after)
    shared.check(result, "pause", "out", ALL_IDS)
    states = shared.ws.control.activity_runs(result["run"])
    assert states["pause"].clock == CLOCK + timedelta(days=2)
    assert states["after"].clock == CLOCK + timedelta(days=2)
    assert states["before"].clock == CLOCK


def test_wait_until_a_local_datetime(shared: Harness) -> None:
    result = shared.run("""
- {id: all, type: build_audience}
- {id: pause, type: wait, inputs: [all], until: "2027-03-05T10:00"}
- {id: long_ago, type: wait, inputs: [all], until: "2020-01-01T00:00"}
    """, timezone="Europe/Paris")
    states = shared.ws.control.activity_runs(result["run"])
    # 10:00 in Paris on 5 March is 09:00 UTC; an instant in the past leaves the clock alone
    assert states["pause"].clock == datetime.fromisoformat("2027-03-05T09:00:00+00:00")
    assert states["long_ago"].clock == CLOCK


def test_a_join_after_two_waits_sees_the_later_clock(shared: Harness) -> None:
    result = shared.run("""
- {id: all, type: build_audience}
- {id: short, type: wait, inputs: [all], duration: 1 day}
- {id: long, type: wait, inputs: [all], duration: 3 days}
- {id: join, type: and_join, inputs: [short, long]}
    """)
    states = shared.ws.control.activity_runs(result["run"])
    assert states["join"].clock == CLOCK + timedelta(days=3)


# ---------------------------------------------------------------- disabled activities
def test_a_disabled_activity_and_its_downstream_are_skipped(shared: Harness) -> None:
    result = shared.run(SOURCES + """
- {id: off, type: split, inputs: [fr], enabled: false, subsets: [{id: a}]}
- {id: below, type: alert, inputs: [off.a], title: never}
- {id: further, type: end, inputs: [below]}
- {id: mixed, type: combine, operation: union, inputs: [off.a, gold]}
- {id: off_source, type: build_audience, enabled: false}
- {id: from_off_source, type: fork, inputs: [off_source], branches: [x]}
    """)
    activities = result["activities"]
    for name in ("off", "below", "further", "off_source", "from_off_source"):
        assert activities[name] == {"status": "skipped", "ports": None}, name
    # a skipped input counts as an empty one for an activity with other inputs
    shared.check(result, "mixed", "out", GOLD)
    assert result["status"] == "done"
    assert "skipped: disabled" in shared.logs(result, "off")
    assert "skipped: all inputs skipped" in shared.logs(result, "below")
