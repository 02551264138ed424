"""Moving signed-in users over from Starlette's ``SessionMiddleware`` or from starsessions.

``SCsessionMiddleware(..., migrate_from=StarletteCookie(secret_key=OLD_SECRET))`` (or
``StarsessionsRedis(url)``): a request that carries no valid scsession session but a valid old
one opens with the old session's data as a new scsession session; the response seals it in
scsession's form (cookie or store, under a new id) and removes the old cookie, and the old
store's record is deleted once the new session is saved. Anything about the old session that
does not check out (a forged, tampered, expired or unreadable cookie, a missing record, data
scsession cannot store) is a fresh session, never an error.

When it happens:

- cookie mode, :class:`StarletteCookie`: lazily, like every cookie session: at the handler's
  first use of the session. A request whose handler never touches the session changes nothing,
  and the migration happens on a later request that does.
- store mode, and :class:`StarsessionsRedis` in cookie mode: before the handler, on every
  request that carries the old cookie; a migrated session is saved whether or not the handler
  touches it, so a user is never left half-way.

The old cookie is removed only by a response that wrote the new session (or that ended it: a
sign-out on the very request that migrated it), so a response that saves nothing never leaves a
user with neither cookie. When the old cookie has the same name, Path and Domain as scsession's
(Starlette's and scsession's default, ``"session"`` on ``/``), the new session's ``Set-Cookie``
replaces it and no second header for that name is sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from scsession import _clock, _core
from scsession._deferred import Deferred
from scsession.exceptions import SessionTooLargeError, StoreUnavailableError
from scsession.session import staged

if TYPE_CHECKING:
    from scsession.session import Session

__all__ = ["SessionSource", "StarletteCookie", "StarsessionsRedis"]

logger = logging.getLogger("scsession")

Headers = Iterable[tuple[bytes, bytes]]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

#: Browsers keep at most 4096 bytes of a cookie: an old cookie value longer than this was not
#: made by the old middleware, and is refused before any decoding.
MAX_OLD_COOKIE = 4096
_HEADER_MESSAGES = frozenset(("http.response.start", "websocket.accept"))
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


@runtime_checkable
class SessionSource(Protocol):
    """What ``migrate_from`` takes: where old sessions come from. :class:`StarletteCookie` and
    :class:`StarsessionsRedis` are the two there are; another old middleware could be added by
    writing the same members.

    The old cookie is the one named ``cookie_name`` (on ``cookie_path`` and ``cookie_domain``,
    which the response that removes it repeats). Its value is handed to ``open`` and
    ``retire`` as sent.
    """

    @property
    def cookie_name(self) -> str: ...
    @property
    def cookie_path(self) -> str: ...
    @property
    def cookie_domain(self) -> str | None: ...
    @property
    def needs_io(self) -> bool:
        """Whether ``open`` does I/O (returns an awaitable); if not, cookie sessions stay lazy."""
        ...

    def open(
        self, value: str, now: int
    ) -> dict[str, Any] | Awaitable[dict[str, Any] | None] | None:
        """The old session's data (a non-empty dict of values scsession can store), or None for
        no usable session. A source that needs no I/O returns the dict itself (then cookie
        sessions can stay lazy); one that needs I/O returns an awaitable, and raises
        ``StoreUnavailableError`` when its store does not answer."""
        ...

    def retire(self, value: str) -> Awaitable[None]:
        """Called once the session of ``value`` lives on in scsession (or was ended): makes
        ``value`` worthless (deletes its record), or does nothing if it cannot (a cookie)."""
        ...


# --- Starlette's SessionMiddleware ---------------------------------------------------------------


def _b64url(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


class StarletteCookie:
    """Sessions of ``starlette.middleware.sessions.SessionMiddleware``: a signed cookie
    (itsdangerous ``TimestampSigner``: HMAC-SHA1 under a key derived from ``secret_key``) holding
    the session as base64 JSON. Checked here with ``hmac``; itsdangerous is not needed.

    Args:
        secret_key: the ``secret_key`` the old middleware was given (``str(secret)`` for a
            Starlette ``Secret``).
        cookie_name: its ``session_cookie``.
        max_age: its ``max_age``: a cookie signed longer ago than this is refused (None: no
            limit), as Starlette does, from the time signed into the cookie.
        path, domain: its ``path`` and ``domain``, repeated when the old cookie is removed.
    """

    __slots__ = ("_key", "cookie_domain", "cookie_name", "cookie_path", "max_age")

    #: ``open`` answers at once: cookie sessions stay lazy.
    needs_io = False

    def __init__(
        self,
        secret_key: str | bytes,
        *,
        cookie_name: str = "session",
        max_age: int | None = 1209600,
        path: str = "/",
        domain: str | None = None,
    ) -> None:
        if not isinstance(secret_key, str | bytes) or not secret_key:
            raise TypeError("secret_key must be the old middleware's secret key (a str)")
        secret = secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)
        # itsdangerous' defaults: salt "itsdangerous.Signer", key derivation "django-concat".
        self._key = hashlib.sha1(b"itsdangerous.Signer" + b"signer" + secret).digest()
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.cookie_path = path
        self.cookie_domain = domain

    def __repr__(self) -> str:
        return f"StarletteCookie(cookie_name={self.cookie_name!r}, max_age={self.max_age!r})"

    def open(self, value: str, now: int) -> dict[str, Any] | None:
        """The session data in a cookie value Starlette signed with this key no longer than
        ``max_age`` ago, or None."""
        if len(value) > MAX_OLD_COOKIE or not value.isascii():
            return None
        signed, dot, signature = value.encode().rpartition(b".")
        if not dot:
            return None
        expected = _b64url(hmac.new(self._key, signed, hashlib.sha1).digest())
        if not hmac.compare_digest(signature, expected):
            return None
        payload, dot, stamp = signed.rpartition(b".")
        if not dot:
            return None
        try:
            signed_at = int.from_bytes(base64.urlsafe_b64decode(stamp + b"=" * (-len(stamp) % 4)))
        except (ValueError, binascii.Error):
            return None
        if self.max_age is not None and not 0 <= now - signed_at <= self.max_age:
            return None  # expired (or signed in the future, which itsdangerous refuses too)
        try:
            data = json.loads(base64.b64decode(payload))
        except (ValueError, RecursionError):  # binascii.Error and JSON errors are ValueErrors
            return None
        return _storable(data, self)

    async def retire(self, value: str) -> None:
        """Nothing: a signed cookie cannot be revoked. It stops working when it expires, or
        when ``migrate_from`` is removed."""


def _storable(data: object, source: object) -> dict[str, Any] | None:
    """`data` if it is a non-empty dict whose values scsession can store, else None (a
    warning names the key and the source; never the value)."""
    if not isinstance(data, dict) or not data:
        return None
    for key, value in data.items():
        try:
            _core.check_value(key, value)
        except (TypeError, ValueError) as error:
            logger.warning("scsession: an old session from %r was not migrated: %s", source, error)
            return None
    return data


# --- starsessions' RedisStore --------------------------------------------------------------------

#: The ids starsessions makes (``secrets.token_hex(16)``); anything else never reaches Redis.
_STARSESSIONS_ID = re.compile(r"[0-9a-f]{32}")
#: Where starsessions keeps its own bookkeeping in the record: not user data.
_STARSESSIONS_METADATA = "__metadata__"


class StarsessionsRedis:
    """Sessions of starsessions 2.x (``starsessions.SessionMiddleware`` with
    ``starsessions.stores.redis.RedisStore`` and its default ``JsonSerializer``): the cookie
    holds the session id, Redis holds the session's JSON under ``prefix + id`` (with
    starsessions' ``__metadata__`` entry, which is not migrated). Redis' own expiry of the
    record is the old session's lifetime. Reads with ``redis.asyncio`` (``pip install redis``).

    Only ids starsessions itself makes (32 lowercase hex characters) are looked up. A record
    is deleted once its session was saved in scsession (or ended on that request), so the old
    cookie cannot be replayed. Each migration opens its own short connection (a user migrates
    once), so there is no pool to close and no event loop to belong to.

    Args:
        url: the old store's Redis, e.g. ``"redis://localhost:6379/0"``.
        prefix: the ``RedisStore``'s ``prefix`` (a string).
        cookie_name, cookie_path, cookie_domain: the old ``SessionMiddleware``'s (its
            ``cookie_path=None`` is ``"/"``).
        connect_timeout, timeout: seconds to wait for a connection, and for an answer.
    """

    __slots__ = (
        "_down",
        "_where",
        "connect_timeout",
        "cookie_domain",
        "cookie_name",
        "cookie_path",
        "prefix",
        "timeout",
        "url",
    )

    #: ``open`` reads Redis: it runs before the handler.
    needs_io = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "starsessions.",
        cookie_name: str = "session",
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401 (checked at startup, used at each migration)
        except ImportError as error:
            raise ImportError(
                "StarsessionsRedis reads the old sessions with redis-py: pip install redis"
            ) from error
        self.url = url
        self.prefix = prefix
        self.cookie_name = cookie_name
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        # host:port/db only: a password in the URL is never shown.
        self._where = url.rpartition("@")[2].rpartition("://")[2]
        self._down = False  # logged once per outage

    def __repr__(self) -> str:
        return f"StarsessionsRedis({self._where!r}, prefix={self.prefix!r})"

    def _connect(self) -> Any:
        import redis.asyncio

        return redis.asyncio.Redis.from_url(
            self.url, socket_connect_timeout=self.connect_timeout, socket_timeout=self.timeout
        )

    def open(self, value: str, now: int) -> Awaitable[dict[str, Any] | None]:
        """The data of the session whose id is ``value`` (its cookie's value), or None."""
        return self._load(value)

    async def _load(self, value: str) -> dict[str, Any] | None:
        if _STARSESSIONS_ID.fullmatch(value) is None:
            return None
        import redis.exceptions

        try:
            async with self._connect() as client:
                raw = await client.get(self.prefix + value)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            if not self._down:
                self._down = True
                logger.error(
                    "scsession: %r is unavailable (%s); requests that would migrate a session "
                    "meet the middleware's on_store_error until it answers (logged once)",
                    self,
                    type(error).__name__,
                )
            raise StoreUnavailableError(
                f"the old sessions' store {self!r} is unavailable ({type(error).__name__})"
            ) from error
        except redis.exceptions.RedisError:
            logger.warning("scsession: %r could not read an old session", self, exc_info=True)
            return None
        self._down = False
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if isinstance(data, dict):
            data.pop(_STARSESSIONS_METADATA, None)
        return _storable(data, self)

    async def retire(self, value: str) -> None:
        """Deletes the old record (a failure is logged: the record then lives until Redis
        expires it)."""
        if _STARSESSIONS_ID.fullmatch(value) is None:
            return
        try:
            async with self._connect() as client:
                await client.delete(self.prefix + value)
        except Exception:
            logger.warning("scsession: %r could not delete a migrated session", self, exc_info=True)


# --- what the middleware runs --------------------------------------------------------------------


class _Migrated(NamedTuple):
    """What a migrated cookie session opens as: a new session holding the old data."""

    state: _core.SessionState
    data: dict[str, Any]
    expired: str | None


class Migrator:
    """``SCsessionMiddleware(migrate_from=...)``'s side of a migration: made once per
    middleware; :meth:`begin` runs for each request while migration is configured."""

    __slots__ = (
        "_delete",
        "_engine",
        "_lazy",
        "_marker",
        "_name",
        "_new_marker",
        "_same",
        "cookie_mode",
        "source",
    )

    def __init__(
        self,
        source: SessionSource,
        engine: _core.Engine,
        *,
        cookie_mode: bool,
        path: str,
        domain: str | None,
        secure: bool,
        same_site: str,
    ) -> None:
        if not isinstance(source, SessionSource):
            raise TypeError(
                "migrate_from must be a scsession.migrate.StarletteCookie or StarsessionsRedis"
            )
        self.source = source
        self._engine = engine
        self.cookie_mode = cookie_mode
        self._name = source.cookie_name.encode("latin-1")
        self._marker = self._name + b"="
        self._new_marker = engine.cookie_name.encode("latin-1") + b"="
        # One cookie for the browser: the new session's Set-Cookie replaces the old one.
        self._same = (source.cookie_name, source.cookie_path, source.cookie_domain) == (
            engine.cookie_name,
            path,
            domain,
        )
        attributes = [
            f"{source.cookie_name}=",
            f"Path={source.cookie_path}",
            "Max-Age=0",
            f"Expires={_EPOCH}",
            "HttpOnly",
        ]
        if source.cookie_domain is not None:
            attributes.append(f"Domain={source.cookie_domain}")
        if secure:
            attributes.append("Secure")
        attributes.append(f"SameSite={same_site.capitalize()}")
        self._delete = "; ".join(attributes).encode("latin-1")
        # Cookie mode with a source without I/O: the old cookie opens at the session's first use.
        self._lazy = cookie_mode and not source.needs_io

    def _old_value(self, headers: Headers) -> str | None:
        for key, value in headers:
            if key == b"cookie" and self._marker in value:
                for pair in value.split(b";"):
                    name, eq, old = pair.strip().partition(b"=")
                    if eq and name == self._name:
                        return old.strip().strip(b'"').decode("latin-1")
        return None

    async def begin(self, session: Session, headers: Headers, send: Send) -> Send:
        """Looks at a request before its handler: without the old cookie, returns `send` as it
        is; else prepares the session (now, or at its first use) and returns the `send` that
        removes the old cookie and retires the old session once the new one was written."""
        value = self._old_value(headers)
        if value is None:
            return send
        if isinstance(session._loader, Deferred):
            # load="on_demand": a request that carries the old cookie is migrated as it comes
            # in, like with load="eager"; requests without it still load nothing.
            await session._loader.load()
        request = _Request(self, session, value, send)
        if self._lazy:
            request.wrap_loader()
        else:
            await request.migrate_now()
        return request.send


class _Request:
    """One request that carries the old cookie."""

    __slots__ = ("_migrator", "_send", "_session", "_value", "migrated", "old_is_dead")

    def __init__(self, migrator: Migrator, session: Session, value: str, send: Send) -> None:
        self._migrator = migrator
        self._session = session
        self._value = value
        self._send = send
        #: The session holds the old data.
        self.migrated = False
        #: What is known of the old cookie: dead (not migrated: it did not open, or a valid
        #: scsession session came along), or nothing yet (a lazy session never opened).
        self.old_is_dead = False

    def wrap_loader(self) -> None:
        """Cookie mode, a source without I/O: the old cookie is opened at the session's first
        use, and only if scsession's own cookie does not open."""
        session, loader = self._session, self._session._loader
        assert loader is not None
        source = self._migrator.source

        def open_or_migrate(headers: Any) -> Any:
            opened = loader(headers)
            if opened.state.id is not None:
                self.old_is_dead = True
                return opened
            data = source.open(self._value, _clock.now())
            assert not isinstance(data, Awaitable), "a source without I/O returns its data"
            if data is None or not self._fits(data):
                self.old_is_dead = True
                return opened
            self.migrated = True
            return _Migrated(opened.state, data, opened.expired)

        session._loader = open_or_migrate

    def _fits(self, data: dict[str, Any]) -> bool:
        """Whether `data` fits in scsession's cookie (cookie mode: one trial seal, once per
        migrated user); a larger old session is not migrated."""
        if not self._migrator.cookie_mode:
            return True
        try:
            self._migrator._engine.finish_cookie(_core.SessionState(), data, _clock.now())
        except SessionTooLargeError:
            logger.warning(
                "scsession: an old session from %r is too large for a cookie; not migrated",
                self._migrator.source,
            )
            return False
        return True

    async def migrate_now(self) -> None:
        """Before the handler: opens the scsession session (store mode: it was fetched already)
        without counting it as used and, if it is not valid, the old one. A migrated session
        counts as used, so it is saved whether or not the handler touches it."""
        session = self._session
        loader = session._loader
        assert loader is not None
        opened = loader(session._source)
        session._loader, session._source = staged, opened  # still unused: opened once only
        if opened.state.id is not None:
            self.old_is_dead = True  # a valid scsession session: the old one is left behind
            return
        found = self._migrator.source.open(self._value, _clock.now())
        data = await found if isinstance(found, Awaitable) else found
        if data is None or not self._fits(data):
            self.old_is_dead = True
            return
        self.migrated = True
        session._source = _Migrated(opened.state, data, opened.expired)
        session._load()

    def send(self, message: Message) -> Awaitable[None]:
        if message["type"] not in _HEADER_MESSAGES:
            return self._send(message)
        return self._finish(message)

    async def _finish(self, message: Message) -> None:
        """The response starts, with scsession's Set-Cookie (if any) already added."""
        migrator, session = self._migrator, self._session
        if self.migrated:
            headers = message.get("headers", ())
            written = any(
                key == b"set-cookie"
                and value.startswith(migrator._new_marker)
                and b"Max-Age=0" not in value
                for key, value in headers
            )
            ended = session._loader is None and not dict.__len__(session)
            if written or ended:
                # The new session is saved (or was signed out): the old one must not come back.
                await migrator.source.retire(self._value)
                if ended or not migrator._same:
                    message = _with_header(message, migrator._delete)
        elif self.old_is_dead and not migrator._same:
            await migrator.source.retire(self._value)
            message = _with_header(message, migrator._delete)
        await self._send(message)


def _with_header(message: Message, set_cookie: bytes) -> Message:
    return {**message, "headers": [*message.get("headers", ()), (b"set-cookie", set_cookie)]}
