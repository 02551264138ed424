"""What the middleware does while its store is down: ``on_store_error="fail" | "anonymous"``.

A store that does not answer must not turn into a traceback per request. ``Outage`` logs one
line when an outage begins and one when the store answers again (with how many requests it
affected), and the middleware either answers 503 with ``Retry-After`` (``"fail"``) or runs the
request with an empty session that is never written (``"anonymous"``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, MutableMapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from scsession import _clock, _core
from scsession.exceptions import StoreUnavailableError
from scsession.session import Host, staged

if TYPE_CHECKING:
    from scsession.middleware import Message, SCsessionMiddleware
    from scsession.session import Session

__all__ = [
    "OUTAGE_ERRORS",
    "RETRY_AFTER",
    "UNREADABLE",
    "Outage",
    "OutagePolicy",
    "go_offline",
    "not_readable",
    "serve_offline",
    "unavailable_response",
]

logger = logging.getLogger("scsession")

OutagePolicy = Literal["fail", "anonymous"]

#: What counts as "the store is down": scsession's own stores raise StoreUnavailableError; a
#: store written in Python typically lets a ConnectionError (an OSError) or a timeout through.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (StoreUnavailableError, OSError, TimeoutError)

#: Seconds a client is asked to wait before trying again (the ``Retry-After`` header).
RETRY_AFTER = 5
#: While the store is down and each try of it waits (a timeout, or a database pool that keeps
#: retrying a refused connection until connect_timeout), one request a second tries it and the
#: others fail at once instead of each waiting that long. A store that fails at once (a refused
#: Redis connection) is tried by every request, so the first one after it is back works.
PROBE_EVERY = 1.0
#: A failed try that took longer than this (seconds) is a slow one.
SLOW_FAILURE = 0.2
#: Sessions signed out during an outage (``"anonymous"``) whose records are deleted once the
#: store answers again; past this many, the oldest are left to expire.
MAX_PENDING_DELETES = 10_000

#: What using a session that could not be read raises (``"fail"``).
UNREADABLE = (
    "the session store is unavailable, so this request's session cannot be read; the request "
    "is answered 503 with Retry-After (on_store_error='fail')"
)
_BODY = b"Service Unavailable: the session store is not answering. Try again in a few seconds."


class Outage:
    """The state of one middleware's store: up, or down since when and for how many requests."""

    __slots__ = (
        "_error",
        "_last_try",
        "_pending",
        "_slow",
        "_store",
        "affected",
        "policy",
        "since",
    )

    def __init__(self, store: Any, policy: OutagePolicy) -> None:
        self._store = store
        self.policy = policy
        self.since: float | None = None  # time.monotonic() of the first failure, while down
        self.affected = 0
        self._error: BaseException | None = None  # what the outage began with
        self._last_try = 0.0  # time.monotonic() of the last request that tried the store
        self._slow = False  # the last failed try waited (see PROBE_EVERY)
        self._pending: dict[str, None] = {}  # ids to delete once the store is back, in order

    def skip(self) -> BaseException | None:
        """While down: the outage's error for a request that should not try the store (it was
        tried less than PROBE_EVERY ago), or None for the one that may try it now."""
        now = time.monotonic()
        if self._slow and now - self._last_try < PROBE_EVERY:
            return self._error
        self._last_try = now
        return None

    def delete_later(self, session_id: str) -> None:
        """A session signed out while the store is down: its record goes once it is back."""
        self._pending[session_id] = None
        while len(self._pending) > MAX_PENDING_DELETES:
            del self._pending[next(iter(self._pending))]

    def failed(self, error: BaseException, tried: float | None = None) -> None:
        """A request found the store down (`tried`: when it began trying, if it did): logged
        when the outage begins, counted after."""
        self.affected += 1
        now = time.monotonic()
        if tried is not None:
            self._slow = now - tried > SLOW_FAILURE
            self._last_try = now
        if self.since is not None:
            return
        self.since = now
        self._error = error
        what = (
            "requests that use the session are answered 503 with Retry-After"
            if self.policy == "fail"
            else "requests run with an empty session that is not saved"
        )
        logger.error(
            "scsession: the session store %r is unavailable (%s: %s); until it answers again %s "
            "(on_store_error=%r). This is logged once per outage.",
            self._store,
            type(error).__name__,
            error,
            what,
            self.policy,
        )

    def answered(self) -> list[str]:
        """The store answered: if it was down, the outage is over (logged with its length).
        Returns the ids of sessions signed out meanwhile, whose records are to be deleted."""
        if self.since is None:
            return []
        logger.warning(
            "scsession: the session store %r answers again after %.1f s; %d requests met the "
            "outage",
            self._store,
            time.monotonic() - self.since,
            self.affected,
        )
        self.since = self._error = None
        self.affected = 0
        pending, self._pending = list(self._pending), {}
        return pending


