"""Users, roles, passwords, API tokens and sessions, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from overture.auth import AuthError, Role, passwords
from overture.store.repository import ControlStore
from overture.store.users import (
    SESSIONS,
    TOKENS,
    USERS,
    UserRecord,
    UserRepository,
    ensure_first_admin,
)

PASSWORD = "s3cret-enough-please"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast argon2 parameters, so the suite hashes in milliseconds (still argon2id)."""
    monkeypatch.setattr(passwords, "HASHER", CHEAP)


@pytest.fixture
def users(store: ControlStore) -> UserRepository:
    return UserRepository(store)


def rows(store: ControlStore, table: Any) -> list[dict[str, Any]]:
    with store._engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(table))]


def everything(store: ControlStore) -> str:
    """Every row of the three tables, as one string to search for secrets."""
    return repr([rows(store, table) for table in (USERS, TOKENS, SESSIONS)])


def set_column(store: ControlStore, table: Any, where: Any, **values: Any) -> None:
    with store._writer.begin() as conn:
        conn.execute(update(table).where(where).values(**values))


# ---- users ----
def test_add_get_list_and_by_id(users: UserRepository):
    before = datetime.now(UTC)
    ann = users.add_user("ann@example.com", "manager", PASSWORD)
    bob = users.add_user("bob", Role.ADMIN, PASSWORD)
    assert isinstance(ann, UserRecord)
    assert (ann.username, ann.role, ann.disabled_at, ann.enabled) == (
        "ann@example.com", Role.MANAGER, None, True)
    assert before <= ann.created_at <= datetime.now(UTC)
    assert re.fullmatch(r"[0-9a-f]{32}", ann.id) and ann.id != bob.id
    assert users.get_user("ann@example.com") == ann
    assert users.user_by_id(bob.id) == bob
    assert users.list_users() == [ann, bob]
    with pytest.raises(AuthError, match="no user 'carl'"):
        users.get_user("carl")
    with pytest.raises(AuthError, match="no user with id"):
        users.user_by_id("0" * 32)


def test_a_taken_username_is_refused_and_the_first_user_kept(users: UserRepository):
    users.add_user("ann", "viewer", PASSWORD)
    with pytest.raises(AuthError, match="user 'ann' exists already"):
        users.add_user("ann", "admin", "another-password")
    assert [(u.username, u.role) for u in users.list_users()] == [("ann", Role.VIEWER)]
    assert users.authenticate("ann", PASSWORD) is not None


@pytest.mark.parametrize("name", ["", " ann", "ann smith", "a/b", "zoé", "a" * 201, "ann\n"])
def test_bad_usernames_are_refused(users: UserRepository, name: str):
    with pytest.raises(AuthError, match="is not valid: use 1 to 200 letters"):
        users.add_user(name, "viewer", PASSWORD)
    assert users.list_users() == []


def test_the_allowed_username_characters(users: UserRepository):
    for name in ("a", "A.b_c-d@e.io", "7" * 200):
        assert users.add_user(name, "viewer", PASSWORD).username == name


def test_bad_roles_and_short_passwords_create_nobody(users: UserRepository):
    with pytest.raises(AuthError, match="unknown role 'root'"):
        users.add_user("ann", "root", PASSWORD)
    with pytest.raises(AuthError, match="at least 10 characters"):
        users.add_user("ann", "viewer", "short")
    assert users.list_users() == []


def test_set_role(users: UserRepository):
    users.add_user("root", "admin", PASSWORD)
    users.add_user("ann", "viewer", PASSWORD)
    assert users.set_role("ann", "approver").role is Role.APPROVER
    assert users.get_user("ann").role is Role.APPROVER
    with pytest.raises(AuthError, match="no user 'nobody'"):
        users.set_role("nobody", "viewer")
    with pytest.raises(AuthError, match="unknown role"):
        users.set_role("ann", "boss")
    assert users.get_user("ann").role is Role.APPROVER


# ---- passwords ----
def test_authenticate_accepts_only_the_right_password_of_an_enabled_user(
    users: UserRepository,
):
    users.add_user("root", "admin", PASSWORD)
    ann = users.add_user("ann", "manager", PASSWORD)
    assert users.authenticate("ann", PASSWORD) == ann
    assert users.authenticate("ann", PASSWORD + "x") is None
    assert users.authenticate("ann", PASSWORD.upper()) is None
    assert users.authenticate("ann", "") is None
    assert users.authenticate("Ann", PASSWORD) is None  # usernames are case-sensitive
    assert users.authenticate("nobody", PASSWORD) is None
    assert users.authenticate("not a name!", PASSWORD) is None
    users.disable("ann")
    assert users.authenticate("ann", PASSWORD) is None
    users.enable("ann")
    assert users.authenticate("ann", PASSWORD) == ann


