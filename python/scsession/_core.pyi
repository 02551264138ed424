"""Type stubs of ``scsession._core``, the Rust engine (crates/scsession-python)."""

import os
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, final

__all__ = [
    "Completions",
    "MemcachedStore",
    "MemoryStore",
    "RedisStore",
    "SQLStore",
    "SaveOp",
    "Saving",
    "Sealer",
    "UserSession",
    "changed_keys",
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

def changed_keys(before: bytes, after: bytes) -> list[str]:
    """The top-level keys set or removed between two encoded sessions."""

def loads(data: bytes) -> dict[str, Any]:
    """Deserializes session data made by ``dumps``; ``ValueError`` if it is not well-formed."""

def new_session_id() -> str:
    """A new random session id: 128 bits from the OS CSPRNG as 22 base64url characters."""

@final
class Sealer:
    """Seals and opens sessions under a key ring, for one cookie name and lifetime policy."""

    def __new__(
        cls,
        secrets: Sequence[bytes],
        cookie_name: str,
        max_age: int | None,
        idle_timeout: int | None,
    ) -> Sealer: ...
    def open_cookie(
        self, headers: Iterable[tuple[bytes, bytes]], now: int
    ) -> tuple[str, int, int, bytes, dict[str, Any]] | None:
        """``(id, created, last_seen, data_bytes, data)`` of the first valid, unexpired cookie
        of ours in the ASGI ``headers``."""

    def seal_cookie(self, id: str, created: int, now: int, data: bytes) -> str:
        """A cookie value; ``SessionTooLargeError`` past 4096 bytes with the name."""

    def sign_id(self, id: str) -> str:
        """The cookie value of a server-side session: its id and a MAC."""

    def session_ids(self, headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
        """The ids in our server-side session cookies in the ASGI ``headers`` whose MAC
        verifies, in the order the browser sent them."""

    def seal_record(self, id: str, created: int, now: int, data: bytes) -> bytes:
        """The encrypted record a store keeps for a session."""

    def expired_cookie(self, headers: Iterable[tuple[bytes, bytes]], now: int) -> str | None:
        """The id of the first cookie of ours that opens but whose session has expired."""

    def expired_record(self, id: str, blob: bytes, now: int) -> bool:
        """Whether ``blob`` is a record of ``id`` that opens but whose session has expired."""

    def open_record(
        self, id: str, blob: bytes, now: int
    ) -> tuple[int, int, bytes, dict[str, Any]] | None:
        """``(created, last_seen, data_bytes, data)`` of a valid, unexpired record of ``id``."""

    def needs_refresh(self, last_seen: int, now: int) -> bool:
        """Whether an unchanged session must be rewritten to keep its idle deadline."""

    def store_ttl(self, created: int, now: int) -> int:
        """Seconds a store should keep a session written now."""

    def remaining(self, created: int, last_seen: int, now: int) -> int | None:
        """Seconds until the session ends if nothing else happens; ``None`` without limits."""

    def inspect_cookie(
        self, value: str
    ) -> tuple[str, str, str | None, int | None, int | None, bytes | None]:
        """Command-line diagnostics, never for requests: ``(kind, id, key_id, created,
        last_seen, data_bytes)`` with kind ``"sealed"``, or ``"signed id"`` and four ``None``;
        ``ValueError`` saying exactly why the value does not open. Timestamps are not checked."""

    def inspect_record(self, id: str, blob: bytes) -> tuple[str, int, int, bytes]:
        """Command-line diagnostics: ``(key_id, created, last_seen, data_bytes)`` of a stored
        record; ``ValueError`` saying exactly why it does not open."""

    def expires_at(self, created: int, last_seen: int) -> int | None:
        """When the session expires if nothing else happens (unix seconds); ``None`` without
        limits."""

    def why_expired(
        self, created: int, last_seen: int, now: int
    ) -> tuple[str, int | None, int] | None:
        """Why the session has expired at ``now``: ``("max_age" | "idle_timeout", seconds,
        at)`` or ``("future", None, timestamp)``; ``None`` while it lives."""

@final
class MemoryStore:
    """Sealed session records in process memory, each expiring after its ttl."""

    def __new__(cls) -> MemoryStore: ...
    def load(self, id: str) -> bytes | None: ...
    def save(self, id: str, data: bytes, ttl_seconds: int) -> None: ...
    def replace(self, id: str, expected: bytes, data: bytes, ttl_seconds: int) -> str:
        """Replaces the record only if it is still ``expected``: "done", "stale" or "missing"."""
    def commit(
        self,
        sealer: Sealer,
        id: str,
        created: int,
        now: int,
        data: bytes,
        base: bytes | None,
        base_data: bytes | None,
        previous: str | None = None,
        user_id: str | int | None = None,
        user_agent: str | None = None,
    ) -> bool: ...
    def delete(self, id: str) -> None: ...
    def use_secret_key(self, secret_key: str | bytes | Sequence[str | bytes]) -> None:
        """Keys the per-user index by ``secret_key`` (the middleware's)."""
    def bind(
        self,
        user_id: str | int,
        id: str,
        created: int,
        now: int,
        ttl_seconds: int,
        user_agent: str | None,
    ) -> None: ...
    def unbind(self, user_id: str | int, ids: list[str]) -> None: ...
    def sessions_for_user(self, user_id: str | int) -> list[UserSession]: ...
    def invalidate_user(self, user_id: str | int, except_id: str | None = None) -> int: ...
    def __len__(self) -> int: ...

@final
class Saving:
    """One save of a session against a store written in Python with ``replace``: the core's
    algorithm, step by step (see ``scsession._saving.save_with_replace``)."""

    def __new__(
        cls,
        sealer: Sealer,
        id: str,
        created: int,
        now: int,
        data: bytes,
        base: bytes | None,
        base_data: bytes | None,
        previous: str | None = None,
    ) -> Saving: ...
    def next(self, reply: object = None) -> SaveOp:
        """The next operation, given what the store returned for the last one."""

@final
class SaveOp:
    """What a ``Saving`` asks for: ``kind`` is "save", "replace", "load", "delete" or "pause",
    or "saved" / "gone" when the save is over."""

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

class _NetworkStore:
    """What every networked store has (not a runtime class: stubs only)."""

    def load(self, id: str) -> Awaitable[bytes | None]:
        """The record under ``id``, or None."""

    def save(self, id: str, data: bytes, ttl_seconds: int) -> Awaitable[None]:
        """Stores ``data`` under ``id`` for ``ttl_seconds`` (insert or replace)."""

    def delete(self, id: str) -> Awaitable[None]:
        """Removes ``id``; no error if it is not there."""

    def replace(self, id: str, expected: bytes, data: bytes, ttl_seconds: int) -> Awaitable[str]:
        """Replaces the record under ``id`` with ``data`` only if it is still ``expected`` (as
        loaded); resolves to "done", "stale" (another write came first) or "missing"."""

    def use_secret_key(self, secret_key: str | bytes | Sequence[str | bytes]) -> None:
        """Keys the per-user index by ``secret_key`` (the middleware's; it calls this itself at
        the app's first request)."""

    def count(self) -> Awaitable[int]:
        """Resolves to how many live sessions the store holds, for tools, not requests: a SCAN
        of every key (Redis), about as many as the LRU crawler lists (Memcached), a ``COUNT``
        (SQL)."""

    def _commit(
        self,
        sealer: Sealer,
        id: str,
        created: int,
        now: int,
        data: bytes,
        base: bytes | None,
        base_data: bytes | None,
        previous: str | None = None,
        user_id: str | int | None = None,
        user_agent: str | None = None,
    ) -> Awaitable[bool]:
        """Saves a session without losing concurrent changes; False if it ended meanwhile.
        With ``user_id``, the session's entry in that user's index is written too."""

    def _bind(
        self,
        user_id: str | int,
        id: str,
        created: int,
        now: int,
        ttl_seconds: int,
        user_agent: str | None,
    ) -> Awaitable[None]:
        """Records session ``id`` in the index of ``user_id`` (see ``Session.bind_user``)."""

    def _unbind(self, user_id: str | int, ids: list[str]) -> Awaitable[None]:
        """Removes sessions ``ids`` from the index of ``user_id``."""

    def sessions_for_user(self, user_id: str | int) -> Awaitable[list[UserSession]]:
        """Resolves to the live sessions of ``user_id``, most recently seen first."""

    def invalidate_user(self, user_id: str | int, except_id: str | None = None) -> Awaitable[int]:
        """Ends every session of ``user_id`` but ``except_id``; resolves to how many."""

@final
class RedisStore(_NetworkStore):
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

@final
class MemcachedStore(_NetworkStore):
    """Sessions in Memcached."""

    def __new__(
        cls,
        url: str,
        *,
        prefix: str = "scsession:",
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
    ) -> MemcachedStore: ...

@final
class SQLStore(_NetworkStore):
    """Sessions in PostgreSQL, MySQL/MariaDB or SQLite."""

    def __new__(
        cls,
        url: str,
        *,
        table: str = "scsession_sessions",
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
    ) -> SQLStore: ...
    def purge_expired(self) -> Awaitable[int]:
        """Deletes expired sessions; resolves to how many."""

    def stats(self) -> Awaitable[tuple[int, int, int]]:
        """Resolves to ``(live, expired, table_bytes)``: rows of live and of expired sessions,
        and the bytes the table and its indexes take."""

@final
class Completions:
    """Results of store calls, handed to one event loop (internal: see runtime.rs)."""

    def drain(self) -> None:
        """Sets the futures of every finished call (the loop's reader callback)."""

def shutdown_runtime() -> None:
    """Stops the I/O threads (at interpreter exit)."""
