"""`UserRepository`: users and their roles, passwords, API tokens and browser sessions.

Secrets are never stored: passwords as argon2id hashes, API tokens and session
cookies as the SHA-256 hex of the whole secret string, so a copy of the control
plane lets nobody log in. Every write is its own short transaction through the
store's writer (BEGIN IMMEDIATE on SQLite); argon2 runs before the transaction
begins, never while it holds the write lock.

Removing the last enabled admin (disabling or demoting it) is refused. On
PostgreSQL the enabled admins' rows are locked first (`FOR UPDATE`, in id order),
so two admins disabling each other at once cannot both succeed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from overture.auth import passwords
from overture.auth.errors import AuthError
from overture.auth.roles import Role
from overture.store.models import ApiToken, Session, User
from overture.store.repository import ControlStore

__all__ = [
    "SESSION_TTL",
    "AuthError",
    "TokenRecord",
    "UserRecord",
    "UserRepository",
    "ensure_first_admin",
]

#: a result row of any width
AnyRow = Row[*tuple[Any, ...]]

USERS = cast(Table, User.__table__)
TOKENS = cast(Table, ApiToken.__table__)
SESSIONS = cast(Table, Session.__table__)

USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,200}")
USERNAME_RULE = "1 to 200 letters, digits, '.', '_', '@' or '-'"
MAX_LABEL = 200
#: API tokens read `ovt_<token id>_<secret>`: 16 hex digits, then 43 base62 characters (256 bits)
TOKEN_PREFIX = "ovt"
TOKEN_ID_BYTES = 8
TOKEN_SECRET_LENGTH = 43
TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN = re.compile(rf"{TOKEN_PREFIX}_([0-9a-f]{{{2 * TOKEN_ID_BYTES}}})_"
                   rf"[A-Za-z0-9]{{{TOKEN_SECRET_LENGTH}}}")
#: how often a token's `last_used_at` is written at most (it is a hint, not an audit log)
LAST_USED_EVERY = timedelta(minutes=1)
SESSION_TTL = timedelta(hours=12)
#: session cookies: 32 random bytes, URL-safe base64 (43 characters)
SESSION_BYTES = 32
MAX_SESSION_SECRET = 256

USER_COLUMNS = (USERS.c.id, USERS.c.username, USERS.c.role, USERS.c.created_at,
                USERS.c.disabled_at)
TOKEN_COLUMNS = (TOKENS.c.id, TOKENS.c.user_id, TOKENS.c.name, TOKENS.c.created_at,
                 TOKENS.c.last_used_at, TOKENS.c.expires_at, TOKENS.c.revoked_at)


@dataclass(frozen=True)
class UserRecord:
    id: str
    username: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class TokenRecord:
    id: str
    user_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        """`active`, `revoked` or `expired`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or _now()):
            return "expired"
        return "active"


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user_record(row: AnyRow) -> UserRecord:
    return UserRecord(id=row.id, username=row.username, role=Role(row.role),
                      created_at=row.created_at, disabled_at=row.disabled_at)


def _token_record(row: AnyRow) -> TokenRecord:
    return TokenRecord(**row._mapping)


def check_username(username: str) -> str:
    """The username if it is acceptable, else an `AuthError` saying what is."""
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise AuthError(f"username {username!r} is not valid: use {USERNAME_RULE}")
    return username


