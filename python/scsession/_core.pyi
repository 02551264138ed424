"""Type stubs of ``scsession._core``, the Rust engine (crates/scsession-python)."""

import os
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, final

from typing_extensions import disjoint_base

__all__ = [
    "Completions",
    "Engine",
    "Event",
    "Expiry",
    "Finished",
    "Finishing",
    "Inspected",
    "MemcachedStore",
    "MemoryStore",
    "Opened",
    "Ready",
    "RedisStore",
    "SQLStore",
    "SaveOp",
    "Sealer",
    "SessionState",
    "SqlStats",
    "Store",
    "UserSession",
    "check_value",
    "dumps",
    "loads",
    "new_session_id",
    "shutdown_runtime",
]

def dumps(data: dict[str, Any]) -> bytes:
    """Serializes session data; ``TypeError`` naming the key for a value it cannot store."""

def check_value(key: object, value: object) -> None:
    """Raises the ``TypeError`` that saving would raise if ``value`` cannot be stored."""

def loads(data: bytes) -> dict[str, Any]:
    """Deserializes session data made by ``dumps``; ``ValueError`` if it is not well-formed."""

def new_session_id() -> str:
    """A new random session id: 128 bits from the OS CSPRNG as 22 base64url characters."""

@final
class Sealer:
    """Seals and opens sessions by hand, for the command line and for tests (requests go
    through ``Engine``)."""

    def __new__(
        cls,
        secrets: Sequence[bytes],
        cookie_name: str,
        max_age: int | None,
        idle_timeout: int | None,
    ) -> Sealer: ...
    def seal_cookie(self, id: str, created: int, now: int, data: bytes) -> str:
        """A cookie value (its size unchecked)."""

    def sign_id(self, id: str) -> str:
        """The cookie value of a server-side session: its id and a MAC."""

    def seal_record(self, id: str, created: int, now: int, data: bytes) -> bytes:
        """The encrypted record a store keeps for a session."""

    def open_record(self, id: str, blob: bytes, now: int) -> dict[str, Any] | None:
        """The data of a valid, unexpired record of ``id``."""

    def inspect_cookie(self, value: str) -> Inspected:
        """Command-line diagnostics, never for requests: what a cookie value holds;
        ``ValueError`` saying exactly why it does not open. Timestamps are not checked."""

    def inspect_record(self, id: str, blob: bytes) -> Inspected:
        """Command-line diagnostics: what a stored record holds; ``ValueError`` saying exactly
        why it does not open."""

    def expires_at(self, created: int, last_seen: int) -> int | None:
        """When the session expires if nothing else happens (unix seconds); ``None`` without
        limits."""

    def why_expired(self, created: int, last_seen: int, now: int) -> Expiry | None:
        """Why the session has expired at ``now``; ``None`` while it lives."""

@final
class Inspected:
    """What a cookie value or a stored record holds (command line): ``kind`` is "sealed" (a
    cookie session), "signed id" (a server-side session's cookie: only ``id`` is set) or
    "record"."""

    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def key_id(self) -> str | None: ...
    @property
    def created(self) -> int | None: ...
    @property
    def last_seen(self) -> int | None: ...
    @property
    def data(self) -> bytes | None: ...

@final
class Expiry:
    """Why a session expired: ``reason`` is "max_age" or "idle_timeout" (``limit`` seconds,
    run out ``at``), or "future" (its timestamp ``at`` lies in the future)."""

    @property
    def reason(self) -> str: ...
    @property
    def limit(self) -> int | None: ...
    @property
    def at(self) -> int: ...

