"""The exceptions scsession raises. All derive from :class:`SessionError`."""

from __future__ import annotations

__all__ = [
    "SessionError",
    "SessionNotLoadedError",
    "SessionTooLargeError",
    "StoreError",
    "StoreUnavailableError",
]


class SessionError(Exception):
    """Base class of every scsession error, so one ``except`` can catch them all."""


class SessionTooLargeError(SessionError):
    """A cookie session would not fit in the 4096 bytes browsers keep for a cookie.

    Browsers drop larger cookies without a word, which would lose the session; scsession refuses
    to send one instead. Store less (an id rather than the object) or use a server-side store.
    """


class SessionNotLoadedError(SessionError, RuntimeError):
    """``request.session`` was used before ``await scsession.load_session(request)``, with
    ``SCsessionMiddleware(load="on_demand")``: load it first (or use FastAPI's ``SessionDep``)."""


class StoreError(SessionError):
    """A session store failed: it answered with an error, or could not save a session."""


class StoreUnavailableError(StoreError):
    """A session store could not be reached in time (down, refused, or too slow to answer).

    The message names the store, with any password masked, and the cause. Stores reconnect by
    themselves: once the server answers again, the next request works, with no restart.
    """
