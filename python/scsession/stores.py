"""Where server-side sessions live.

A store keeps opaque, already encrypted records by session id; it never sees session data in
the clear. Anything with the three async methods of :class:`SessionStore` is a store.
"""

from __future__ import annotations

import atexit
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol, TypeVar, runtime_checkable

from scsession import _core
from scsession._core import MemcachedStore, RedisStore, SQLStore, UserSession

__all__ = [
    "MemcachedStore",
    "MemoryStore",
    "RedisStore",
    "SQLStore",
    "SessionStore",
    "UserSession",
]

T = TypeVar("T")


async def _deferred(start: Callable[[], Awaitable[T]]) -> T:
    """What a networked store's method returns when called outside a running event loop (as in
    ``asyncio.run(store.count())``): a coroutine that starts the I/O once awaited."""
    return await start()


# Networked stores do their I/O on Rust threads. Those must be stopped before the interpreter
# finalizes, or one of them can crash the process on its way out (pyo3-async-runtimes issue 40).
atexit.register(_core.shutdown_runtime)


@runtime_checkable
class SessionStore(Protocol):
    """What the middleware needs of a store. Ids are 22 base64url characters.

    A store should also define ``async replace(id, expected, data, ttl_seconds) -> str``:
    replace the record of ``id`` with ``data`` only if what is stored is still ``expected`` (the
    bytes ``load`` returned), in one atomic step, and never insert. It returns ``"done"``,
    ``"stale"`` (another write came first; nothing changed) or ``"missing"`` (no record: nothing
    written). With it the middleware gives the store the guarantees of the built-in ones: two
    requests changing one session both keep their changes, a slow request never writes back a
    session that was signed out, and ``regenerate()`` never undoes a sign-out. Every built-in
    store has it. A store without it may define ``async update(id, data, ttl_seconds) -> bool``
    (replace only if present: a sign-out still sticks, but of two overlapping requests the later
    save wins whole); with neither, a slow request can bring a signed-out session back.

    Every built-in store also keeps a per-user index: ``await store.sessions_for_user(user_id)``
    and ``await store.invalidate_user(user_id, except_id=None)`` (see ``Session.bind_user``).
    """

    # Plain `def`s returning awaitables, so that both `async def` methods and the Rust stores'
    # methods (which return asyncio futures) satisfy the protocol.
    def load(self, id: str) -> Awaitable[bytes | None]:
        """The record saved under ``id``, or ``None`` if there is none or it expired."""
        ...

    def save(self, id: str, data: bytes, ttl_seconds: int) -> Awaitable[None]:
        """Stores ``data`` under ``id`` (insert or replace), to expire after ``ttl_seconds``."""
        ...

    def delete(self, id: str) -> Awaitable[None]:
        """Removes the record of ``id``; no error if there is none."""
        ...


class MemoryStore:
    """Sessions in this process's memory (Rust), each expiring with its session.

    For development, tests and single-process apps: the sessions are lost on restart and are
    not shared between workers.
    """

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records = _core.MemoryStore()

    # Memory operations never wait, so these coroutines finish without suspending.
    async def load(self, id: str) -> bytes | None:
        return self._records.load(id)

    async def save(self, id: str, data: bytes, ttl_seconds: int) -> None:
        self._records.save(id, data, ttl_seconds)

    async def replace(
        self, id: str, expected: bytes, data: bytes, ttl_seconds: int
    ) -> Literal["done", "stale", "missing"]:
        """Replaces the record of ``id`` only if it is still ``expected`` (see
        :meth:`SessionStore.replace`)."""
        return self._records.replace(id, expected, data, ttl_seconds)  # type: ignore[return-value]

    async def _commit(
        self,
        sealer: _core.Sealer,
        id: str,
        created: int,
        now: int,
        data: bytes,
        base: bytes | None,
        base_data: bytes | None,
        previous: str | None = None,
        user_id: str | None = None,
        user_agent: str | None = None,
    ) -> bool:
        """The middleware's save: compare-and-swap, replaying this request's changes on top of
        any write that came first; False when the session ended meanwhile (then nothing was
        written). ``previous``: the id a regenerated session was loaded under. With
        ``user_id``, the session's entry in that user's index is written too."""
        return self._records.commit(
            sealer, id, created, now, data, base, base_data, previous, user_id, user_agent
        )

    def use_secret_key(self, secret_key: str | bytes | Sequence[str | bytes]) -> None:
        """Keys the per-user index by ``secret_key``, the middleware's. The middleware does this
        itself at the app's first request; call it to use ``sessions_for_user`` or
        ``invalidate_user`` before that, or in a process without the middleware."""
        self._records.use_secret_key(secret_key)

    async def delete(self, id: str) -> None:
        self._records.delete(id)

    # -- the per-user index (Session.bind_user) ----------------------------------------------

    async def sessions_for_user(self, user_id: str | int) -> list[UserSession]:
        """The live sessions bound to ``user_id``, most recently seen first."""
        return self._records.sessions_for_user(user_id)

    async def invalidate_user(self, user_id: str | int, except_id: str | None = None) -> int:
        """Ends every session bound to ``user_id`` but ``except_id``; returns how many."""
        return self._records.invalidate_user(user_id, except_id)

    async def _bind(
        self,
        user_id: str,
        id: str,
        created: int,
        now: int,
        ttl_seconds: int,
        user_agent: str | None,
    ) -> None:
        self._records.bind(user_id, id, created, now, ttl_seconds, user_agent)

    async def _unbind(self, user_id: str, ids: list[str]) -> None:
        self._records.unbind(user_id, ids)

    def __len__(self) -> int:
        """How many sessions are stored (expired ones may linger until swept)."""
        return len(self._records)

    def __repr__(self) -> str:
        return f"MemoryStore(<{len(self)} sessions>)"
