"""FastAPI helpers: ``def route(session: SessionDep)``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from scsession._deferred import load_session, session_in
from scsession.session import Session

__all__ = ["SessionDep", "get_session"]


def get_session(connection: HTTPConnection) -> Session:
    """The request's (or websocket's) session; SCsessionMiddleware must be installed."""
    return session_in(connection)


async def _loaded_session(connection: HTTPConnection) -> Session:
    # Async, so FastAPI awaits it on the event loop (a sync dependency runs in a thread), and
    # so that with load="on_demand" it reads the session from the store first.
    return await load_session(connection)


#: A route parameter typed ``SessionDep`` receives the request's :class:`Session`, loaded
#: (with ``SCsessionMiddleware(load="on_demand")`` it is read from the store first).
SessionDep = Annotated[Session, Depends(_loaded_session)]
