"""FastAPI helpers: ``def route(session: SessionDep)``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from scsession.session import Session

__all__ = ["SessionDep", "get_session"]


def get_session(connection: HTTPConnection) -> Session:
    """The request's (or websocket's) session; SCsessionMiddleware must be installed."""
    session = connection.scope.get("session")
    if not isinstance(session, Session):
        raise RuntimeError(
            "no scsession session in this request: add "
            "app.add_middleware(SCsessionMiddleware, secret_key=...) to the app"
        )
    return session


#: A route parameter typed ``SessionDep`` receives the request's :class:`Session`.
SessionDep = Annotated[Session, Depends(get_session)]
