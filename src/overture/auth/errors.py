"""The error of a refused user, role, password, token or session."""

from __future__ import annotations

from overture.errors import OvertureError


class AuthError(OvertureError):
    """A user, role, password or token that cannot be used; the message says why."""