def test_an_unknown_username_costs_a_verification_too(
    users: UserRepository, monkeypatch: pytest.MonkeyPatch
):
    users.add_user("ann", "viewer", PASSWORD)
    calls: list[str] = []
    real = passwords.verify_password

    def spy(hashed: str, password: str) -> bool:
        calls.append(hashed)
        return real(hashed, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    assert users.authenticate("nobody", PASSWORD) is None
    assert users.authenticate("bad name!", PASSWORD) is None
    assert calls == [passwords.dummy_hash()] * 2
    calls.clear()
    assert users.authenticate("ann", "wrong password") is None
    assert len(calls) == 1 and calls[0] != passwords.dummy_hash()


def test_set_password_replaces_the_old_one_and_ends_sessions(users: UserRepository):
    ann = users.add_user("ann", "viewer", PASSWORD)
    session = users.create_session(ann.id)
    with pytest.raises(AuthError, match="at least 10 characters"):
        users.set_password("ann", "tiny")
    assert users.user_for_session(session) == ann  # a refused change changes nothing
    users.set_password("ann", "a brand new password")
    assert users.authenticate("ann", PASSWORD) is None
    assert users.authenticate("ann", "a brand new password") == ann
    assert users.user_for_session(session) is None
    with pytest.raises(AuthError, match="no user 'bob'"):
        users.set_password("bob", "a brand new password")


def test_a_hash_with_old_parameters_is_replaced_at_login(
    store: ControlStore, users: UserRepository, monkeypatch: pytest.MonkeyPatch
):
    users.add_user("ann", "viewer", PASSWORD)
    (old,) = [row["password_hash"] for row in rows(store, USERS)]
    assert "m=1024,t=1,p=1" in old
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    monkeypatch.setattr(passwords, "HASHER", stronger)
    assert users.authenticate("ann", "wrong password") is None
    assert [row["password_hash"] for row in rows(store, USERS)] == [old]  # not on a failure
    assert users.authenticate("ann", PASSWORD) is not None
    (new,) = [row["password_hash"] for row in rows(store, USERS)]
    assert new != old and "m=2048,t=2,p=1" in new
    assert users.authenticate("ann", PASSWORD) is not None
    assert [row["password_hash"] for row in rows(store, USERS)] == [new]


# ---- the last admin ----
def test_the_last_enabled_admin_can_be_neither_disabled_nor_demoted(users: UserRepository):
    assert not users.has_admin()
    users.add_user("root", "admin", PASSWORD)
    assert users.has_admin()
    with pytest.raises(AuthError, match="cannot disable 'root': it is the last enabled admin"):
        users.disable("root")
    with pytest.raises(AuthError, match="cannot make 'root' approver: it is the last enabled"):
        users.set_role("root", "approver")
    root = users.get_user("root")
    assert (root.role, root.enabled) == (Role.ADMIN, True)

    users.add_user("second", "admin", PASSWORD)
    users.disable("root")  # another admin remains
    with pytest.raises(AuthError, match="last enabled admin"):
        users.set_role("second", "viewer")  # the disabled admin does not count
    with pytest.raises(AuthError, match="last enabled admin"):
        users.disable("second")
    assert users.has_admin()
    assert users.set_role("root", "viewer").role is Role.VIEWER  # a disabled admin may go


def disable_at_once(users: UserRepository, names: tuple[str, ...]) -> list[str]:
    """Disable every user of `names`, each in its own thread, all released together."""
    barrier = threading.Barrier(len(names))
    outcomes: dict[str, str] = {}

    def disable(name: str) -> None:
        barrier.wait()
        try:
            users.disable(name)
            outcomes[name] = "disabled"
        except AuthError:
            outcomes[name] = "refused"

    threads = [threading.Thread(target=disable, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes.values())


def test_two_admins_disabling_each_other_at_once_leave_one(users: UserRepository):
    for round_ in range(4):
        a, b = f"a{round_}", f"b{round_}"
        users.add_user(a, "admin", PASSWORD)
        users.add_user(b, "admin", PASSWORD)
        for user in users.list_users():
            if user.username not in (a, b) and user.enabled:
                users.disable(user.username)
        assert disable_at_once(users, (a, b)) == ["disabled", "refused"]
        assert users.has_admin()


# ---- disabling ----
def test_disable_ends_sessions_and_revokes_tokens(store: ControlStore, users: UserRepository):
    users.add_user("root", "admin", PASSWORD)
    ann = users.add_user("ann", "manager", PASSWORD)
    _, token = users.create_token("ann", "ci")
    session = users.create_session(ann.id)
    assert users.user_for_token(token) == ann and users.user_for_session(session) == ann
    disabled = users.disable("ann")
    assert disabled.disabled_at is not None and not disabled.enabled
    assert users.get_user("ann") == disabled
    assert users.user_for_token(token) is None
    assert users.user_for_session(session) is None
    assert rows(store, SESSIONS) == []
    assert all(token.revoked_at is not None for token in users.list_tokens("ann"))
    assert users.disable("ann") == disabled  # again: a no-op
    with pytest.raises(AuthError, match="user 'ann' is disabled"):
        users.create_token("ann", "again")
    with pytest.raises(AuthError, match="user 'ann' is disabled"):
        users.create_session(ann.id)
    users.enable("ann")
    assert users.user_for_token(token) is None  # tokens stay revoked


# ---- API tokens ----
def test_a_token_is_shown_once_and_stored_as_sha256(store: ControlStore, users: UserRepository):
    ann = users.add_user("ann", "manager", PASSWORD)
    record, secret = users.create_token("ann", " deploy script ")
    assert re.fullmatch(rf"ovt_{record.id}_[A-Za-z0-9]{{43}}", secret)
    assert re.fullmatch(r"[0-9a-f]{16}", record.id)
    assert (record.user_id, record.name, record.last_used_at, record.expires_at,
            record.revoked_at) == (ann.id, "deploy script", None, None, None)
    (row,) = rows(store, TOKENS)
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert users.list_tokens("ann") == [record]
    assert users.user_for_token(secret) == ann
    _, other = users.create_token("ann", "deploy script")
    assert other != secret and users.user_for_token(other) == ann


def test_the_database_holds_no_password_and_no_token(
    store: ControlStore, users: UserRepository, control_url: str
):
    ann = users.add_user("ann", "manager", PASSWORD)
    _, token = users.create_token("ann", "ci")
    session = users.create_session(ann.id)
    assert users.authenticate("ann", PASSWORD) == ann
    assert users.user_for_token(token) == ann and users.user_for_session(session) == ann
    dump = everything(store)
    for secret in (PASSWORD, token, token.rsplit("_", 1)[1], session):
        assert secret not in dump
    if control_url.startswith("sqlite:///"):  # nor anywhere in the files, WAL included
        database = Path(control_url.removeprefix("sqlite:///"))
        raw = b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
        for secret in (PASSWORD, token.rsplit("_", 1)[1], session):
            assert secret.encode() not in raw


def test_forged_altered_and_malformed_tokens_are_refused(users: UserRepository):
    users.add_user("ann", "manager", PASSWORD)
    record, secret = users.create_token("ann", "ci")
    random_part = secret.rsplit("_", 1)[1]
    last = "A" if secret[-1] != "A" else "B"
    other_id = ("0" if record.id[0] != "0" else "1") + record.id[1:]
    for bad in (
        secret[:-1] + last,  # one character changed
        f"ovt_{other_id}_{random_part}",  # another token's id
        f"ovt_{record.id}_{'x' * 43}",  # forged secret
        secret + "x", secret[:-1], f"Bearer {secret}", f" {secret}", secret.upper(),
        random_part, f"ovt_{record.id}", "", "ovt__", hashlib.sha256(secret.encode()).hexdigest(),
    ):
        assert users.user_for_token(bad) is None, bad
    assert users.user_for_token(secret) is not None


def test_revoked_tokens_are_refused(users: UserRepository):
    users.add_user("ann", "manager", PASSWORD)
    first, first_secret = users.create_token("ann", "one")
    _, second_secret = users.create_token("ann", "two")
    revoked = users.revoke_token(first.id)
    assert revoked.revoked_at is not None and revoked.state() == "revoked"
    assert users.user_for_token(first_secret) is None
    assert users.user_for_token(second_secret) is not None
    assert users.revoke_token(first.id) == revoked  # again: the first instant stays
    users.revoke_token(second_secret)  # the whole string names the token too
    assert users.user_for_token(second_secret) is None
    assert [t.state() for t in users.list_tokens("ann")] == ["revoked", "revoked"]
    with pytest.raises(AuthError, match="no token 'ffffffffffffffff'"):
        users.revoke_token("ffffffffffffffff")


def test_expired_tokens_are_refused(store: ControlStore, users: UserRepository):
    users.add_user("ann", "manager", PASSWORD)
    soon = datetime.now(UTC) + timedelta(days=1)
    record, secret = users.create_token("ann", "ci", expires_at=soon)
    assert record.expires_at == soon and users.get_token(record.id) == record
    assert users.user_for_token(secret) is not None
    set_column(store, TOKENS, TOKENS.c.id == record.id,
               expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert users.user_for_token(secret) is None
    assert users.list_tokens("ann")[0].state() == "expired"


def test_token_settings_that_are_refused(users: UserRepository):
    users.add_user("ann", "manager", PASSWORD)
    with pytest.raises(AuthError, match="in the future"):
        users.create_token("ann", "ci", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(AuthError, match="time zone"):
        users.create_token("ann", "ci", expires_at=datetime(2100, 1, 1))
    with pytest.raises(AuthError, match="name needs 1 to 200"):
        users.create_token("ann", "  ")
    with pytest.raises(AuthError, match="no user 'bob'"):
        users.create_token("bob", "ci")
    with pytest.raises(AuthError, match="no user 'bob'"):
        users.list_tokens("bob")
    assert users.list_tokens("ann") == []


def test_last_used_is_written_at_most_once_a_minute(store: ControlStore, users: UserRepository):
    users.add_user("ann", "manager", PASSWORD)
    record, secret = users.create_token("ann", "ci")

    def last_used() -> datetime | None:
        return users.get_token(record.id).last_used_at

    before = datetime.now(UTC)
    users.user_for_token(secret)
    first = last_used()
    assert first is not None and before <= first <= datetime.now(UTC)
    users.user_for_token(secret)
    assert last_used() == first
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    set_column(store, TOKENS, TOKENS.c.id == record.id, last_used_at=long_ago)
    users.user_for_token(secret)
    latest = last_used()
    assert latest is not None and latest > first


# ---- sessions ----
def test_a_session_lasts_12_hours_and_ends_at_logout(store: ControlStore, users: UserRepository):
    ann = users.add_user("ann", "viewer", PASSWORD)
    secret = users.create_session(ann.id)
    assert users.user_for_session(secret) == ann
    (row,) = rows(store, SESSIONS)
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["expires_at"] - row["created_at"] == timedelta(hours=12)
    assert users.user_for_session(secret[:-1]) is None
    assert users.user_for_session("") is None and users.user_for_session("x" * 10_000) is None
    assert users.end_session(secret) is True
    assert users.user_for_session(secret) is None
    assert users.end_session(secret) is False
    with pytest.raises(AuthError, match="no user with id"):
        users.create_session("0" * 32)


def test_an_expired_session_is_refused_and_deleted(store: ControlStore, users: UserRepository):
    ann = users.add_user("ann", "viewer", PASSWORD)
    short = users.create_session(ann.id, ttl=timedelta(minutes=5))
    other = users.create_session(ann.id)
    digest = hashlib.sha256(short.encode()).hexdigest()
    set_column(store, SESSIONS, SESSIONS.c.secret_hash == digest,
               expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert users.user_for_session(short) is None
    assert [row["secret_hash"] for row in rows(store, SESSIONS)] == [
        hashlib.sha256(other.encode()).hexdigest()]
    assert users.user_for_session(other) == ann


def test_new_sessions_sweep_expired_ones(store: ControlStore, users: UserRepository):
    ann = users.add_user("ann", "viewer", PASSWORD)
    for _ in range(3):
        users.create_session(ann.id)
    set_column(store, SESSIONS, SESSIONS.c.user_id == ann.id,
               expires_at=datetime.now(UTC) - timedelta(hours=1))
    fresh = users.create_session(ann.id)
    assert len(rows(store, SESSIONS)) == 1 and users.user_for_session(fresh) == ann
    with pytest.raises(ValueError, match="must be positive"):
        users.create_session(ann.id, ttl=timedelta(0))


# ---- the first admin ----
def test_ensure_first_admin_makes_one_admin_whose_password_works(
    store: ControlStore, users: UserRepository
):
    password = ensure_first_admin(store)
    assert password is not None and len(password) >= 20
    admin = users.authenticate("admin", password)
    assert admin is not None and admin.role is Role.ADMIN
    assert ensure_first_admin(store) is None
    assert ensure_first_admin(store, username="other") is None
    assert [u.username for u in users.list_users()] == ["admin"]
    assert password not in everything(store)


def test_ensure_first_admin_with_another_name(store: ControlStore, users: UserRepository):
    users.add_user("ann", "viewer", PASSWORD)  # a user, but no admin yet
    password = ensure_first_admin(store, username="boss")
    assert password is not None
    assert users.authenticate("boss", password) == users.get_user("boss")
    assert users.get_user("boss").role is Role.ADMIN


def test_ensure_first_admin_when_the_name_is_taken_by_a_non_admin(
    store: ControlStore, users: UserRepository
):
    users.add_user("admin", "viewer", PASSWORD)
    with pytest.raises(AuthError, match=r"user 'admin' exists already \(viewer\): make it "
                                        r"admin with `overture users set-role admin admin`"):
        ensure_first_admin(store)
    assert not users.has_admin()


def test_concurrent_first_admins_make_one(store: ControlStore, users: UserRepository):
    barrier = threading.Barrier(3)
    results: list[str | None] = []

    def make() -> None:
        barrier.wait()
        results.append(ensure_first_admin(store))

    threads = [threading.Thread(target=make) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [password for password in results if password is not None]
    assert len(results) == 3 and len(made) == 1
    assert users.authenticate("admin", made[0]) is not None
