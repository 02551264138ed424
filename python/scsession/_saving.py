"""Pieces of a store-mode save that live beside the middleware.

- :class:`PerIdLock` serializes the saves of one session within this process, so that ten
  parallel requests of one page do not race each other's compare-and-swap: each save waits for
  the one before it, then merges onto what it wrote in a single retry. Only other processes
  still compete, and the core backs off with jitter between their attempts.
- :func:`save_with_replace` runs the core's save algorithm (``_core.Saving``: compare-and-swap,
  merge on conflict, a regeneration that never undoes a sign-out) against a store written in
  Python that offers ``replace``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scsession import _core

__all__ = ["PerIdLock", "save_with_replace"]


class PerIdLock:
    """One asyncio lock per session id, kept only while a save of that id is running or
    waiting (so the table never grows with the number of sessions). ``acquire`` then
    ``release`` in a ``try``/``finally`` (cheaper than a context manager on every write)."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        # id -> [lock, how many saves hold or wait for it]
        self._held: dict[str, list[Any]] = {}

    async def acquire(self, session_id: str) -> None:
        entry = self._held.get(session_id)
        if entry is None:
            entry = self._held[session_id] = [asyncio.Lock(), 1]
        else:
            entry[1] += 1
        try:
            await entry[0].acquire()
        except BaseException:  # cancelled while waiting: no longer a holder
            self._forget(session_id, entry)
            raise

    def release(self, session_id: str) -> None:
        entry = self._held[session_id]
        entry[0].release()
        self._forget(session_id, entry)

    def _forget(self, session_id: str, entry: list[Any]) -> None:
        entry[1] -= 1
        if entry[1] == 0:
            del self._held[session_id]

    def __len__(self) -> int:
        """How many session ids have a save running or waiting (for tests)."""
        return len(self._held)


async def save_with_replace(store: Any, saving: _core.Saving) -> bool:
    """Performs each store operation `saving` asks for on `store` (a Python store with
    ``replace``); True when the session is saved, False when it ended meanwhile."""
    reply: Any = None
    while True:
        op = saving.next(reply)
        kind = op.kind
        if kind == "saved":
            return True
        if kind == "gone":
            return False
        reply = None
        if kind == "replace":
            reply = await store.replace(op.id, op.expected, op.blob, op.ttl)
        elif kind == "load":
            reply = await store.load(op.id)
        elif kind == "save":
            await store.save(op.id, op.blob, op.ttl)
        elif kind == "delete":
            await store.delete(op.id)
        else:  # "pause": another writer came first
            await asyncio.sleep(op.delay)
