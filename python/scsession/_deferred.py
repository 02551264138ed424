"""``SCsessionMiddleware(load="on_demand")``: a session read only when the handler asks for it.

With a store, an eager middleware reads a valid cookie's record before the handler runs, even
for a handler that never uses the session (+100 µs with Redis). On demand, nothing is read
until ``await load_session(request)`` (or FastAPI's async ``SessionDep``); the synchronous
``request.session`` cannot await the store itself, so using it before then raises an error that
names the fix. Cookie sessions behave the same way, so an app can switch stores freely.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from scsession._outage import OUTAGE_ERRORS, UNREADABLE, go_offline, not_readable
from scsession.exceptions import SessionNotLoadedError, StoreUnavailableError
from scsession.session import UNLOADED, Session, staged

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from scsession.middleware import SCsessionMiddleware

__all__ = ["Deferred", "LoadMode", "load_session", "session_in"]

LoadMode = Literal["eager", "on_demand"]


class Deferred:
    """The loader of a session that ``load_session`` has not loaded yet: any use raises."""

    __slots__ = ("_headers", "_middleware", "_session", "expired")

    def __init__(
        self,
        middleware: SCsessionMiddleware,
        session: Session,
        headers: Iterable[tuple[bytes, bytes]],
    ) -> None:
        self._middleware, self._session, self._headers = middleware, session, headers
        #: The id of an expired session the request carried, once loaded (an ``expired`` event).
        self.expired: str | None = None

    def __call__(self, source: Any) -> NoReturn:
        # Session._load cleared the placeholder: put it back, still unloaded.
        self._session._loader = self
        dict.__setitem__(self._session, UNLOADED, True)
        raise SessionNotLoadedError(
            "request.session was used before it was loaded: with "
            "SCsessionMiddleware(load='on_demand'), first call "
            "`await scsession.load_session(request)` in the handler, or take the session as a "
            "FastAPI dependency (`session: SessionDep`)"
        )

    async def load(self) -> None:
        session, middleware = self._session, self._middleware
        saver = middleware._saver
        if saver is None:  # a cookie session: opened lazily, without I/O, as usual
            session._loader, session._source = middleware._cookie_loader, self._headers
            return
        try:
            opened = await saver.load(self._headers)
        except OUTAGE_ERRORS as error:  # counted and logged by the saver
            if middleware._outage.policy == "fail":
                not_readable(session, error)
                raise StoreUnavailableError(UNREADABLE) from error
            go_offline(middleware, session, self._headers)
            return
        self.expired = opened.expired
        session._loader, session._source = staged, opened


def session_in(connection: HTTPConnection) -> Session:
    """The request's (or WebSocket's) session; SCsessionMiddleware must be installed."""
    session = connection.scope.get("session")
    if not isinstance(session, Session):
        raise RuntimeError(
            "no scsession session in this request: add "
            "app.add_middleware(SCsessionMiddleware, secret_key=...) to the app"
        )
    return session


async def load_session(request: HTTPConnection) -> Session:
    """The request's (or WebSocket's) session, read from the store first if it was not yet
    (``SCsessionMiddleware(load="on_demand")``); with ``load="eager"`` it returns at once.

    Raises :class:`~scsession.StoreUnavailableError` if the store is down
    (``on_store_error="fail"``: the middleware answers 503).
    """
    session = session_in(request)
    loader = session._loader
    if isinstance(loader, Deferred):
        await loader.load()
    return session