async def unavailable_response(scope: MutableMapping[str, Any], send: Any) -> None:
    """Answers 503 with Retry-After (HTTP), or closes with 1013 "try again later" (WebSocket)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013})
        return
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"retry-after", str(RETRY_AFTER).encode()),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(_BODY)).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _BODY})


class _Unread(NamedTuple):
    """What an unreadable session opens as (``"anonymous"``): empty, under its cookie's id."""

    state: _core.SessionState
    data: dict[str, Any]
    expired: str | None = None


class _Unreadable:
    """The loader of a session whose record could not be read (the store is down, with
    ``on_store_error="fail"``): every use of the session raises, and the middleware answers 503."""

    __slots__ = ("error", "session")

    def __init__(self, session: Session, error: BaseException) -> None:
        self.session, self.error = session, error

    def __call__(self, source: Any) -> _Unread:
        # Still unread: the next use raises too, and nothing is ever written.
        self.session._loader = self
        dict.__setitem__(self.session, "__scsession_not_loaded__", True)
        raise StoreUnavailableError(UNREADABLE) from self.error


async def serve_offline(
    middleware: SCsessionMiddleware,
    scope: MutableMapping[str, Any],
    receive: Any,
    send: Any,
    session: Session,
    error: BaseException,
) -> None:
    """Runs a request whose session could not be read because the store did not answer
    (counted and logged by the caller)."""
    scope["session"] = session
    if middleware._outage.policy == "fail":
        # Handlers that never touch the session run as usual; one that does gets a 503.
        not_readable(session, error)
        started = False

        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            started = True
            return send(message)  # type: ignore[no-any-return]

        try:
            await middleware.app(scope, receive, send_wrapper)
        except StoreUnavailableError:
            if started:
                raise
            await unavailable_response(scope, send)
        return
    # "anonymous": an empty session under the cookie's id, never written. A sign-out
    # (invalidate()) still removes the cookie, so it is not lost with the outage.
    go_offline(middleware, session, scope.get("headers", ()))
    await middleware._exchange(scope, receive, send, session)


def not_readable(session: Session, error: BaseException) -> None:
    """Makes every use of `session` raise: its record could not be read (``"fail"``)."""
    session._loader, session._source = _Unreadable(session, error), None


def go_offline(middleware: SCsessionMiddleware, session: Session, headers: Any) -> None:
    """Makes `session` an empty one under its cookie's id that is never written
    (``on_store_error="anonymous"``, the store down): its host says so to the middleware."""
    engine = middleware._engine
    candidates = engine.session_ids(headers)
    state = (
        _core.SessionState.unreadable(engine, candidates[0], _clock.now())
        if candidates
        else _core.SessionState()
    )
    session._source, session._loader = _Unread(state, {}), staged
    session._host = _Offline(session._host)


class _Offline(Host):
    """The host of a session that is not saved while the store is down."""

    __slots__ = ()
    offline = True

    def __init__(self, host: Host) -> None:
        super().__init__(host.index_problem, host.engine, host.max_age)
