"""A message's identity: one UUID per (run, activity, profile), spec §5.

The same triple always gives the same id, so a resumed run sends a message under the
id it had before the crash: it is the email's `Message-ID` and the idempotency key
HTTP providers receive.

The id is the MD5 of `len(run):run|len(activity):activity|key` with the version (3)
and variant bits set: run and activity are length-prefixed and the key comes last, so
no two triples share a name. MD5 because every data-plane engine has it, so the whole
send plan (one row per profile, with its id) is written by one statement in the engine
(`message_id_sql`); it names messages, it protects nothing.
"""

from __future__ import annotations

import hashlib
import uuid

import ibis
import ibis.expr.types as ir

_HEX = "0123456789abcdef"
_VARIANT = "89ab" * 4  # the variant nibble 10xx of RFC 9562, by the nibble's value


def message_name(run_id: str, activity_id: str, profile_key: str | int) -> str:
    """The hashed name: `5:run-1|8:vip_mail|c42`."""
    run, activity = str(run_id), str(activity_id)
    return f"{len(run)}:{run}|{len(activity)}:{activity}|{profile_key}"


def message_id(run_id: str, activity_id: str, profile_key: str | int) -> uuid.UUID:
    """The UUID of the message a run's activity sends to one profile."""
    digest = hashlib.md5(message_name(run_id, activity_id, profile_key).encode(),
                         usedforsecurity=False).digest()
    return uuid.UUID(bytes=digest, version=3)


@ibis.udf.scalar.builtin(name="md5")
def _md5(value: str) -> str:  # type: ignore[empty-body]
    """The engine's own md5(text) -> hex text (DuckDB and PostgreSQL alike)."""


def message_id_sql(run_id: str, activity_id: str, key_text: ir.StringValue) -> ir.StringValue:
    """The same id computed in the engine from a key column cast to text."""
    run, activity = str(run_id), str(activity_id)
    prefix = ibis.literal(f"{len(run)}:{run}|{len(activity)}:{activity}|")
    h = _md5(prefix + key_text)
    nibble = ibis.literal(_HEX).find(h.substr(16, 1))  # 0-based index of the nibble
    variant = ibis.literal(_VARIANT).substr(nibble, 1)
    return (h.substr(0, 8) + "-" + h.substr(8, 4) + "-3" + h.substr(13, 3) + "-"
            + variant + h.substr(17, 3) + "-" + h.substr(20, 12))


def message_id_header(value: uuid.UUID | str, domain: str) -> str:
    """The `Message-ID` header value: `<uuid@domain>`."""
    domain = domain.strip().strip("<>@")
    if not domain:
        raise ValueError("a Message-ID needs a domain")
    return f"<{value}@{domain}>"
