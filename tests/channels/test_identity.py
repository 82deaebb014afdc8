"""Message identity (spec §5): one UUID per (run, activity, profile), stable forever."""

from __future__ import annotations

import uuid

import pytest

from overture.channels.identity import MESSAGE_NAMESPACE, message_id, message_id_header


def test_deterministic_and_a_uuid5() -> None:
    first = message_id("run-1", "vip_mail", "c42")
    assert first == message_id("run-1", "vip_mail", "c42")
    assert first.version == 5
    # pinned: a change of namespace or encoding would re-identify every past message
    assert first == uuid.uuid5(MESSAGE_NAMESPACE, "5:run-1|8:vip_mail|3:c42")


@pytest.mark.parametrize("other", [
    ("run-2", "vip_mail", "c42"),
    ("run-1", "vip_mail2", "c42"),
    ("run-1", "vip_mail", "c43"),
])
def test_any_part_changes_the_id(other: tuple[str, str, str]) -> None:
    assert message_id(*other) != message_id("run-1", "vip_mail", "c42")


def test_length_prefix_keeps_boundaries() -> None:
    assert message_id("a", "bc", "d") != message_id("ab", "c", "d")
    assert message_id("r", "a|b", "c") != message_id("r", "a", "b|c")
    assert message_id("r", "a", "1:b") != message_id("r", "a:1", "b")


def test_distinct_for_many_triples() -> None:
    triples = {(f"run{r}", f"act{a}", str(p)) for r in range(3) for a in range(3)
               for p in range(200)}
    assert len({message_id(*t) for t in triples}) == len(triples)


def test_integer_profile_keys() -> None:
    assert message_id("r", "a", 7) == message_id("r", "a", "7")


def test_header() -> None:
    value = message_id("r", "a", "p")
    assert message_id_header(value, "mail.example.com") == f"<{value}@mail.example.com>"
    assert message_id_header(value, "@example.com") == f"<{value}@example.com>"
    with pytest.raises(ValueError):
        message_id_header(value, " ")
