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
from collections import deque
from typing import Any

from scsession import _core

__all__ = ["PerIdLock", "save_with_replace"]


class PerIdLock:
    """Saves of one session id, one at a time, in this process.

    ``enter(id)`` returns None when the id is free (the save may go at once: no lock object, no
    coroutine, on the path every write takes), else a future to await first; ``leave(id)``
    hands the id to the next waiter, or frees it. The table only holds ids with a save running
    or waiting, so it never grows with the number of sessions.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        # id -> the futures of the saves waiting for it (None: one runs, nobody waits)
        self._held: dict[str, deque[asyncio.Future[None]] | None] = {}

    def enter(self, session_id: str) -> asyncio.Future[None] | None:
        if session_id not in self._held:
            self._held[session_id] = None
            return None
        waiters = self._held[session_id]
        if waiters is None:
            waiters = self._held[session_id] = deque()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        return waiter

    def leave(self, session_id: str) -> None:
        waiters = self._held[session_id]
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a waiter that was cancelled is skipped
                waiter.set_result(None)  # its save runs now
                return
        del self._held[session_id]

    async def wait(self, session_id: str, waiter: asyncio.Future[None]) -> None:
        """Waits for `waiter` (from ``enter``); a cancelled wait gives up its turn cleanly."""
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave(session_id)  # the turn had come: pass it on
            raise

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
