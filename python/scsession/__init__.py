"""scsession: fast, secure sessions for Starlette and FastAPI, with a Rust core.

app.add_middleware(SCsessionMiddleware, secret_key=os.environ["SESSION_SECRET"])
request.session["user_id"] = user.id
"""

from __future__ import annotations

from scsession._deferred import load_session
from scsession.events import SessionEvent
from scsession.exceptions import (
    SessionError,
    SessionNotLoadedError,
    SessionTooLargeError,
    StoreError,
    StoreUnavailableError,
)
from scsession.middleware import SCsessionMiddleware
from scsession.session import Flash, Session
from scsession.stores import (
    MemcachedStore,
    MemoryStore,
    RedisStore,
    SessionStore,
    SQLStore,
    UserSession,
)

__all__ = [
    "Flash",
    "MemcachedStore",
    "MemoryStore",
    "RedisStore",
    "SCsessionMiddleware",
    "SQLStore",
    "Session",
    "SessionError",
    "SessionEvent",
    "SessionNotLoadedError",
    "SessionStore",
    "SessionTooLargeError",
    "StoreError",
    "StoreUnavailableError",
    "UserSession",
    "load_session",
]
