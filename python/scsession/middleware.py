"""The ASGI middleware: puts a :class:`Session` in the scope and saves it as the response starts.

Pure ASGI (no ``BaseHTTPMiddleware``). Per request it costs a ``Session`` object and a send
wrapper; the cookie is only opened if the handler uses the session, and a Set-Cookie header is
only sent when the session's serialized bytes changed (or it was regenerated, emptied,
invalidated, or needs its idle deadline pushed back).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from time import monotonic as _monotonic
from typing import Any, Literal

from scsession import _clock, _core
from scsession._outage import OUTAGE_ERRORS, Outage, OutagePolicy, unavailable_response
from scsession._saving import PerIdLock, save_with_replace
from scsession._secrets import check_secrets
from scsession.events import EventHook, SessionEvent, emit
from scsession.exceptions import StoreUnavailableError
from scsession.session import BOUND_USER_KEY, UNLOADED, Opened, Session, _bound_user_id
from scsession.stores import SessionStore

__all__ = ["SCsessionMiddleware"]

logger = logging.getLogger("scsession")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Headers = Iterable[tuple[bytes, bytes]]
ASGIApp = Any

#: The bytes ``_core.dumps`` makes of an empty session.
_EMPTY = _core.dumps({})
_SESSION_SCOPES = frozenset(("http", "websocket"))
#: Messages that carry response headers: where a Set-Cookie can still go.
_HEADER_MESSAGES = frozenset(("http.response.start", "websocket.accept"))
_EXPIRED = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
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
            async ``load``/``save``/``delete``) keeps the data on the server, encrypted, and puts
            only the signed session id in the cookie. With a store, a request that carries a
            valid session cookie loads its record (awaited) before the handler runs.
        cookie_name: the cookie's name.
        max_age: seconds a session lives from its creation, however active (``None``: until the
            browser closes, with no server-side absolute limit).
        idle_timeout: seconds without a request after which the session is dead.
        cookie_path, cookie_domain: the cookie's Path and Domain.
        cookie_https_only: send the cookie with ``Secure``. Turning this off lets the cookie
            travel over plain http, where anyone on the network can copy it and act as the user:
            only for local development.
        cookie_same_site: the cookie's SameSite: ``"lax"`` (default), ``"strict"`` or ``"none"``.
        on_event: called with a :class:`~scsession.events.SessionEvent` when a session is
            created, modified, regenerated, invalidated or found expired; a function or an
            ``async def``. It runs after the response headers are sent; if it raises, the error
            is logged and nothing else changes.
        on_store_error: what a request meets while the store is down (one log line per
            outage, not per request). ``"fail"`` (default): a request that uses the session is
            answered 503 with ``Retry-After``; handlers that never touch it run as usual.
            ``"anonymous"``: the request runs with an empty session that is never written
            (public pages keep working); a sign-out still removes the cookie.
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
    ) -> None:
        if cookie_same_site not in ("lax", "strict", "none"):
            raise ValueError(
                f"cookie_same_site must be 'lax', 'strict' or 'none', not {cookie_same_site!r}"
            )
        if cookie_same_site == "none" and not cookie_https_only:
            raise ValueError(
                "cookie_same_site='none' needs cookie_https_only=True: browsers drop SameSite=None "
                "cookies that are not Secure"
            )
        for name, value in (("max_age", max_age), ("idle_timeout", idle_timeout)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds or None")
        if on_store_error not in ("fail", "anonymous"):
            raise ValueError(
                f"on_store_error must be 'fail' or 'anonymous', not {on_store_error!r}"
            )
        _check_cookie_attributes(cookie_name, cookie_path, cookie_domain, cookie_https_only)
        check_secrets(secret_key)
        if max_age is None and idle_timeout is None:
            logger.warning(
                "scsession: max_age=None and idle_timeout=None: sessions have no server-side "
                "time limit at all, so a stolen cookie works forever. Set max_age (absolute "
                "lifetime) or idle_timeout (seconds of inactivity), or both."
            )
        self.app = app
        self.store = store
        self._cookie_loader = self._open_cookie  # a bound method made once, not per request
        self._sealer = _core.Sealer(_secrets(secret_key), cookie_name, max_age, idle_timeout)
        # Built-in stores save with `_commit` (compare-and-swap, merging concurrent changes);
        # a store written in Python may offer `replace` (the same algorithm, run from here) or
        # `update` (replace only if present), else only `save`.
        self._store_commit = getattr(store, "_commit", None)
        self._store_replace = None if self._store_commit else getattr(store, "replace", None)
        self._store_update = getattr(store, "update", None)
        # Built-in stores keep a per-user index (Session.bind_user) with `_bind`/`_unbind`,
        # keyed by this middleware's secrets (so the index does not reveal user ids).
        self._store_index = hasattr(store, "_bind")
        if self._store_index:
            store.use_secret_key(secret_key)  # type: ignore[union-attr]
        self._saves = PerIdLock()
        self._on_store_error = on_store_error
        self._outage = Outage(store, on_store_error)
        self._on_event = on_event
        self.max_age = max_age
        self._cookie_prefix = cookie_name + "="
        where = f"; Path={cookie_path}" + (f"; Domain={cookie_domain}" if cookie_domain else "")
        flags = "; HttpOnly" + ("; Secure" if cookie_https_only else "")
        flags += f"; SameSite={cookie_same_site.capitalize()}"
        # Precomputed so a response only formats the value and Max-Age.
        self._cookie_where = where
        self._cookie_flags = flags
        self._delete_cookie = f"{cookie_name}={where}{_EXPIRED}{flags}".encode("latin-1")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in _SESSION_SCOPES:
            await self.app(scope, receive, send)
            return
        # A lazy Session, built without __init__: this runs on every request, touched or not,
        # and each call costs ~0.1 µs. Only _loader and _source are set; _load fills the rest.
        session = _new_dict(Session)
        _set_item(session, UNLOADED, True)
        expired = None  # store mode, with a hook: an expired record this request brought
        if self.store is None:
            session._loader = self._cookie_loader
            # The headers, not the scope: scope -> session -> scope would be a reference
            # cycle per request, left for the garbage collector (measured: +9 µs).
            session._source = scope.get("headers", ())
        else:
            # Store I/O is awaited here, before the handler, as a sync dict cannot await it.
            # The session still only counts as used (and is only saved or refreshed) once
            # the handler touches it.
            session._loader = _staged
            session._store = self.store
            # While the store is down, only one request a second waits for it.
            error = self._outage.skip() if self._outage.since is not None else None
            if error is None:
                tried = _monotonic()
                try:
                    session._source, expired = await self._fetch_record(scope, session)
                except OUTAGE_ERRORS as failure:
                    self._outage.failed(failure, tried)
                    error = failure
            else:
                self._outage.failed(error)
            if error is not None:
                await self._offline(scope, receive, send, session, error)
                return
        scope["session"] = session

        if scope["type"] == "websocket":
            await self._socket(scope, receive, send, session)
        elif self.store is None and self._on_event is None:
            # Plain functions returning send's awaitable: no extra coroutine per message.

            def send_wrapper(message: Message) -> Awaitable[None]:
                if session._loader is None and message["type"] in _HEADER_MESSAGES:
                    # Cookie sessions save without I/O, so this stays synchronous.
                    header = self._cookie_header(session)
                    if header is not None:
                        message = _with_set_cookie(message, header)
                return send(message)  # type: ignore[no-any-return]

            await self.app(scope, receive, send_wrapper)
        else:
            await self._exchange(scope, receive, send, session)
        if expired is not None:
            assert self._on_event is not None  # only looked for with a hook
            await emit(self._on_event, [SessionEvent("expired", expired, scope)])

    async def _exchange(self, scope: Scope, receive: Any, send: Any, session: Session) -> None:
        """An HTTP request whose save may do I/O (a store) or raise events. With a store that
        goes down, the request is answered 503 (``on_store_error="fail"``) if nothing of its
        response was sent yet."""
        # False: nothing sent yet; True: the app's response started; None: a 503 replaced it.
        started: bool | None = False

        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            if started is None:  # a 503 went out instead of the app's response: drop the rest
                return _sent()
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

    async def _offline(
        self, scope: Scope, receive: Any, send: Any, session: Session, error: BaseException
    ) -> None:
        """The store did not answer while this request's session was being read (counted and
        logged by the caller)."""
        scope["session"] = session
        session._source = None
        if self._on_store_error == "fail":
            # Handlers that never touch the session run as usual; one that does gets a 503.
            session._loader = _Unreadable(session, error)
            started = False

            def send_wrapper(message: Message) -> Awaitable[None]:
                nonlocal started
                started = True
                return send(message)  # type: ignore[no-any-return]

            try:
                await self.app(scope, receive, send_wrapper)
            except StoreUnavailableError:
                if started:
                    raise
                await unavailable_response(scope, send)
            return
        # "anonymous": an empty session under the cookie's id, never written. A sign-out
        # (invalidate()) still removes the cookie, so it is not lost with the outage.
        candidates = self._sealer.session_ids(scope.get("headers", ()))
        now = _clock.now()
        session._source = (candidates[0], now, now, _EMPTY, {}) if candidates else None

        def anonymous_send(message: Message) -> Awaitable[None]:
            if (
                session._loader is None
                and message["type"] in _HEADER_MESSAGES
                and session._retired_id is not None
                and session._id is None
            ):
                # The record itself is deleted once the store answers again.
                self._outage.delete_later(session._retired_id)
                message = _with_set_cookie(message, self._delete_cookie)
            return send(message)  # type: ignore[no-any-return]

        await self.app(scope, receive, anonymous_send)

    async def _store_is_back(self) -> None:
        """The store answered after an outage: logged, and the records of sessions signed out
        meanwhile (``"anonymous"``) are deleted now."""
        assert self.store is not None  # outages are a store's
        for session_id in self._outage.answered():
            try:
                await self.store.delete(session_id)
            except OUTAGE_ERRORS:
                self._outage.delete_later(session_id)  # down again: at the next recovery

    async def _socket(self, scope: Scope, receive: Any, send: Any, session: Session) -> None:
        """A WebSocket: the session is saved with the handshake's response (``accept``), as
        for HTTP. Later changes cannot reach the browser in a header: with a store they are
        written when the socket closes, and ``invalidate()`` deletes the record at once; with
        cookie sessions they are lost, and a warning says so."""
        accepted = False
        ending: list[asyncio.Task[None]] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal accepted
            if message["type"] != "websocket.accept" or accepted:
                await send(message)
                return
            accepted = True
            if self.store is not None:
                session._on_end = lambda: ending.append(
                    asyncio.ensure_future(self._end_now(session))
                )
            if session._loader is None:
                await self._send_saved(message, session, scope, send, _nothing)
            else:
                await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            session._on_end = None
            for task in ending:
                try:
                    await task
                except OUTAGE_ERRORS as error:  # the record expires by itself later
                    self._outage.failed(error)
        if accepted and session._loader is None:
            await self._save_after_accept(session)

    async def _end_now(self, session: Session) -> None:
        """``invalidate()`` on an open WebSocket (store mode): the record goes at once."""
        assert self.store is not None  # set up for store mode only
        for dead in {session._retired_id, session._loaded_id} - {None}:
            await self.store.delete(dead)  # type: ignore[arg-type]
        await self._update_index(session, None, 0, None)
        session._loaded_id = session._retired_id = session._loaded_user = None

    async def _save_after_accept(self, session: Session) -> None:
        """What a WebSocket changed after ``accept()``, when it closes."""
        if self.store is None:
            data = _core.dumps(session)
            if data != (session._original or _EMPTY) or session._retired_id is not None:
                _lost_after_accept("cookie sessions travel only in the handshake's Set-Cookie")
            return
        if session._loaded_id is None or session._id != session._loaded_id:
            if dict.__len__(session):
                _lost_after_accept("a new or regenerated session's cookie cannot reach it now")
            return
        try:
            await self._store_write(session)
        except OUTAGE_ERRORS as error:
            self._outage.failed(error)

    # -- loading ---------------------------------------------------------------------------------

    def _open_cookie(self, headers: Headers) -> Opened | None:
        """The lazy loader of a cookie session; runs at the session's first use."""
        opened = self._sealer.open_cookie(headers, _clock.now())
        if opened is None and logger.isEnabledFor(logging.DEBUG) and self._has_cookie(headers):
            logger.debug(
                "scsession: the session cookie did not open (tampered, expired, another key or "
                "not ours); starting a fresh session"
            )
        return opened

    def _has_cookie(self, headers: Headers) -> bool:
        """Whether the request carries a cookie of our name at all (for log lines only)."""
        name = self._cookie_prefix.encode("latin-1")
        return any(key == b"cookie" and name in value for key, value in headers)

    async def _fetch_record(
        self, scope: Scope, session: Session
    ) -> tuple[Opened | None, str | None]:
        """The opened record of the first cookie whose MAC verifies and whose record opens
        (the record itself goes to ``session._stored``), and, with an event hook, the id of a
        record that opened but had expired (for an ``expired`` event after the response)."""
        assert self.store is not None  # only called with a store
        now = _clock.now()
        headers = scope.get("headers", ())
        session_ids = self._sealer.session_ids(headers)
        if not session_ids and logger.isEnabledFor(logging.DEBUG) and self._has_cookie(headers):
            logger.debug("scsession: the session cookie failed its MAC check; ignored")
        expired = None
        for session_id in session_ids:
            blob = await self.store.load(session_id)
            if blob is None:
                continue
            opened = self._sealer.open_record(session_id, blob, now)
            if opened is not None:
                session._stored = blob
                session._loaded_user = _bound_user_id(opened[3])
                if self._outage.since is not None:
                    await self._store_is_back()
                return (session_id, *opened), expired
            if self._on_event is not None and self._sealer.expired_record(session_id, blob, now):
                expired = session_id
        if self._outage.since is not None and session_ids:
            await self._store_is_back()
        return None, expired

    # -- saving ----------------------------------------------------------------------------------

    def _cookie_header(self, session: Session) -> bytes | None:
        """Cookie mode: the Set-Cookie value the response needs, if any."""
        data = _core.dumps(session)
        if data == _EMPTY:
            return self._forget(session)
        due = self._write_due(session, data)
        if due is None:
            return None
        session_id, now = due
        value = self._sealer.seal_cookie(session_id, session._created, now, data)
        return self._set_cookie(session, value, data, now)

    async def _send_saved(
        self,
        message: Message,
        session: Session,
        scope: Scope,
        send: Any,
        replaced: Callable[[], None],
    ) -> None:
        """Saves the session (to the store, or into the cookie when events are on), sends
        `message` with its Set-Cookie, then runs the event hook. If the store is down, sends a
        503 instead and calls `replaced` (``on_store_error="fail"``), or sends `message` without
        saving (``"anonymous"``)."""
        # What the session was before saving, for the events.
        before = (session._loaded_id, session._retired_id, session._id, session._original)
        if self.store is None:
            header = self._cookie_header(session)
        else:
            tried = None
            try:
                down = self._outage.skip() if self._outage.since is not None else None
                if down is not None:
                    raise down
                tried = _monotonic()
                header = await self._store_write(session)
            except OUTAGE_ERRORS as error:
                self._outage.failed(error, tried)
                if self._on_store_error == "fail":
                    replaced()
                    await unavailable_response(scope, send)
                    return
                await send(message)
                return
            if self._outage.since is not None:
                await self._store_is_back()
        await send(message if header is None else _with_set_cookie(message, header))
        if self._on_event is not None:
            await emit(self._on_event, self._events(session, scope, before, header))

    def _events(
        self,
        session: Session,
        scope: Scope,
        before: tuple[str | None, str | None, str | None, bytes | None],
        header: bytes | None,
    ) -> list[SessionEvent]:
        """What happened to the session in this request, from its state before and after the
        save and the Set-Cookie value the save produced (None: nothing was written)."""
        loaded_id, retired_id, id_before, original = before
        events = []
        if loaded_id is None and self.store is None:
            # A cookie session that did not open: was it ours, but expired?
            expired = self._sealer.expired_cookie(scope.get("headers", ()), _clock.now())
            if expired is not None:
                events.append(SessionEvent("expired", expired, scope))
        ended = retired_id is not None and id_before is None  # invalidate()
        emptied = header == self._delete_cookie and not dict.__len__(session)
        if loaded_id is not None and (ended or emptied):
            events.append(SessionEvent("invalidated", loaded_id, scope))
        if header is None or header == self._delete_cookie:
            # Nothing written, an emptied session, or one that ended in another request.
            return events
        new_id = session._id
        assert new_id is not None  # a session that was written has an id
        if loaded_id is None or ended:
            events.append(SessionEvent("created", new_id, scope, changed=tuple(session.keys())))
        else:
            if retired_id is not None:
                events.append(SessionEvent("regenerated", new_id, scope, previous_id=retired_id))
            after = session._original  # set by the write
            if after is not None and original is not None and after != original:
                changed = _core.changed_keys(original, after)
                events.append(SessionEvent("modified", new_id, scope, changed=tuple(changed)))
        return events

    async def _store_write(self, session: Session) -> bytes | None:
        """Store mode: writes what changed; returns the Set-Cookie value to send, if any."""
        store = self.store
        assert store is not None  # only called with a store
        data = _core.dumps(session)
        if data == _EMPTY:
            for dead in {session._retired_id, session._loaded_id} - {None}:
                await store.delete(dead)  # type: ignore[arg-type]
            await self._update_index(session, None, 0, None)
            return self._forget(session)
        loaded_id = session._loaded_id
        # regenerate() on a loaded session: the new id is kept only if the old record is still
        # the one loaded (or merges with what changed it), so a sign-out meanwhile sticks.
        moved = loaded_id is not None and session._id is not None and session._id != loaded_id
        due = self._write_due(session, data)
        if due is None:
            return None
        session_id, now = due
        binding = self._binding(session)
        if loaded_id is not None and (moved or session_id == loaded_id):
            # One save per session at a time in this process (see PerIdLock).
            waiter = self._saves.enter(loaded_id)
            if waiter is not None:
                await self._saves.wait(loaded_id, waiter)
            try:
                previous = loaded_id if moved else None
                saved = await self._save_loaded(session, session_id, now, data, binding, previous)
            finally:
                self._saves.leave(loaded_id)
            if not saved:
                # Ended meanwhile (a sign-out in another request): nothing was written, and no
                # Set-Cookie either, so the browser keeps any cookie that other request set.
                return None
            if self._store_commit is not None:
                binding = None  # `_commit` wrote the index entry along with the session
        else:  # a new session, or a fresh one after invalidate()
            blob = self._sealer.seal_record(session_id, session._created, now, data)
            await store.save(session_id, blob, self._sealer.store_ttl(session._created, now))
            if session._retired_id is not None:
                # Only now, so the new id holds the data before the old one dies.
                await store.delete(session._retired_id)
        await self._update_index(session, session_id, now, binding)
        return self._set_cookie(session, self._sealer.sign_id(session_id), data, now)

    def _binding(self, session: Session) -> tuple[str, str | None] | None:
        """The user the session is bound to and its user agent (see `Session.bind_user`);
        None when it is not bound or the store keeps no per-user index."""
        if not self._store_index:
            return None
        user = _bound_user_id(session)
        if user is None:
            return None
        agent = dict.__getitem__(session, BOUND_USER_KEY).get("user_agent")
        return user, agent if isinstance(agent, str) else None

    async def _update_index(
        self,
        session: Session,
        session_id: str | None,
        now: int,
        binding: tuple[str, str | None] | None,
    ) -> None:
        """Keeps the store's per-user index in step with a write of the session under
        `session_id` at `now` (None: the session ended): the entry the session was loaded with
        goes if the id or the user changed, and `binding`, if given, is written. A bound
        session's entry is rewritten on each of its writes, which is when its expiry and
        last-seen time move."""
        if not self._store_index:
            return
        store: Any = self.store
        loaded_id, loaded_user = session._loaded_id, session._loaded_user
        user = _bound_user_id(session) if session_id is not None else None
        if loaded_user is not None and (loaded_id != session_id or loaded_user != user):
            await store._unbind(loaded_user, [loaded_id])
        if binding is not None:
            ttl = self._sealer.store_ttl(session._created, now)
            user, agent = binding
            await store._bind(user, session_id, session._created, now, ttl, agent)

    async def _save_loaded(
        self,
        session: Session,
        session_id: str,
        now: int,
        data: bytes,
        binding: tuple[str, str | None] | None,
        previous: str | None,
    ) -> bool:
        """Writes back a session the request loaded (under a new id after regenerate(), with
        `previous` the loaded one); False when it ended meanwhile and nothing was written. A
        built-in store writes `binding` to its per-user index in the same step."""
        store: Any = self.store
        # What the core's save needs: the write, and what the request loaded.
        write = (
            self._sealer,
            session_id,
            session._created,
            now,
            data,
            session._stored,
            session._original,
            previous,
        )
        if self._store_commit is not None:
            user, agent = binding if binding is not None else (None, None)
            saved: bool = await self._store_commit(*write, user, agent)
            return saved
        if self._store_replace is not None:
            return await save_with_replace(store, _core.Saving(*write))
        # A store with neither: no compare-and-swap (the README says what that loses).
        blob = self._sealer.seal_record(session_id, session._created, now, data)
        ttl = self._sealer.store_ttl(session._created, now)
        if previous is not None:
            await store.save(session_id, blob, ttl)
            await store.delete(previous)
            return True
        if self._store_update is None:
            await store.save(session_id, blob, ttl)
            return True
        updated: bool = await self._store_update(session_id, blob, ttl)
        return updated

    def _forget(self, session: Session) -> bytes | None:
        """An emptied or invalidated session: delete the cookie, if the browser has one."""
        return self._delete_cookie if session._loaded_id is not None else None

    def _write_due(self, session: Session, data: bytes) -> tuple[str, int] | None:
        """The id and time to write the session under, or None when it needs no write:
        unchanged, not regenerated, and its idle deadline needs no pushing back."""
        now = _clock.now()
        if (
            data == session._original
            and not session._force
            and not (
                session._loaded_id is not None
                and self._sealer.needs_refresh(session._last_seen, now)
            )
        ):
            return None
        if session._id is None:
            session._id = _core.new_session_id()
        if session._created == 0:
            session._created = now
        return session._id, now

    def _set_cookie(self, session: Session, value: str, data: bytes, now: int) -> bytes:
        """Records the write on the session and formats its Set-Cookie value."""
        session._original, session._last_seen, session._force = data, now, False
        if self.max_age is None:
            max_age = ""
        else:
            max_age = f"; Max-Age={self._sealer.remaining(session._created, now, now)}"
        cookie = f"{self._cookie_prefix}{value}{self._cookie_where}{max_age}{self._cookie_flags}"
        return cookie.encode("latin-1")


