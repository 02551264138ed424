"""scsession: fast, secure sessions for Starlette and FastAPI, with a Rust core.

app.add_middleware(SCsessionMiddleware, secret_key=os.environ["SESSION_SECRET"])
request.session["user_id"] = user.id
"""

from __future__ import annotations

from scsession.exceptions import SessionError, SessionTooLargeError
from scsession.middleware import SCsessionMiddleware
from scsession.session import Flash, Session
from scsession.stores import MemoryStore, SessionStore

__all__ = [
    "Flash",
    "MemoryStore",
    "SCsessionMiddleware",
    "Session",
    "SessionError",
    "SessionStore",
    "SessionTooLargeError",
]
