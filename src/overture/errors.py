"""The base of errors that carry a message meant for the user."""


class OvertureError(Exception):
    """An error whose message is shown to the user as is (no traceback)."""
