"""Helpers for testing apps that use scsession, and a conformance suite for session stores.

For an app's tests: :func:`session_cookie` makes a cookie value that starts a test client with a
session (signed in, say), and :func:`read_session` reads what a response's session cookie holds::

    from scsession.testing import read_session, session_cookie

    client.cookies.set("session", session_cookie(SECRET, {"user_id": 42}))
    response = client.post("/cart", json={"item": "socks"})
    assert read_session(SECRET, response) == {"user_id": 42, "cart": ["socks"]}

For a store's tests, subclass :class:`StoreConformance` in a test module and give it a ``store``
fixture that returns a fresh, empty store; pytest then runs every check below against it::

    import pytest
    from scsession.testing import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store(self):
            return MyStore("redis://127.0.0.1:6379/0")

Each check runs in its own ``asyncio.run``; if the store has an ``async aclose()`` method, it is
awaited at the end of each check, in the same event loop. The store's own contract is checked
first (``load``, ``save``, ``delete``, time to live, and ``replace`` where the store has
it), then sessions through :class:`SCsessionMiddleware` with the store: saved, read back,
regenerated, invalidated, and a record that is not a session.
Every built-in store passes it, and so does the README's example store.

:class:`UserIndexConformance` checks a store's per-user index (``Session.bind_user``,
``sessions_for_user``, ``invalidate_user``) the same way; every built-in store passes it too.

The module imports pytest only where a check needs it, so the two helpers work under any test
runner.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, ClassVar, NoReturn, Protocol
from urllib.parse import parse_qsl

from scsession import _clock, _core
from scsession._config import secrets_of
from scsession.exceptions import SessionTooLargeError
from scsession.middleware import SCsessionMiddleware
from scsession.session import BOUND_USER_KEY
from scsession.stores import SessionStore

__all__ = [
    "SECRET",
    "Browser",
    "StoreConformance",
    "UserIndexConformance",
    "new_id",
    "read_session",
    "session_cookie",
]

#: The key the suite's middleware uses (tests only).
SECRET = "conformance-suite-key-of-at-least-32-bytes"
#: Signs and reads session ids as the suite's middleware does (same key, cookie name "session").
_SEALER = _core.Sealer([SECRET.encode()], "session", None, None)


def new_id() -> str:
    """A fresh session id, as the middleware makes them."""
    return _core.new_session_id()


# -- an app's tests: a session to start with, and what a response wrote --------------------------

#: What browsers keep of a cookie at most: its name and value together (RFC 6265 section 6.1).
_COOKIE_LIMIT = 4096


def session_cookie(
    secret_key: str | bytes | Sequence[str | bytes],
    data: Mapping[str, Any],
    *,
    cookie_name: str = "session",
) -> str:
    """A cookie value that ``SCsessionMiddleware(secret_key=..., cookie_name=...)`` without a
    store opens as a session holding ``data``, so that a test can start signed in::

        client.cookies.set("session", session_cookie(SECRET, {"user_id": 42}))

    ``secret_key`` is what the middleware takes (a key, or a list of keys: the first seals).
    The session is new: created now (``scsession._clock.now()``, so a test that moves the clock
    agrees with the middleware), under a fresh id, so every ``max_age`` and ``idle_timeout``
    accepts it. Values are checked as session values are (``TypeError`` naming the key of one
    that cannot be stored); ``SessionTooLargeError`` if browsers would not keep the cookie.

    For cookie mode only: with a store, the session lives in the store, so a test signs in
    through the app instead.
    """
    keys = secrets_of(secret_key)
    sealer = _core.Sealer(keys, cookie_name, None, None)
    now = _clock.now()
    value = sealer.seal_cookie(_core.new_session_id(), now, now, _core.dumps(dict(data)))
    if len(cookie_name) + 1 + len(value) > _COOKIE_LIMIT:
        raise SessionTooLargeError(
            f"this session seals into a {len(value)}-byte cookie value, more than the "
            f"{_COOKIE_LIMIT} bytes browsers keep for a cookie"
        )
    return value


class _Headers(Protocol):
    def get_list(self, key: str) -> list[str]: ...


class _Response(Protocol):
    @property
    def headers(self) -> _Headers: ...


def read_session(
    secret_key: str | bytes | Sequence[str | bytes],
    cookie_or_response: str | _Response,
    *,
    cookie_name: str = "session",
) -> dict[str, Any] | str | None:
    """What a session cookie holds: the session data (a ``dict``) of a cookie session, the session
    id (a ``str``) of a server-side one (with a store, the cookie carries only the signed id; it
    equals ``request.session.id`` in the app). For tests::

        response = client.post("/sign-in", data=form)
        assert read_session(SECRET, response) == {"user_id": 42}
        assert read_session(SECRET, client.cookies["session"]) == {"user_id": 42}

    ``cookie_or_response`` is a cookie value, or a response whose headers have ``get_list``
    (an ``httpx.Response``, which Starlette's and FastAPI's ``TestClient`` return); of a response,
    its last ``Set-Cookie`` for ``cookie_name`` is read.

    Returns ``None`` for a response that deletes the cookie (the session was emptied, or ended
    with ``invalidate()``). Raises ``LookupError`` for a response that does not set the cookie at
    all (it did not change the session, so the browser keeps what it had: read the client's
    cookie instead), and ``ValueError`` saying why for a cookie that does not open under
    ``secret_key`` and ``cookie_name`` (another key, another cookie's name, tampered with, not a
    scsession cookie). The cookie's time stamps are not checked: test expiry through the app,
    with the clock moved (``scsession._clock.now``).
    """
    value: str | None
    if isinstance(cookie_or_response, str):
        value = cookie_or_response
    else:
        value = _cookie_set_by(cookie_or_response, cookie_name)
        if value is None:
            return None
    keys = secrets_of(secret_key)
    try:
        inspected = _core.Sealer(keys, cookie_name, None, None).inspect_cookie(value)
    except ValueError as error:
        raise ValueError(f"the {cookie_name!r} cookie does not open: {error}") from None
    if inspected.data is None:  # a signed id: the data is in the store
        return inspected.id
    return _core.loads(inspected.data)


def _cookie_set_by(response: _Response, cookie_name: str) -> str | None:
    """The value the last ``Set-Cookie`` of `response` for `cookie_name` sets; None if that
    deletes the cookie. LookupError if there is none."""
    headers = getattr(response, "headers", None)
    get_list = getattr(headers, "get_list", None)
    if get_list is None:
        raise TypeError(
            "read_session() takes a cookie value (str) or a response whose headers have "
            f"get_list(), such as an httpx.Response; not {type(response).__name__}"
        )
    found: list[str] = []
    for header in get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == cookie_name:
            found.append(rest)
    if not found:
        raise LookupError(
            f"the response sets no {cookie_name!r} cookie: it did not change the session, so "
            f"the browser keeps the cookie it had (read that one: client.cookies[{cookie_name!r}])"
        )
    value, *attributes = (part.strip() for part in found[-1].split(";"))
    for attribute in attributes:
        name, _, argument = attribute.partition("=")
        number = argument.strip().lstrip("-")
        if name.lower() == "max-age" and number.isdigit() and int(argument) <= 0:
            return None
    return value or None


def _skip(reason: str) -> NoReturn:
    import pytest  # only here, so that the helpers above work without pytest

    pytest.skip(reason)


def _run(store: Any, step: Coroutine[Any, Any, None]) -> None:
    """Runs one check in its own event loop, then the store's optional ``aclose()`` in the same
    loop (so that clients bound to the loop, like redis-py's, can close their connections)."""

    async def check_then_close() -> None:
        try:
            await step
        finally:
            aclose = getattr(store, "aclose", None)
            if aclose is not None:
                await aclose()

    asyncio.run(check_then_close())


class StoreConformance:
    """What every session store must do. Subclass it and define a ``store`` fixture."""

    #: Seconds to wait for a record saved with a 1-second time to live to be gone. Stores that
    #: expire on whole-second ticks (Memcached) need up to 2.
    expiry_wait: ClassVar[float] = 2.2

    # -- the store protocol ----------------------------------------------------------------

    def test_an_unknown_id_loads_none(self, store: SessionStore) -> None:
        async def check() -> None:
            assert await store.load(new_id()) is None

        _run(store, check())

    def test_saved_bytes_load_back_exactly(self, store: SessionStore) -> None:
        every_byte = bytes(range(256)) * 4
        large = os.urandom(64 * 1024)

        async def check() -> None:
            small_id, large_id = new_id(), new_id()
            await store.save(small_id, every_byte, 60)
            await store.save(large_id, large, 60)
            assert await store.load(small_id) == every_byte
            assert await store.load(large_id) == large

        _run(store, check())

    def test_save_replaces_what_is_there(self, store: SessionStore) -> None:
        async def check() -> None:
            sid = new_id()
            await store.save(sid, b"first", 60)
            await store.save(sid, b"second", 60)
            assert await store.load(sid) == b"second"

        _run(store, check())

    def test_delete_removes_and_is_idempotent(self, store: SessionStore) -> None:
        async def check() -> None:
            sid, other = new_id(), new_id()
            await store.save(sid, b"doomed", 60)
            await store.save(other, b"kept", 60)
            await store.delete(sid)
            assert await store.load(sid) is None
            await store.delete(sid)
            await store.delete(new_id())
            assert await store.load(other) == b"kept"

        _run(store, check())

    def test_records_expire_after_their_ttl(self, store: SessionStore) -> None:
        async def check() -> None:
            short, long = new_id(), new_id()
            await store.save(short, b"short", 1)
            await store.save(long, b"long", 60)
            assert await store.load(short) == b"short"
            await asyncio.sleep(self.expiry_wait)
            assert await store.load(short) is None
            assert await store.load(long) == b"long"

        _run(store, check())

    def test_a_long_ttl_is_kept(self, store: SessionStore) -> None:
        # 40 days: Memcached reads expiry times over 30 days as timestamps.
        async def check() -> None:
            sid = new_id()
            await store.save(sid, b"for weeks", 40 * 24 * 3600)
            assert await store.load(sid) == b"for weeks"

        _run(store, check())

    def test_concurrent_calls_do_not_mix_records(self, store: SessionStore) -> None:
        async def check() -> None:
            ids = [new_id() for _ in range(40)]
            await asyncio.gather(*(store.save(i, i.encode(), 60) for i in ids))
            loaded = await asyncio.gather(*(store.load(i) for i in ids))
            assert loaded == [i.encode() for i in ids]

        _run(store, check())

    # -- replace, where the store has it (every built-in store does) -------------------------

    def test_replace_swaps_only_the_record_that_was_loaded(self, store: SessionStore) -> None:
        if not hasattr(store, "replace"):
            _skip("the store has no replace(): see SessionStore for what that costs")
        replace = store.replace

        async def check() -> None:
            sid = new_id()
            first, second, third = (b"\x01" + os.urandom(48) for _ in range(3))
            assert await replace(sid, first, second, 60) == "missing"
            assert await store.load(sid) is None, "replace never inserts"
            await store.save(sid, first, 60)
            assert await replace(sid, second, third, 60) == "stale"
            assert await store.load(sid) == first, "a stale replace changes nothing"
            assert await replace(sid, first, second, 60) == "done"
            assert await store.load(sid) == second
            await store.delete(sid)
            assert await replace(sid, second, third, 60) == "missing"
            assert await store.load(sid) is None, "a deleted record is never written back"

        _run(store, check())

    def test_of_concurrent_replaces_of_one_record_exactly_one_wins(
        self, store: SessionStore
    ) -> None:
        if not hasattr(store, "replace"):
            _skip("the store has no replace(): see SessionStore for what that costs")
        replace = store.replace

        async def check() -> None:
            sid, loaded = new_id(), b"\x01" + os.urandom(48)
            await store.save(sid, loaded, 60)
            candidates = [b"\x01" + os.urandom(48) for _ in range(8)]
            results = await asyncio.gather(*(replace(sid, loaded, c, 60) for c in candidates))
            assert sorted(results) == ["done"] + ["stale"] * 7
            assert await store.load(sid) == candidates[results.index("done")]

        _run(store, check())

    # -- sessions through the middleware ---------------------------------------------------

    def test_a_session_is_saved_and_read_back(self, store: SessionStore) -> None:
        async def check() -> None:
            client = Browser(store)
            assert await client.get("/set?user=ada&n=1") == {"user": "ada", "n": "1"}
            assert await client.get("/") == {"user": "ada", "n": "1"}
            assert await store.load(client.session_id()) is not None
            assert await client.get("/set?n=2") == {"user": "ada", "n": "2"}
            assert await Browser(store).get("/") == {}, "another browser has its own session"
            assert await client.get("/") == {"user": "ada", "n": "2"}

        _run(store, check())

    def test_regenerate_moves_the_data_and_kills_the_old_id(self, store: SessionStore) -> None:
        async def check() -> None:
            client = Browser(store)
            await client.get("/set?cart=3")
            old_cookie, old_id = client.cookie, client.session_id()
            assert await client.get("/regenerate") == {"cart": "3"}
            assert client.session_id() != old_id
            assert await store.load(old_id) is None
            assert await client.get("/") == {"cart": "3"}
            assert await Browser(store, old_cookie).get("/") == {}, "the old id opens nothing"

        _run(store, check())

    def test_invalidate_ends_the_session_for_good(self, store: SessionStore) -> None:
        async def check() -> None:
            client = Browser(store)
            await client.get("/set?user=ada")
            cookie, sid = client.cookie, client.session_id()
            assert await client.get("/invalidate") == {}
            assert client.cookie is None, "the cookie was deleted"
            assert await store.load(sid) is None
            replay = Browser(store, cookie)
            assert await replay.get("/") == {}, "a replayed cookie opens nothing"
            assert await replay.get("/set?x=1") == {"x": "1"}
            assert replay.session_id() != sid, "and is never adopted"

        _run(store, check())

    def test_a_record_that_is_not_a_session_is_a_fresh_session(self, store: SessionStore) -> None:
        async def check() -> None:
            sid = new_id()
            await store.save(sid, b"\x01 not a sealed session record", 60)
            signed = _SEALER.sign_id(sid)
            client = Browser(store, signed)
            assert await client.get("/") == {}
            assert await client.get("/set?a=1") == {"a": "1"}
            assert client.session_id() != sid

        _run(store, check())


class UserIndexConformance:
    """What a store's per-user index must do (log out everywhere). Subclass it and define a
    ``store`` fixture, as for :class:`StoreConformance`."""

    def test_bound_sessions_are_listed_and_invalidate_user_ends_all_but_one(
        self, store: Any
    ) -> None:
        async def check() -> None:
            laptop, phone, tablet, other = (Browser(store) for _ in range(4))
            await laptop.get("/bind?user=ada&agent=Firefox&cart=1")
            await phone.get("/bind?user=ada&agent=Safari%20iOS&cart=2")
            await tablet.get("/bind?user=ada")
            await other.get("/bind?user=bob&cart=9")
            listed = await store.sessions_for_user("ada")
            assert sorted(s.user_agent or "" for s in listed) == ["", "Firefox", "Safari iOS"]
            ids = {b.session_id() for b in (laptop, phone, tablet)}
            assert {s.id_prefix for s in listed} == {i[:8] for i in ids}
            for entry in listed:
                assert len(entry.id_prefix) == 8
                assert 0 < entry.created <= entry.last_seen < entry.expires_at
            (mine,) = [s for s in listed if s.is_session(laptop.session_id())]
            assert mine.user_agent == "Firefox"

            # After a password change on the laptop: every other device is signed out.
            ended = await store.invalidate_user("ada", except_id=laptop.session_id())
            assert ended == 2
            assert await phone.get("/") == {}, "signed out at its next request"
            assert await tablet.get("/") == {}
            assert (await laptop.get("/"))["cart"] == "1"
            assert (await other.get("/"))["cart"] == "9", "another user is untouched"
            (left,) = await store.sessions_for_user("ada")
            assert left.is_session(laptop.session_id())
            assert len(await store.sessions_for_user("bob")) == 1

            assert await store.invalidate_user("ada") == 1
            assert await laptop.get("/") == {}
            assert await store.sessions_for_user("ada") == []

        _run(store, check())

    def test_regenerate_keeps_the_binding_under_the_new_id(self, store: Any) -> None:
        async def check() -> None:
            browser = Browser(store)
            await browser.get("/bind?user=7")
            old_id = browser.session_id()
            await browser.get("/regenerate")
            (entry,) = await store.sessions_for_user(7)  # an int names the same user as "7"
            assert entry.is_session(browser.session_id())
            assert not entry.is_session(old_id)

        _run(store, check())

    def test_signing_out_or_rebinding_leaves_the_listing(self, store: Any) -> None:
        async def check() -> None:
            leaving, switching = Browser(store), Browser(store)
            await leaving.get("/bind?user=ada")
            await switching.get("/bind?user=ada")
            await leaving.get("/invalidate")
            await switching.get("/bind?user=bob")
            assert await store.sessions_for_user("ada") == []
            (entry,) = await store.sessions_for_user("bob")
            assert entry.is_session(switching.session_id())

        _run(store, check())

    def test_a_session_that_is_gone_is_not_listed(self, store: Any) -> None:
        async def check() -> None:
            kept, deleted = Browser(store), Browser(store)
            await kept.get("/bind?user=ada")
            await deleted.get("/bind?user=ada")
            await store.delete(deleted.session_id())  # expired, or deleted by hand
            (entry,) = await store.sessions_for_user("ada")
            assert entry.is_session(kept.session_id())
            assert await store.sessions_for_user("nobody") == []
            assert await store.invalidate_user("nobody") == 0

        _run(store, check())


# -- a tiny app and client, so the suite needs nothing but scsession ---------------------------


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """`/set?k=v` stores strings, `/regenerate`, `/invalidate`, `/bind?user=u[&agent=a]` binds
    the session to user u (other parameters are stored); every page returns the session,
    without the binding."""
    session = scope["session"]
    path = scope["path"]
    query = dict(parse_qsl(scope["query_string"].decode()))
    if path == "/bind":
        session.bind_user(query.pop("user"), user_agent=query.pop("agent", None))
    if path in ("/set", "/bind"):
        for key, value in query.items():
            session[key] = value
    elif path == "/regenerate":
        session.regenerate()
    elif path == "/invalidate":
        session.invalidate()
    body = json.dumps({k: v for k, v in session.items() if k != BOUND_USER_KEY}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Browser:
    """One browser on an ASGI app behind ``SCsessionMiddleware(app, secret_key=SECRET,
    store=store)``: keeps the session cookie between requests. ``app`` defaults to a tiny app
    where ``/set?k=v`` stores strings, ``/regenerate`` and ``/invalidate`` do that, and every page
    answers the session as JSON. ``get`` returns that JSON, or ``{"status": N, "body": text}``
    for a response other than 200 (a 503 while the store is down, say)."""

    def __init__(self, store: SessionStore, cookie: str | None = None, app: Any = None) -> None:
        self.app = SCsessionMiddleware(app or _app, secret_key=SECRET, store=store)
        self.cookie = cookie

    def session_id(self) -> str:
        """The id in the current cookie, whose MAC must verify."""
        assert self.cookie is not None, "no session cookie"
        header = [(b"cookie", f"session={self.cookie}".encode())]
        (session_id,) = self.app._engine.session_ids(header)
        return session_id

    async def get(self, target: str) -> dict[str, Any]:
        path, _, query = target.partition("?")
        headers = [] if self.cookie is None else [(b"cookie", f"session={self.cookie}".encode())]
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query.encode(),
            "headers": headers,
            "scheme": "https",
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        status = sent[0].get("status", 200)
        for name, value in sent[0].get("headers", ()):
            if name == b"set-cookie":
                cookie = value.decode("latin-1").split(";", 1)[0].partition("=")[2]
                self.cookie = cookie or None
                if "Max-Age=0" in value.decode("latin-1"):
                    self.cookie = None
        if status != 200:  # e.g. 503 while the store is down
            return {"status": status, "body": sent[1]["body"].decode()}
        result: dict[str, Any] = json.loads(sent[1]["body"])
        return result
