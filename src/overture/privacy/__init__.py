"""Personal data: what the workspace holds about one person, erasing it, and retention.

- `export_profile`: everything held about one profile, as JSON-ready data.
- `forget_profile`: erase or anonymise it everywhere, in the engine (set operations).
- `expire`: delete message history older than `[privacy] retention_days`.

All three work on the workspace directly (the CLI refuses while a server holds it).
"""

from __future__ import annotations

from overture.privacy.export import export_profile
from overture.privacy.forget import ForgetReport, forget_profile
from overture.privacy.profile import PrivacyError, Profile, find_profile
from overture.privacy.retention import ExpireReport, expire, retention_days

__all__ = [
    "ExpireReport",
    "ForgetReport",
    "PrivacyError",
    "Profile",
    "expire",
    "export_profile",
    "find_profile",
    "forget_profile",
    "retention_days",
]
