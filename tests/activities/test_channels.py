"""Channel activities in test mode: who would be sent to, who is excluded and why."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.kit import ROWS, Harness
from overture.definition.errors import InvalidDocument


def _extra(base: dict, **changes: object) -> dict:
    return {**copy.deepcopy(base), **changes}


# three more customers, each excluded for two reasons at once
EXTRA = [
    _extra(ROWS["customers"][0], customer_id=13, email=None, email_optin=False,
           phone="+33 6 12 34 56 78", sms_optin=False),        # email: no_address + no_consent
    _extra(ROWS["customers"][0], customer_id=14, email="not-an-email", email_optin=None,
           phone="call me", sms_optin=True),                   # email: invalid + no_consent
    _extra(ROWS["customers"][0], customer_id=15, email="   ", email_optin=False,
           phone=None, sms_optin=False),                       # email: blank + no_consent
]


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory,
      data_urls: Callable[[], str | None]) -> Iterator[Harness]:
    rows = {**ROWS, "customers": ROWS["customers"] + EXTRA}
    harness = Harness(Path(tmp_path_factory.mktemp("channels")), rows=rows,
                      data_url=data_urls())
    yield harness
    harness.close()


def test_email_exclusions_counted_once_under_the_first_reason(h: Harness) -> None:
    result = h.run("""
        - {id: all, type: build_audience}
        - {id: mail, type: email, inputs: [all], subject: "Hi {{ first_name }}",
           html: "<p>Hello</p>"}
        - {id: after, type: split, inputs: [mail], subsets: [{id: all}]}
    """)
    entry = result["activities"]["mail"]
    # by hand, ROWS: no address 4 (NULL), 10 (""); invalid 6 (fay@example), 9 (quote
    # injection); no consent 3 (false), 7 (NULL). EXTRA: 13 and 15 have no address,
    # 14 an invalid one: their missing consent is not counted a second time.
    assert entry["excluded"] == {"no_address": 4, "invalid_address": 3, "no_consent": 2}
    assert list(entry["excluded"]) == ["no_address", "invalid_address", "no_consent"]
    would_send = {1, 2, 5, 8, 11, 12}
    h.check(result, "mail", "out", would_send)
    h.check(result, "after", "all", would_send)  # the would-be recipients pass on
    assert sum(entry["excluded"].values()) + len(would_send) == 15
    assert any("test mode: 6 would be sent" in m for m in h.logs(result, "mail"))


def test_sms_exclusions(h: Harness) -> None:
    result = h.run("""
        - {id: all, type: build_audience}
        - {id: text, type: sms, inputs: [all], body: "Hi {{ first_name }}"}
    """)
    entry = result["activities"]["text"]
    # phones: 1 and 5 (opted in), 13 (valid, not opted in), 14 ("call me"); 11 have none
    assert entry["excluded"] == {"no_address": 11, "invalid_address": 1, "no_consent": 1}
    h.check(result, "text", "out", {1, 5})


def test_nothing_excluded_gives_an_empty_mapping(h: Harness) -> None:
    result = h.run("""
        - {id: ok, type: build_audience, rule: {field: customer_id, op: in, value: [1, 2]}}
        - {id: mail, type: email, inputs: [ok], subject: s, text: t}
    """)
    assert result["activities"]["mail"] == {"status": "done", "ports": {"out": 2},
                                            "excluded": {}}


def test_a_channel_the_dimension_does_not_declare_is_a_validation_error(h: Harness) -> None:
    with pytest.raises(InvalidDocument) as caught:
        h.run("""
            - {id: all, type: build_audience}
            - {id: buzz, type: push, inputs: [all], body: hello}
        """)
    assert any("buzz.type" in str(p) and "no push channel" in str(p)
               for p in caught.value.problems)