class UserRepository:
    """Users, tokens and sessions in a `ControlStore`'s database (SQLite or PostgreSQL)."""

    def __init__(self, store: ControlStore):
        self._engine = store._engine
        self._writer = store._writer

    # ---- users ----
    def add_user(self, username: str, role: Role | str, password: str) -> UserRecord:
        """A new enabled user; the password is checked (length) and stored hashed."""
        name = check_username(username)
        level = Role.parse(role)
        hashed = passwords.hash_password(password)
        record = UserRecord(id=uuid.uuid4().hex, username=name, role=level, created_at=_now(),
                            disabled_at=None)
        values = {
            "id": record.id, "username": name, "role": level.value, "password_hash": hashed,
            "created_at": record.created_at, "disabled_at": None,
        }  # fmt: skip
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(USERS).values(values))
        except IntegrityError:
            raise AuthError(f"user {name!r} exists already") from None
        return record

    def get_user(self, username: str) -> UserRecord:
        with self._engine.connect() as conn:
            return self._require(conn, username)

    def user_by_id(self, user_id: str) -> UserRecord:
        with self._engine.connect() as conn:
            row = conn.execute(select(*USER_COLUMNS).where(USERS.c.id == user_id)).first()
        if row is None:
            raise AuthError(f"no user with id {user_id!r}")
        return _user_record(row)

    def list_users(self) -> list[UserRecord]:
        """Every user, disabled ones too, by username."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(*USER_COLUMNS).order_by(USERS.c.username))
            return [_user_record(row) for row in rows]

    def has_admin(self) -> bool:
        """Whether an enabled admin exists."""
        query = select(USERS.c.id).where(
            USERS.c.role == Role.ADMIN.value, USERS.c.disabled_at.is_(None)
        ).limit(1)
        with self._engine.connect() as conn:
            return conn.scalar(query) is not None

    def set_role(self, username: str, role: Role | str) -> UserRecord:
        """Give the user another role; demoting the last enabled admin is refused."""
        level = Role.parse(role)
        with self._writer.begin() as conn:
            admins = self._lock_admins(conn)
            user = self._require(conn, username)
            if user.role is level:
                return user
            if level is not Role.ADMIN and admins == [user.id]:
                raise AuthError(
                    f"cannot make {user.username!r} {level.value}: it is the last enabled "
                    "admin; make another user admin first"
                )
            conn.execute(update(USERS).where(USERS.c.id == user.id).values(role=level.value))
        return replace(user, role=level)

    def set_password(self, username: str, password: str) -> UserRecord:
        """Store a new password (checked, hashed) and end the user's sessions."""
        hashed = passwords.hash_password(password)
        with self._writer.begin() as conn:
            user = self._require(conn, username)
            conn.execute(update(USERS).where(USERS.c.id == user.id).values(password_hash=hashed))
            conn.execute(delete(SESSIONS).where(SESSIONS.c.user_id == user.id))
        return user

    def disable(self, username: str) -> UserRecord:
        """Disable the user, end its sessions and revoke its tokens (a no-op if disabled).

        Disabling the last enabled admin is refused.
        """
        now = _now()
        with self._writer.begin() as conn:
            admins = self._lock_admins(conn)
            user = self._require(conn, username)
            if user.disabled_at is not None:
                return user
            if admins == [user.id]:
                raise AuthError(
                    f"cannot disable {user.username!r}: it is the last enabled admin; "
                    "make another user admin first"
                )
            conn.execute(update(USERS).where(USERS.c.id == user.id).values(disabled_at=now))
            conn.execute(delete(SESSIONS).where(SESSIONS.c.user_id == user.id))
            conn.execute(
                update(TOKENS)
                .where(TOKENS.c.user_id == user.id, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return replace(user, disabled_at=now)

    def enable(self, username: str) -> UserRecord:
        """Let a disabled user log in again (its old tokens stay revoked)."""
        with self._writer.begin() as conn:
            user = self._require(conn, username)
            if user.disabled_at is None:
                return user
            conn.execute(update(USERS).where(USERS.c.id == user.id).values(disabled_at=None))
        return replace(user, disabled_at=None)

    def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The user if the password is theirs and they are enabled, else None.

        An unknown username costs one argon2 verification too, so the answer's
        timing does not tell which usernames exist. A hash made with older argon2
        parameters is replaced by one made with the current ones.
        """
        if not isinstance(password, str):
            return None
        row = None
        if isinstance(username, str) and USERNAME.fullmatch(username):
            query = select(*USER_COLUMNS, USERS.c.password_hash).where(
                USERS.c.username == username
            )
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
        if row is None or row.password_hash is None:
            passwords.verify_password(passwords.dummy_hash(), password)
            return None
        if not passwords.verify_password(row.password_hash, password):
            return None
        if row.disabled_at is not None:
            return None
        if passwords.needs_rehash(row.password_hash):
            fresh = passwords.rehash(password)
            with self._writer.begin() as conn:
                conn.execute(
                    update(USERS)
                    .where(USERS.c.id == row.id, USERS.c.password_hash == row.password_hash)
                    .values(password_hash=fresh)
                )
        return _user_record(row)

    # ---- API tokens ----
    def create_token(
        self, username: str, name: str = "token", expires_at: datetime | None = None
    ) -> tuple[TokenRecord, str]:
        """A new token of an enabled user, and its secret: shown once, stored as SHA-256."""
        label = name.strip() if isinstance(name, str) else ""
        if not 1 <= len(label) <= MAX_LABEL:
            raise AuthError(f"a token's name needs 1 to {MAX_LABEL} characters")
        now = _now()
        if expires_at is not None:
            if expires_at.tzinfo is None or expires_at.utcoffset() is None:
                raise AuthError("a token's expiry needs a time zone (UTC)")
            if expires_at <= now:
                raise AuthError(f"a token's expiry must be in the future, not {expires_at}")
            expires_at = expires_at.astimezone(UTC)
        token_id = secrets.token_hex(TOKEN_ID_BYTES)
        random_part = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_SECRET_LENGTH))
        secret = f"{TOKEN_PREFIX}_{token_id}_{random_part}"
        with self._writer.begin() as conn:
            user = self._require(conn, username)
            if user.disabled_at is not None:
                raise AuthError(f"user {user.username!r} is disabled")
            record = TokenRecord(id=token_id, user_id=user.id, name=label, created_at=now,
                                 last_used_at=None, expires_at=expires_at, revoked_at=None)
            conn.execute(insert(TOKENS).values(secret_hash=_digest(secret), **asdict(record)))
        return record, secret

    def user_for_token(self, secret: str) -> UserRecord | None:
        """The enabled user of a valid token, else None (unknown, revoked, expired, malformed)."""
        if not isinstance(secret, str) or not TOKEN.fullmatch(secret):
            return None
        query = (
            select(
                *USER_COLUMNS,
                TOKENS.c.id.label("token_id"),
                TOKENS.c.last_used_at,
                TOKENS.c.expires_at,
                TOKENS.c.revoked_at,
            )
            .select_from(TOKENS.join(USERS, USERS.c.id == TOKENS.c.user_id))
            .where(TOKENS.c.secret_hash == _digest(secret))
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        now = _now()
        if row is None or row.revoked_at is not None or row.disabled_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            with self._writer.begin() as conn:
                conn.execute(
                    update(TOKENS)
                    .where(
                        TOKENS.c.id == row.token_id,
                        or_(
                            TOKENS.c.last_used_at.is_(None),
                            TOKENS.c.last_used_at <= now - LAST_USED_EVERY,
                        ),
                    )
                    .values(last_used_at=now)
                )
        return _user_record(row)

    def list_tokens(self, username: str) -> list[TokenRecord]:
        """The user's tokens, revoked and expired ones too, oldest first."""
        with self._engine.connect() as conn:
            user = self._require(conn, username)
            query = (
                select(*TOKEN_COLUMNS)
                .where(TOKENS.c.user_id == user.id)
                .order_by(TOKENS.c.created_at, TOKENS.c.id)
            )
            return [_token_record(row) for row in conn.execute(query)]

    def get_token(self, token_id: str) -> TokenRecord:
        with self._engine.connect() as conn:
            row = conn.execute(select(*TOKEN_COLUMNS).where(TOKENS.c.id == token_id)).first()
        if row is None:
            raise AuthError(f"no token {token_id!r}")
        return _token_record(row)

    def revoke_token(self, token_id: str) -> TokenRecord:
        """Revoke a token by id (the whole token string is accepted too); a no-op if revoked."""
        whole = TOKEN.fullmatch(token_id) if isinstance(token_id, str) else None
        key = whole.group(1) if whole else token_id
        with self._writer.begin() as conn:
            conn.execute(
                update(TOKENS)
                .where(TOKENS.c.id == key, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
            row = conn.execute(select(*TOKEN_COLUMNS).where(TOKENS.c.id == key)).first()
        if row is None:
            raise AuthError(f"no token {token_id!r}")
        return _token_record(row)

    # ---- browser sessions ----
    def create_session(self, user_id: str, ttl: timedelta = SESSION_TTL) -> str:
        """A new session of an enabled user; returns the cookie's secret (stored as SHA-256).

        Sessions expired by now are deleted on the way.
        """
        if ttl <= timedelta(0):
            raise ValueError(f"a session's lifetime must be positive, not {ttl}")
        secret = secrets.token_urlsafe(SESSION_BYTES)
        now = _now()
        with self._writer.begin() as conn:
            row = conn.execute(
                select(USERS.c.username, USERS.c.disabled_at).where(USERS.c.id == user_id)
            ).first()
            if row is None:
                raise AuthError(f"no user with id {user_id!r}")
            if row.disabled_at is not None:
                raise AuthError(f"user {row.username!r} is disabled")
            conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at <= now))
            conn.execute(
                insert(SESSIONS).values(
                    secret_hash=_digest(secret), user_id=user_id, created_at=now,
                    expires_at=now + ttl,
                )
            )
        return secret

    def user_for_session(self, secret: str) -> UserRecord | None:
        """The enabled user of a live session, else None; an expired session is deleted."""
        if not isinstance(secret, str) or not 1 <= len(secret) <= MAX_SESSION_SECRET:
            return None
        digest = _digest(secret)
        query = (
            select(*USER_COLUMNS, SESSIONS.c.expires_at)
            .select_from(SESSIONS.join(USERS, USERS.c.id == SESSIONS.c.user_id))
            .where(SESSIONS.c.secret_hash == digest)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if row.expires_at <= _now() or row.disabled_at is not None:
            with self._writer.begin() as conn:
                conn.execute(delete(SESSIONS).where(SESSIONS.c.secret_hash == digest))
            return None
        return _user_record(row)

    def end_session(self, secret: str) -> bool:
        """Log out: delete the session; whether there was one."""
        if not isinstance(secret, str) or not 1 <= len(secret) <= MAX_SESSION_SECRET:
            return False
        with self._writer.begin() as conn:
            result = conn.execute(delete(SESSIONS).where(SESSIONS.c.secret_hash == _digest(secret)))
            return bool(result.rowcount)

    # ---- helpers ----
    def _require(self, conn: Connection, username: str) -> UserRecord:
        row = conn.execute(select(*USER_COLUMNS).where(USERS.c.username == username)).first()
        if row is None:
            raise AuthError(f"no user {username!r}")
        return _user_record(row)

    def _lock_admins(self, conn: Connection) -> list[str]:
        """The enabled admins' ids, their rows locked until the transaction ends (PostgreSQL).

        Locked first and in id order, so concurrent transactions queue instead of
        deadlocking; SQLite's BEGIN IMMEDIATE serialises writers anyway.
        """
        query = (
            select(USERS.c.id)
            .where(USERS.c.role == Role.ADMIN.value, USERS.c.disabled_at.is_(None))
            .order_by(USERS.c.id)
            .with_for_update()
        )
        return list(conn.scalars(query))


def ensure_first_admin(store: ControlStore, username: str = "admin") -> str | None:
    """Create an admin with a generated password when no enabled admin exists.

    Returns that password, to be shown once; None when an admin exists already.
    """
    users = UserRepository(store)
    if users.has_admin():
        return None
    password = passwords.generate_password()
    try:
        users.add_user(username, Role.ADMIN, password)
    except AuthError:
        if users.has_admin():  # another process made one meanwhile
            return None
        try:
            taken = users.get_user(username)
        except AuthError:
            raise
        state = "disabled " if taken.disabled_at else ""
        raise AuthError(
            f"no enabled admin exists, and user {username!r} exists already "
            f"({state}{taken.role.value}): make it admin with "
            f"`overture users set-role {username} admin`"
            + (f" and `overture users enable {username}`" if taken.disabled_at else "")
        ) from None
    return password
