"""Passwords: argon2id hashes, verification that never raises, generated passwords."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher

from overture.auth import AuthError, passwords
from overture.auth.passwords import (
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery"


def test_a_hash_is_salted_argon2id_and_verifies_only_its_password():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$")
    assert PASSWORD not in first
    assert first != second  # a new salt each time
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + " ")
    assert not verify_password(first, PASSWORD.upper())
    assert not verify_password(first, "")


@pytest.mark.parametrize("bad", ["", "plain text", "$argon2id$v=19$m=1,t=1,p=1$zz$zz",
                                 "$2b$12$abcdefghijklmnopqrstuu"])
def test_a_malformed_hash_verifies_nothing_and_raises_nothing(bad: str):
    assert verify_password(bad, PASSWORD) is False
    assert needs_rehash(bad) is True


def test_short_passwords_are_refused_with_the_minimum():
    with pytest.raises(AuthError, match="at least 10 characters"):
        hash_password("123456789")
    assert verify_password(hash_password("1234567890"), "1234567890")


def test_needs_rehash_when_the_parameters_change(monkeypatch: pytest.MonkeyPatch):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    current = hash_password(PASSWORD)
    assert needs_rehash(weak) and not needs_rehash(current)
    assert verify_password(weak, PASSWORD)  # old parameters still verify
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=8,
                                                            parallelism=1))
    assert not needs_rehash(weak) and needs_rehash(current)


def test_generated_passwords_are_readable_long_and_different():
    made = {generate_password() for _ in range(200)}
    assert len(made) == 200
    for password in made:
        assert re.fullmatch(r"[a-km-np-z2-9]{5}(-[a-km-np-z2-9]{5}){3}", password), password
        assert len(password) == 23
    one = made.pop()
    assert verify_password(hash_password(one), one)  # long enough to be set
    # every symbol of the alphabet turns up: the choice is not stuck on a few
    assert set("".join(made).replace("-", "")) == set(passwords.ALPHABET)


def test_the_dummy_hash_follows_the_current_parameters(monkeypatch: pytest.MonkeyPatch):
    first = passwords.dummy_hash()
    assert first.startswith("$argon2id$") and passwords.dummy_hash() == first
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=8,
                                                            parallelism=1))
    second = passwords.dummy_hash()
    assert second != first and "m=8,t=1,p=1" in second