def _lost_after_accept(why: str) -> None:
    logger.warning(
        "scsession: the session changed after the WebSocket was accepted and cannot be saved: "
        "%s. Change the session before accept(), or over HTTP.",
        why,
    )


def _nothing() -> None:
    pass


def _sent() -> Awaitable[None]:
    """An awaitable that does nothing (a message that is not sent)."""
    return _DONE


class _Done:
    def __await__(self) -> Any:
        return iter(())


_DONE = _Done()


class _Unreadable:
    """The loader of a session whose record could not be read (the store is down, with
    ``on_store_error="fail"``): every use of the session raises, and the middleware answers 503."""

    __slots__ = ("error", "session")

    def __init__(self, session: Session, error: BaseException) -> None:
        self.session, self.error = session, error

    def __call__(self, source: Any) -> Opened | None:
        # Still unread: the next use raises too, and nothing is ever written.
        self.session._loader = self
        _set_item(self.session, UNLOADED, True)
        raise StoreUnavailableError(
            "the session store is unavailable, so this request's session cannot be read; the "
            "request is answered 503 with Retry-After (on_store_error='fail')"
        ) from self.error


def _with_set_cookie(message: Message, header: bytes) -> Message:
    """A copy of `message` with one more Set-Cookie header (the app's message is not changed)."""
    return {**message, "headers": [*message.get("headers", ()), (b"set-cookie", header)]}


