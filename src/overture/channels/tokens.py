"""Signed tokens for the links a message carries (unsubscribe now; opens and clicks next).

A token names a message id, what the link does and, for clicks, the link's index; it
is signed with HMAC-SHA256 under the workspace's secret key, so nobody can forge an
unsubscribe for another person or point a click elsewhere. The key comes from
`OVERTURE_SECRET_KEY`, else from `.overture/secret.key`, created on first use (mode
0600) so that the embedded demo works without setup. Tokens carry the key's id, so
an older key can still be accepted after a rotation (`OVERTURE_SECRET_KEY_OLD`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from overture.errors import OvertureError

KEY_FILE = "secret.key"
_SIG_BYTES = 16


class TokenError(OvertureError):
    """A token that is malformed, altered or signed by an unknown key."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"overture-key-id" + key).hexdigest()[:6]


@dataclass(frozen=True)
class Signer:
    """Signs with the current key; verifies with the current and any older ones."""

    key: bytes
    older: tuple[bytes, ...] = ()

    @classmethod
    def for_workspace(cls, state_dir: Path | None,
                      env: Mapping[str, str] | None = None) -> Signer:
        env = os.environ if env is None else env
        current = env.get("OVERTURE_SECRET_KEY")
        if current:
            key = current.encode()
        elif state_dir is not None:
            key = _file_key(state_dir / KEY_FILE)
        else:
            raise TokenError("no secret key: set OVERTURE_SECRET_KEY")
        old = tuple(k.encode() for k in env.get("OVERTURE_SECRET_KEY_OLD", "").split(",") if k)
        return cls(key, old)

    def sign(self, kind: str, message_id: uuid.UUID | str, index: int | None = None) -> str:
        body = f"{kind}.{uuid.UUID(str(message_id)).hex}" + (
            f".{index}" if index is not None else "")
        kid = _key_id(self.key)
        mac = hmac.new(self.key, f"{kid}.{body}".encode(), hashlib.sha256).digest()
        return f"{kid}.{body}.{_b64(mac[:_SIG_BYTES])}"

    def verify(self, token: str) -> tuple[str, uuid.UUID, int | None]:
        """`(kind, message_id, index)` of a genuine token; TokenError otherwise."""
        parts = token.split(".")
        if len(parts) not in (4, 5):
            raise TokenError("malformed token")
        kid, signature = parts[0], parts[-1]
        body = ".".join(parts[1:-1])
        for key in (self.key, *self.older):
            if _key_id(key) != kid:
                continue
            mac = hmac.new(key, f"{kid}.{body}".encode(), hashlib.sha256).digest()
            # compared as text: base64 has several spellings of the same bytes
            if not hmac.compare_digest(_b64(mac[:_SIG_BYTES]), signature):
                raise TokenError("the token's signature does not match")
            kind, hex_id = parts[1], parts[2]
            try:
                index = int(parts[3]) if len(parts) == 5 else None
                return kind, uuid.UUID(hex=hex_id), index
            except ValueError:
                raise TokenError("malformed token") from None
        raise TokenError("the token was signed by an unknown key")


def _file_key(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value


def unsubscribe_url(base_url: str, signer: Signer, message_id: uuid.UUID | str) -> str:
    return f"{base_url.rstrip('/')}/u/{signer.sign('u', message_id)}"
