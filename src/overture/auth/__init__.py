"""Who may do what: roles, password hashing, and the error every auth check raises.

The users, tokens and sessions themselves live in the control plane
(`overture.store.users`); this package imports neither SQLAlchemy nor argon2
until `overture.auth.passwords` is imported.
"""

from overture.auth.errors import AuthError
from overture.auth.roles import Role

__all__ = ["AuthError", "Role"]
