"""Passwords: argon2id hashes (argon2-cffi), verification that never raises, generation.

The parameters are argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB,
3 passes, 4 lanes). A stored hash carries its own parameters, so changing `HASHER`
leaves old hashes verifiable; `needs_rehash` tells when to store a new one.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from overture.auth.errors import AuthError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "check_password",
    "dummy_hash",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "rehash",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 10
#: lower-case letters and digits without the look-alikes 0/o and 1/l: 32 symbols, 5 bits each
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
#: generated passwords: 4 groups of 5 symbols joined by dashes (100 random bits)
GROUPS, GROUP_LENGTH = 4, 5

HASHER = PasswordHasher()

_dummy: list[str] = []


def check_password(password: str) -> None:
    """Refuse a password too short to be set (an `AuthError` saying why)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(
            f"password too short: it needs at least {MIN_PASSWORD_LENGTH} characters"
        )


def hash_password(password: str) -> str:
    """An argon2id hash (salt and parameters included) of an acceptable password."""
    check_password(password)
    return HASHER.hash(password)


def rehash(password: str) -> str:
    """A new hash, with the current parameters, of a password accepted before (no length check).

    A password set when the minimum was lower keeps working; only new ones must be longer.
    """
    return HASHER.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    """Whether `password` matches `hashed`; False, never an exception, for a bad hash."""
    try:
        return HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError, ValueError, TypeError):
        return False


def needs_rehash(hashed: str) -> bool:
    """Whether `hashed` was made with other parameters than `HASHER`'s (or is unreadable)."""
    try:
        return HASHER.check_needs_rehash(hashed)
    except (InvalidHashError, ValueError, TypeError):
        return True


def generate_password() -> str:
    """A random password easy to read out and type: `abcde-fghij-kmnpq-rstuv`."""
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS)
    )


def dummy_hash() -> str:
    """A hash of a random password, with the current parameters.

    Verifying against it takes as long as verifying a real user's password, so a
    login with an unknown username is as slow as one with a wrong password.
    """
    if not _dummy or needs_rehash(_dummy[0]):
        _dummy[:] = [HASHER.hash(generate_password())]
    return _dummy[0]
