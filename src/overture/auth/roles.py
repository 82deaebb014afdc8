"""The four roles, each allowing everything the roles below it allow.

- viewer: reads campaigns, runs, counts and reports;
- manager: also edits drafts and runs tests;
- approver: also publishes, confirms sends and stops runs;
- admin: also manages users, settings and providers.
"""

from __future__ import annotations

from enum import StrEnum

from overture.auth.errors import AuthError


class Role(StrEnum):
    """viewer < manager < approver < admin; the value is what the `users.role` column holds."""

    VIEWER = "viewer"
    MANAGER = "manager"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer up to 3 for admin."""
        return _RANKS[self]

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may: true for `needed` at or below it."""
        return self.rank >= Role(needed).rank

    @classmethod
    def parse(cls, text: str | Role) -> Role:
        """The role named `text` (any case, spaces around ignored), else an `AuthError`."""
        if isinstance(text, Role):
            return text
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise AuthError(f"unknown role {text!r}: expected one of {names}") from None


_RANKS: dict[Role, int] = {role: rank for rank, role in enumerate(Role)}

DESCRIPTIONS: dict[Role, str] = {
    Role.VIEWER: "reads campaigns, runs, counts and reports",
    Role.MANAGER: "also edits drafts and runs tests",
    Role.APPROVER: "also publishes, confirms sends and stops runs",
    Role.ADMIN: "also manages users, settings and providers",
}
