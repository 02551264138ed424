"""The exceptions scsession raises. All derive from :class:`SessionError`."""

from __future__ import annotations

__all__ = ["SessionError", "SessionTooLargeError"]


class SessionError(Exception):
    """Base class of every scsession error, so one ``except`` can catch them all."""


class SessionTooLargeError(SessionError):
    """A cookie session would not fit in the 4096 bytes browsers keep for a cookie.

    Browsers drop larger cookies without a word, which would lose the session; scsession refuses
    to send one instead. Store less (an id rather than the object) or use a server-side store.
    """