def _staged(opened: Opened | None) -> Opened | None:
    """The lazy loader of a store session: its record was fetched before the handler."""
    return opened


def _secrets(secret_key: str | bytes | Sequence[str | bytes]) -> list[bytes]:
    keys = [secret_key] if isinstance(secret_key, str | bytes) else secret_key
    if not isinstance(keys, Sequence) or not all(isinstance(k, str | bytes) for k in keys):
        raise TypeError(
            "secret_key must be a str or bytes of at least 32 bytes, or a list of them "
            "(make one with `python -m scsession keygen`)"
        )
    return [key.encode() if isinstance(key, str) else bytes(key) for key in keys]


#: RFC 6265: a cookie name is a token: no separators, spaces or control characters.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Path and Domain values: no ';' (it would start another attribute) and no control characters.
_ATTRIBUTE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]+")


def _check_cookie_attributes(name: str, path: str, domain: str | None, secure: bool) -> None:
    """Refuses values that would break the Set-Cookie header or inject attributes into it, and
    cookie prefixes whose rules the other options break (browsers drop such cookies silently)."""
    if not _COOKIE_NAME.fullmatch(name):
        raise ValueError(f"cookie_name {name!r} is not a valid cookie name (RFC 6265 token)")
    # Browsers match the prefixes without regard to case.
    if name.lower().startswith("__host-") and (domain is not None or path != "/" or not secure):
        raise ValueError(
            f"cookie_name {name!r}: a __Host- cookie must be Secure, with cookie_path='/' and no "
            "cookie_domain (browsers drop it otherwise); keep cookie_https_only=True, "
            "cookie_path='/' and cookie_domain=None, or use another name"
        )
    if name.lower().startswith("__secure-") and not secure:
        raise ValueError(
            f"cookie_name {name!r}: a __Secure- cookie must be Secure (browsers drop it "
            "otherwise); keep cookie_https_only=True or use another name"
        )
    for option, value in (("cookie_path", path), ("cookie_domain", domain)):
        if value is not None and not _ATTRIBUTE_VALUE.fullmatch(value):
            raise ValueError(f"{option} {value!r} contains ';' or characters a cookie cannot carry")
