"""Where server-side sessions live.

A store keeps opaque, already encrypted records by session id; it never sees session data in
the clear. Anything with the async methods of :class:`SessionStore` is a store. The built-in
stores (all subclasses of ``Store``, written in Rust) also keep a per-user index.
"""

from __future__ import annotations

import atexit
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

from scsession import _core
from scsession._core import MemcachedStore, MemoryStore, RedisStore, SQLStore, Store, UserSession

__all__ = [
    "MemcachedStore",
    "MemoryStore",
    "RedisStore",
    "SQLStore",
    "SessionStore",
    "Store",
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
    store has it. Without it the middleware stands in for it with ``load``, a comparison, then
    ``async update(id, data, ttl_seconds) -> bool`` (replace only if present) if the store has
    one, else ``save``: the same guarantees within one process, but the check and the write are
    two steps, so another process's write between them can be lost.

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