@final
class Engine:
    """An app's sessions: keys, cookie settings and lifetime, checked once. What a request did
    to its session, and what must be written, is decided here."""

    def __new__(
        cls,
        secrets: Sequence[bytes],
        cookie_name: str,
        max_age: int | None,
        idle_timeout: int | None,
        *,
        path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        same_site: str = "lax",
        partitioned: bool = False,
    ) -> Engine: ...
    @property
    def cookie_name(self) -> str: ...
    @property
    def delete_cookie(self) -> bytes:
        """The ``Set-Cookie`` value that deletes the session cookie."""

    def open_cookie(self, headers: Iterable[tuple[bytes, bytes]], now: int) -> Opened:
        """Cookie mode: the session in the ASGI ``headers`` (a new one if none is valid)."""

    def session_ids(self, headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
        """Store mode: the ids in the ASGI ``headers`` worth loading (at most two)."""

    def open_record(self, id: str, blob: bytes, now: int) -> Opened | None:
        """Store mode, a store written in Python: the session in ``blob``; a new session with
        ``expired`` set if it had expired; ``None`` if it is not ours."""

    def new_session(self) -> Opened:
        """A new, empty session."""

    def load(
        self, store: Store, headers: Iterable[tuple[bytes, bytes]], now: int
    ) -> Awaitable[Opened]:
        """Store mode, a built-in store: the session the ASGI ``headers`` point at."""

    def expires_at(self, state: SessionState, data: dict[str, Any]) -> int | None:
        """When the session (its state, and its data now) ends unless used before (unix
        seconds); None for a session not yet written, or one without limits."""
    def finish_cookie(self, state: SessionState, data: dict[str, Any], now: int) -> Finished | None:
        """Cookie mode: what the request did to its session; ``None`` when nothing is to be
        written or sent. ``SessionTooLargeError`` past the browsers' 4096 bytes."""

    def finishing(
        self, state: SessionState, data: dict[str, Any], now: int, indexed: bool
    ) -> Finishing | None:
        """Store mode: the save as a ``Finishing``; ``None`` when nothing is to be written."""

@final
class SessionState:
    """One request's session: what it was loaded as, and whether it was regenerated or ended."""

    def __new__(cls) -> SessionState: ...
    @staticmethod
    def unreadable(engine: Engine, id: str, now: int) -> SessionState:
        """A session whose record could not be read (the store is down): never written, but
        ``invalidate()`` still ends it."""
    @property
    def id(self) -> str | None: ...
    @property
    def created(self) -> int | None:
        """When the session was created (unix seconds); None until it is first written."""
    @property
    def loaded_id(self) -> str | None: ...
    @property
    def retired_id(self) -> str | None: ...
    @property
    def is_loaded_as_is(self) -> bool: ...
    def regenerate(self) -> None: ...
    def invalidate(self) -> None: ...

@final
class Opened:
    """What a request came with: its session's state and data, and the id of a session of
    ours that had expired."""

    @property
    def state(self) -> SessionState: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def expired(self) -> str | None: ...

@final
class Finished:
    """How finishing a request's session ended."""

    @property
    def set_cookie(self) -> bytes | None:
        """The ``Set-Cookie`` header value to send, or ``None``."""
    @property
    def outcome(self) -> str:
        """``"unchanged"``, ``"refreshed"``, ``"created"``, ``"modified"``,
        ``"regenerated"``, ``"invalidated"`` or ``"ended_elsewhere"``."""
    def events(self) -> list[Event]:
        """The events of this outcome, in the order they happened."""

@final
class Event:
    """One thing that happened to a session (see ``SessionEvent``)."""

    @staticmethod
    def expired(session_id: str) -> Event: ...
    @property
    def kind(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def previous_id(self) -> str | None: ...
    @property
    def changed(self) -> list[str]: ...

@final
class Finishing:
    """A store-mode save in progress: ``run(store)`` for a built-in store; for a store
    written in Python, perform each ``SaveOp`` that ``next(reply)`` asks for."""

    @property
    def lock_id(self) -> str | None:
        """The session id whose saves must not overlap in this process, if any."""
    def run(self, store: Store) -> Awaitable[Finished]: ...
    def next(self, reply: object = None) -> SaveOp | Finished: ...

@final
class SaveOp:
    """What a ``Finishing`` asks of a store written in Python: ``kind`` is "save",
    "replace", "load", "delete" or "pause"."""

    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> str | None: ...
    @property
    def expected(self) -> bytes | None: ...
    @property
    def blob(self) -> bytes | None: ...
    @property
    def ttl(self) -> int: ...
    @property
    def delay(self) -> float: ...

@final
class UserSession:
    """One of a user's sessions, from ``store.sessions_for_user(user_id)``; times are unix
    seconds."""

    @property
    def id_prefix(self) -> str:
        """The first 8 characters of the session id: enough to tell sessions apart, not an id."""
    @property
    def created(self) -> int: ...
    @property
    def last_seen(self) -> int:
        """When the session was last written (a change, or its idle deadline pushed back)."""
    @property
    def expires_at(self) -> int: ...
    @property
    def user_agent(self) -> str | None:
        """What the app passed to ``bind_user(..., user_agent=...)``."""
    def is_session(self, session_id: str | None) -> bool:
        """Whether this is the session ``session_id`` (e.g. ``request.session.id``)."""

@disjoint_base
class Store:
    """What every built-in store has: the store contract and the per-user index."""

    def load(self, id: str) -> Awaitable[bytes | None]:
        """The record under ``id``, or None."""

    def save(self, id: str, data: bytes, ttl_seconds: int) -> Awaitable[None]:
        """Stores ``data`` under ``id`` for ``ttl_seconds`` (insert or replace)."""

    def replace(self, id: str, expected: bytes, data: bytes, ttl_seconds: int) -> Awaitable[str]:
        """Replaces the record under ``id`` with ``data`` only if it is still ``expected`` (as
        loaded); resolves to "done", "stale" (another write came first) or "missing"."""

    def delete(self, id: str) -> Awaitable[None]:
        """Removes ``id``; no error if it is not there."""

    def sessions_for_user(self, user_id: str | int) -> Awaitable[list[UserSession]]:
        """Resolves to the live sessions of ``user_id``, most recently seen first."""

    def invalidate_user(self, user_id: str | int, except_id: str | None = None) -> Awaitable[int]:
        """Ends every session of ``user_id`` but ``except_id``; resolves to how many."""

    def use_secret_key(self, secret_key: str | bytes | Sequence[str | bytes]) -> None:
        """Keys the per-user index by ``secret_key`` (the middleware's; it calls this itself
        when it starts)."""

@final
class MemoryStore(Store):
    """Sessions in this process's memory, each expiring with its session. For development,
    tests and single-process apps: lost on restart and not shared between workers."""

    def __new__(cls) -> MemoryStore: ...
    def __len__(self) -> int:
        """How many sessions are stored (expired ones may linger until swept)."""

@final
class RedisStore(Store):
    """Sessions in Redis, or in a Redis Cluster with ``cluster=True``."""

    def __new__(
        cls,
        url: str,
        *,
        cluster: bool = False,
        prefix: str = "scsession:",
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
        tls_ca_file: str | os.PathLike[str] | None = None,
    ) -> RedisStore: ...
    def count(self) -> Awaitable[int]:
        """Resolves to how many live sessions the store holds (a SCAN: for tools)."""

@final
class MemcachedStore(Store):
    """Sessions in Memcached."""

    def __new__(
        cls,
        url: str,
        *,
        prefix: str = "scsession:",
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
    ) -> MemcachedStore: ...
    def count(self) -> Awaitable[int]:
        """Resolves to about how many live sessions the store holds (the LRU crawler)."""

@final
class SQLStore(Store):
    """Sessions in PostgreSQL, MySQL/MariaDB or SQLite."""

    def __new__(
        cls,
        url: str,
        *,
        table: str = "scsession_sessions",
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
    ) -> SQLStore: ...
    def count(self) -> Awaitable[int]:
        """Resolves to how many live sessions the table holds (a ``COUNT``)."""
    def purge_expired(self) -> Awaitable[int]:
        """Deletes expired sessions; resolves to how many."""

    def stats(self) -> Awaitable[SqlStats]:
        """Resolves to the rows of live and of expired sessions and the table's size."""

@final
class SqlStats:
    """What ``SQLStore.stats()`` finds."""

    @property
    def live(self) -> int: ...
    @property
    def expired(self) -> int: ...
    @property
    def table_bytes(self) -> int:
        """Bytes the table and its indexes take."""

@final
class Ready:
    """A coroutine that is already done (a memory store's call)."""

    def __await__(self) -> Any: ...
    def __iter__(self) -> Ready: ...
    def __next__(self) -> Any: ...
    def send(self, _value: object = None) -> Any: ...
    def throw(self, kind: Any, value: object = None, _traceback: object = None) -> Any: ...
    def close(self) -> None: ...

@final
class Completions:
    """Results of store calls, handed to one event loop (internal: see runtime.rs)."""

    def drain(self) -> None:
        """Sets the futures of every finished call (the loop's reader callback)."""

def shutdown_runtime() -> None:
    """Stops the I/O threads (at interpreter exit)."""
