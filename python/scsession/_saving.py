"""Pieces of a store-mode save that live beside the middleware.

- :class:`PerIdLock` serializes the saves of one session within this process, so that ten
  parallel requests of one page do not race each other's compare-and-swap: each save waits for
  the one before it, then merges onto what it wrote in a single retry. Only other processes
  still compete, and the core backs off with jitter between their attempts.
- :class:`Saver` runs the engine's save (``_core.Finishing``: compare-and-swap, merge on
  conflict, a regeneration that never undoes a sign-out, the per-user index) against the
  app's store.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from time import monotonic as _monotonic
from typing import Any, TypeVar

from scsession import _clock, _core
from scsession._outage import OUTAGE_ERRORS, Outage
from scsession.session import Opening

__all__ = ["PerIdLock", "Saver"]

T = TypeVar("T")


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


class Saver:
    """Store mode: loads a request's session from the app's store and runs the engine's save
    of it, one save per session id at a time in this process; counts the store's outages.

    A built-in store runs the whole load or save in Rust (``Engine.load``, ``Finishing.run``).
    A store written in Python is driven from here, one operation at a time, through its public
    contract: ``load``, ``save``, ``replace``, ``delete``. A store without ``replace`` gets it
    emulated from ``load`` and ``update`` (or ``save``): the same algorithm, but the check and
    the write are two steps, so a sign-out that lands between them can be undone.
    """

    __slots__ = ("_engine", "_locks", "_outage", "_replace", "_store", "_update", "indexed")

    def __init__(self, engine: _core.Engine, store: Any, outage: Outage) -> None:
        self._engine = engine
        self._store = store
        self._outage = outage
        #: The store, if it is a built-in one (they all keep a per-user index).
        self.indexed: _core.Store | None = store if isinstance(store, _core.Store) else None
        self._replace = getattr(store, "replace", None)
        self._update = getattr(store, "update", None)
        self._locks = PerIdLock()

    async def load(self, headers: Iterable[tuple[bytes, bytes]]) -> Opening:
        """The session the request's cookie points at."""
        # Without an id worth loading, nothing was asked of the store: no sign it is back.
        return await self._through_outage(
            lambda: self._fetch(headers, _clock.now()),
            lambda: bool(self._engine.session_ids(headers)),
        )

    async def _fetch(self, headers: Iterable[tuple[bytes, bytes]], now: int) -> Opening:
        if self.indexed is not None:  # a built-in store: the whole load runs in Rust
            return await self._engine.load(self.indexed, headers, now)
        # A store written in Python: the record under the first id whose record opens.
        expired = None
        for session_id in self._engine.session_ids(headers):
            blob = await self._store.load(session_id)
            opened = None if blob is None else self._engine.open_record(session_id, blob, now)
            if opened is not None and opened.expired is None:
                return opened
            expired = expired or opened
        return expired or self._engine.new_session()

    async def finish(self, state: _core.SessionState, data: dict[str, Any], now: int) -> Any:
        """Saves the session (its state and its data now): the ``Finished`` save, or None when
        nothing was to be written or sent."""
        finishing = self._engine.finishing(state, data, now, self.indexed is not None)
        if finishing is None:
            return None
        return await self._through_outage(lambda: self._locked(finishing))

    async def _through_outage(
        self, call: Callable[[], Awaitable[T]], asked: Callable[[], bool] | None = None
    ) -> T:
        """Runs `call`, a use of the store. While the store is down, only one request a second
        waits for it and the others fail at once; a failure is counted (logged once per outage)
        and raised; an answer after an outage ends it (`asked`: whether the store was asked at
        all)."""
        outage = self._outage
        down = outage.skip() if outage.since is not None else None
        if down is not None:
            outage.failed(down)
            raise down
        tried = _monotonic()
        try:
            result = await call()
        except OUTAGE_ERRORS as error:
            outage.failed(error, tried)
            raise
        if outage.since is not None and (asked is None or asked()):
            await self._store_is_back()
        return result

    async def _locked(self, finishing: _core.Finishing) -> _core.Finished:
        lock = finishing.lock_id
        if lock is None:
            return await self._run(finishing)
        waiter = self._locks.enter(lock)
        if waiter is not None:
            await self._locks.wait(lock, waiter)
        try:
            return await self._run(finishing)
        finally:
            self._locks.leave(lock)

    async def _store_is_back(self) -> None:
        """The store answered after an outage: logged, and the records of sessions signed out
        meanwhile (``"anonymous"``) are deleted now."""
        for session_id in self._outage.answered():
            try:
                await self._store.delete(session_id)
            except OUTAGE_ERRORS:
                self._outage.delete_later(session_id)  # down again: at the next recovery

    async def _run(self, finishing: _core.Finishing) -> _core.Finished:
        if self.indexed is not None:
            return await finishing.run(self.indexed)
        store = self._store
        reply: Any = None
        while True:
            op = finishing.next(reply)
            if isinstance(op, _core.Finished):
                return op
            kind, reply = op.kind, None
            if kind == "replace":
                assert op.id is not None and op.expected is not None and op.blob is not None
                reply = await self._swap(op.id, op.expected, op.blob, op.ttl)
            elif kind == "load":
                reply = await store.load(op.id)
            elif kind == "save":
                await store.save(op.id, op.blob, op.ttl)
            elif kind == "delete":
                await store.delete(op.id)
            elif kind == "pause":  # another writer came first
                await asyncio.sleep(op.delay)
            else:
                raise RuntimeError(f"a store written in Python was asked for {kind!r}")

    async def _swap(self, session_id: str, expected: bytes, data: bytes, ttl: int) -> str:
        if self._replace is not None:
            return await self._replace(session_id, expected, data, ttl)  # type: ignore[no-any-return]
        current = await self._store.load(session_id)
        if current is None:
            return "missing"
        if current != expected:
            return "stale"
        if self._update is not None:
            return "done" if await self._update(session_id, data, ttl) else "missing"
        await self._store.save(session_id, data, ttl)
        return "done"
