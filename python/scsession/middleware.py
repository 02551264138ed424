"""The ASGI middleware: puts a :class:`Session` in the scope and saves it as the response starts.

Pure ASGI (no ``BaseHTTPMiddleware``). What a request did to its session, and what must be
written, is decided by the engine in Rust (``_core.Engine``); this module wires it to ASGI:
configuration, the send wrapper, and the ``Set-Cookie`` header. Per request it costs a lazy
``Session`` and a send wrapper; a cookie is only opened if the handler uses the session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable, MutableMapping, Sequence
from typing import Any, Literal

from scsession import _clock, _core
from scsession._config import check_lifetime, host_for, secrets_of
from scsession._deferred import Deferred, LoadMode
from scsession._outage import (
    OUTAGE_ERRORS,
    Outage,
    OutagePolicy,
    serve_offline,
    unavailable_response,
)
from scsession._saving import Saver
from scsession._websocket import serve_socket
from scsession.events import EventHook, SessionEvent, emit
from scsession.exceptions import StoreUnavailableError
from scsession.migrate import Migrator, SessionSource
from scsession.session import UNLOADED, Session, staged
from scsession.stores import SessionStore

__all__ = ["SCsessionMiddleware"]

logger = logging.getLogger("scsession")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Headers = Iterable[tuple[bytes, bytes]]
ASGIApp = Any

_SESSION_SCOPES = frozenset(("http", "websocket"))
#: Messages that carry response headers: where a Set-Cookie can still go.
_HEADER_MESSAGES = frozenset(("http.response.start", "websocket.accept"))
_new_dict = dict.__new__
_set_item = dict.__setitem__


class SCsessionMiddleware:
    """Sessions for Starlette and FastAPI apps: ``request.session`` is a :class:`Session`.

    Args:
        app: the ASGI app to wrap.
        secret_key: at least 32 random bytes (a ``str`` counts its UTF-8 bytes), or a list of
            keys to rotate: the first seals, every one opens. Make one with
            ``python -m scsession keygen``; keep it out of the code.
        store: ``None`` seals the whole session into the cookie. A store (``MemoryStore()``,
            ``RedisStore(url)``, ``MemcachedStore(url)``, ``SQLStore(url)``, or any object with
            async ``load``/``save``/``replace``/``delete``) keeps the data on the server,
            encrypted, and puts only the signed session id in the cookie. With a store, a request
            that carries a valid session cookie loads its record (awaited) before the handler.
        cookie_name: the cookie's name.
        max_age: seconds a session lives from its creation, however active (``None``: until the
            browser closes, with no server-side absolute limit).
        idle_timeout: seconds without a request after which the session is dead.
        cookie_path, cookie_domain: the cookie's Path and Domain.
        cookie_https_only: send the cookie with ``Secure``. Turning this off lets the cookie
            travel over plain http, where anyone on the network can copy it and act as the user:
            only for local development.
        cookie_same_site: the cookie's SameSite: ``"lax"`` (default), ``"strict"`` or ``"none"``.
        cookie_partitioned: mark the cookie ``Partitioned`` (CHIPS), for an app that runs in
            another site's frame; needs ``cookie_same_site="none"`` and ``cookie_https_only``.
        cache_control: the ``Cache-Control`` given to a response that sets or deletes the
            session cookie and has none of its own, so that no shared cache (a CDN, a proxy)
            hands one user's cookie to another. ``None`` turns it off. Every response whose
            handler used the session also gets ``Vary: Cookie``.
        load: with a store, when a session is read. ``"eager"`` (default): a request that
            carries a valid session cookie loads its record before the handler runs.
            ``"on_demand"``: nothing is read until the handler calls
            ``await scsession.load_session(request)`` (or takes the async ``SessionDep``), so
            a request that never uses its session costs no store round trip; using
            ``request.session`` before that raises :class:`~scsession.SessionNotLoadedError`.
        on_event: called with a :class:`~scsession.events.SessionEvent` when a session is
            created, modified, regenerated, invalidated or found expired; a function or an
            ``async def``. It runs after the response headers are sent; if it raises, the error
            is logged and nothing else changes.
        on_store_error: what a request meets while the store is down (one log line per
            outage, not per request). ``"fail"`` (default): a request that uses the session is
            answered 503 with ``Retry-After``; handlers that never touch it run as usual.
            ``"anonymous"``: the request runs with an empty session that is never written
            (public pages keep working); a sign-out still removes the cookie.
        migrate_from: the sessions of the middleware this one replaces,
            ``scsession.migrate.StarletteCookie(secret_key=OLD_KEY)`` (Starlette's
            ``SessionMiddleware``) or ``scsession.migrate.StarsessionsRedis(url)``
            (starsessions with Redis). A request with no valid scsession session but a valid
            old one opens with the old data as a new session, which the response saves (under
            a new id) while removing the old cookie and, for starsessions, deleting the old
            record; anything invalid is a fresh session. Remove it once the old sessions have
            expired (see the README's migration guide). ``None`` (default) costs nothing.
    """

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str | bytes | Sequence[str | bytes],
        store: SessionStore | None = None,
        cookie_name: str = "session",
        max_age: int | None = 1209600,
        idle_timeout: int | None = None,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        cookie_https_only: bool = True,
        cookie_same_site: Literal["lax", "strict", "none"] = "lax",
        on_event: EventHook | None = None,
        on_store_error: OutagePolicy = "fail",
        cookie_partitioned: bool = False,
        cache_control: str | None = "private, no-store",
        load: LoadMode = "eager",
        migrate_from: SessionSource | None = None,
    ) -> None:
        check_lifetime(max_age, idle_timeout, on_store_error)
        if load not in ("eager", "on_demand"):
            raise ValueError(f"load must be 'eager' or 'on_demand', not {load!r}")
        self._engine = _core.Engine(
            secrets_of(secret_key),
            cookie_name,
            max_age,
            idle_timeout,
            path=cookie_path,
            domain=cookie_domain,
            secure=cookie_https_only,
            same_site=cookie_same_site,
            partitioned=cookie_partitioned,
        )
        self.app = app
        self.store = store
        self.max_age = max_age
        self._outage = Outage(store, on_store_error)
        self._saver = None if store is None else Saver(self._engine, store, self._outage)
        if self._saver is not None and self._saver.indexed is not None:
            # The per-user index is keyed by the secret, so it does not reveal user ids.
            self._saver.indexed.use_secret_key(secret_key)
        indexed = self._saver is not None and self._saver.indexed is not None
        self._host = host_for(store, indexed, self._engine, max_age)
        self._cache_control = None if cache_control is None else cache_control.encode("latin-1")
        self._on_demand = load == "on_demand"
        self._on_event = on_event
        # Cookie sessions with no event hook, loaded lazily: saved without I/O by a plain
        # send wrapper (the path most requests take, decided once here).
        self._plain_cookie = store is None and on_event is None and not self._on_demand
        self._cookie_loader = self._open_cookie  # a bound method made once, not per request
        self._cookie_marker = cookie_name.encode("latin-1") + b"="  # for a debug line only
        self._migrator: Migrator | None = None
        if migrate_from is not None:
            self._migrator = Migrator(
                migrate_from,
                self._engine,
                cookie_mode=store is None,
                path=cookie_path,
                domain=cookie_domain,
                secure=cookie_https_only,
                same_site=cookie_same_site,
            )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in _SESSION_SCOPES:
            await self.app(scope, receive, send)
            return
        # A lazy Session, built without __init__: this runs on every request, touched or not.
        session = _new_dict(Session)
        _set_item(session, UNLOADED, True)
        session._host = self._host
        expired = None  # store mode: an expired record this request brought
        deferred = None
        if self._on_demand:
            # Nothing is read until the handler awaits load_session(); using the session
            # before that raises, naming the fix.
            session._loader = deferred = Deferred(self, session, scope.get("headers", ()))
            session._source = None
        elif self.store is None:
            session._loader = self._cookie_loader
            # The headers, not the scope: scope -> session -> scope would be a reference
            # cycle per request, left for the garbage collector (measured: +9 µs).
            session._source = scope.get("headers", ())
        else:
            # Store I/O is awaited here, as a sync dict cannot await it; the session still only
            # counts as used (and is only saved or refreshed) once the handler touches it.
            try:
                opened = await self._saver.load(scope.get("headers", ()))  # type: ignore[union-attr]
            except OUTAGE_ERRORS as error:
                await serve_offline(self, scope, receive, send, session, error)
                return
            session._loader, session._source, expired = staged, opened, opened.expired
        scope["session"] = session
        if self._migrator is not None:
            # migrate_from: a request with the old middleware's cookie (scsession.migrate).
            try:
                send = await self._migrator.begin(session, scope.get("headers", ()), send)
            except OUTAGE_ERRORS as error:  # the old sessions' store is down
                await serve_offline(self, scope, receive, send, session, error)
                return

        if scope["type"] == "websocket":
            await serve_socket(self, scope, receive, send, session)
        elif self._plain_cookie:
            # A plain function returning send's awaitable: no extra coroutine per message.

            def send_wrapper(message: Message) -> Awaitable[None]:
                if session._loader is None and message["type"] in _HEADER_MESSAGES:
                    if session._on_save is not None:
                        session._saving()
                    # Cookie sessions save without I/O, so this stays synchronous.
                    finished = self._engine.finish_cookie(session._state, session, _clock.now())
                    message = self._used(message, finished and finished.set_cookie)
                return send(message)  # type: ignore[no-any-return]

            await self.app(scope, receive, send_wrapper)
        else:
            await self._exchange(scope, receive, send, session)
        if deferred is not None:
            expired = deferred.expired
        if expired is not None and self._on_event is not None:
            await emit(self._on_event, [SessionEvent("expired", expired, scope)])

    def _open_cookie(self, headers: Headers) -> Any:
        """The lazy loader of a cookie session; runs at the session's first use."""
        opened = self._engine.open_cookie(headers, _clock.now())
        if (
            opened.state.id is None
            and logger.isEnabledFor(logging.DEBUG)
            and any(key == b"cookie" and self._cookie_marker in value for key, value in headers)
        ):
            logger.debug("scsession: the session cookie did not open; a fresh session")
        return opened

    async def _exchange(self, scope: Scope, receive: Any, send: Any, session: Session) -> None:
        """An HTTP request whose save may do I/O (a store) or raise events. With a store that
        goes down, the request is answered 503 (``on_store_error="fail"``) if nothing of its
        response was sent yet."""
        # False: nothing sent yet; True: the app's response started; None: a 503 replaced it.
        started: bool | None = False

        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            if started is None:  # a 503 went out instead of the app's response: drop the rest
                return _dropped()
            started = True
            if session._loader is None and message["type"] in _HEADER_MESSAGES:
                return self._send_saved(message, session, scope, send, replaced)
            return send(message)  # type: ignore[no-any-return]

        def replaced() -> None:
            nonlocal started
            started = None

        try:
            await self.app(scope, receive, send_wrapper)
        except StoreUnavailableError as error:
            # The handler met the store down (its own call on the store, say).
            if self.store is None or started is not False:
                raise
            self._outage.failed(error)
            await unavailable_response(scope, send)

    async def _send_saved(
        self, message: Message, session: Session, scope: Scope, send: Any, replaced: Any
    ) -> None:
        """Saves the session (to the store, or into the cookie), sends `message` with its
        Set-Cookie, then runs the event hook. If the store is down, sends a 503 instead and
        calls `replaced` (``on_store_error="fail"``), or sends `message` unsaved."""
        if session._on_save is not None:
            session._saving()
        now = _clock.now()
        if session._host.offline:
            await send(self._offline(message, session))
            return
        if self._saver is None:
            finished = self._engine.finish_cookie(session._state, session, now)
        else:
            try:
                finished = await self._saver.finish(session._state, session, now)
            except OUTAGE_ERRORS:  # counted and logged by the saver
                if self._outage.policy == "fail":
                    replaced()
                    await unavailable_response(scope, send)
                else:
                    await send(self._offline(message, session))
                return
        await send(self._used(message, finished and finished.set_cookie))
        if self._on_event is not None:
            # A cookie session that did not open but was ours, expired (see Session._load);
            # store mode reports its expired record after the response.
            expired = session._source if self._saver is None else None
            events = [] if expired is None else [_core.Event.expired(expired)]
            events += finished.events() if finished is not None else ()
            await emit(self._on_event, [SessionEvent.of(event, scope) for event in events])

    def _used(self, message: Message, set_cookie: bytes | None) -> Message:
        """`message` (that starts the response of a request that used its session) with the
        headers that go with a used session: `set_cookie` if the save made one,
        ``Vary: Cookie``, and ``Cache-Control`` with a cookie, unless the app set its own."""
        if message["type"] != "http.response.start":  # websocket.accept: no caches there
            if set_cookie is None:
                return message
            headers = [*message.get("headers", ()), (b"set-cookie", set_cookie)]
            return {**message, "headers": headers}
        return _with_session_headers(
            message, set_cookie, None if set_cookie is None else self._cache_control
        )

    def _offline(self, message: Message, session: Session) -> Message:
        """`message` for a session that is not saved while the store is down
        (``on_store_error="anonymous"``): a sign-out still removes the cookie, and the record
        is deleted once the store answers again."""
        state = session._state
        if state.retired_id is None or state.id is not None:
            return self._used(message, None)
        self._outage.delete_later(state.retired_id)
        return self._used(message, self._engine.delete_cookie)


async def _dropped() -> None:
    """What sending a message that is not sent awaits (after a 503 replaced the response)."""


def _with_session_headers(
    message: Message, set_cookie: bytes | None, cache_control: bytes | None
) -> Message:
    """A copy of `message` (the app's is not changed) with ``Vary: Cookie`` (merged into the
    app's own Vary), `set_cookie` if any, and `cache_control` unless the app set one."""
    headers = list(message.get("headers", ()))
    vary_at = None
    for i, (name, value) in enumerate(headers):
        name = name.lower()
        if name == b"vary":
            tokens = [token.strip().lower() for token in value.split(b",")]
            if b"cookie" in tokens or b"*" in tokens:
                vary_at = -1
            elif vary_at is None:
                vary_at = i
        elif name == b"cache-control":
            cache_control = None
    if vary_at is None:
        headers.append((b"vary", b"Cookie"))
    elif vary_at >= 0:
        headers[vary_at] = (b"vary", headers[vary_at][1] + b", Cookie")
    if set_cookie is not None:
        headers.append((b"set-cookie", set_cookie))
        if cache_control is not None:
            headers.append((b"cache-control", cache_control))
    return {**message, "headers": headers}
