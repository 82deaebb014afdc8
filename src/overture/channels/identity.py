"""A message's identity: one UUID per (run, activity, profile), spec §5.

The same triple always gives the same id, so a resumed run sends a message under the
id it had before the crash: it is the email's `Message-ID` and the idempotency key
HTTP providers receive.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it would give every past message a new identity.
MESSAGE_NAMESPACE = uuid.UUID("199d3490-0459-58ca-947c-87a0b7ddf1fd")


def _length_prefixed(*parts: str) -> str:
    """`3:abc|2:de`: unambiguous whatever the parts hold (("a","bc") != ("ab","c"))."""
    return "|".join(f"{len(part)}:{part}" for part in parts)


def message_id(run_id: str, activity_id: str, profile_key: str | int) -> uuid.UUID:
    """The UUID5 of the message a run's activity sends to one profile."""
    return uuid.uuid5(MESSAGE_NAMESPACE,
                      _length_prefixed(str(run_id), str(activity_id), str(profile_key)))


def message_id_header(value: uuid.UUID | str, domain: str) -> str:
    """The `Message-ID` header value: `<uuid@domain>`."""
    domain = domain.strip().strip("<>@")
    if not domain:
        raise ValueError("a Message-ID needs a domain")
    return f"<{value}@{domain}>"
