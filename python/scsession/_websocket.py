"""Sessions on WebSockets: saved with the handshake's response (``websocket.accept``), as for
HTTP. Later changes cannot reach the browser in a header: with a store they are written when
the socket closes, and ``invalidate()`` deletes the record at once; with cookie sessions they
are lost, and a warning says so."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from scsession import _clock
from scsession._outage import OUTAGE_ERRORS
from scsession.exceptions import SessionTooLargeError
from scsession.session import Host, Session

if TYPE_CHECKING:
    from scsession.middleware import Message, Scope, SCsessionMiddleware

__all__ = ["serve_socket"]

logger = logging.getLogger("scsession")


class _OpenSocket(Host):
    """The host of a session whose socket is open (store mode): ``invalidate()`` starts
    deleting its record at once, while the socket stays open."""

    __slots__ = ("_end", "tasks")

    def __init__(self, host: Host, end: Callable[[Session], Awaitable[None]]) -> None:
        super().__init__(host.index_problem, host.engine, host.max_age)
        self._end = end
        self.tasks: list[asyncio.Future[None]] = []

    def ended(self, session: Session) -> None:
        self.tasks.append(asyncio.ensure_future(self._end(session)))


async def serve_socket(
    middleware: SCsessionMiddleware, scope: Scope, receive: Any, send: Any, session: Session
) -> None:
    saver = middleware._saver
    opened: _OpenSocket | None = None

    async def end_now(session: Session) -> None:
        assert saver is not None  # only set up in store mode
        await saver.finish(session._state, {}, _clock.now())

    async def send_wrapper(message: Message) -> None:
        nonlocal opened
        if message["type"] != "websocket.accept" or opened is not None:
            if opened is not None and not all(task.done() for task in opened.tasks):
                # A sign-out's deletion starts before anything the socket sends after it: a
                # client told "signed out" must not find the record still there. (send() need
                # not yield: Starlette's TestClient before 0.45.2 did not, and its test raced.)
                await asyncio.sleep(0)
            await send(message)
            return
        opened = _OpenSocket(session._host, end_now)
        if saver is not None:
            session._host = opened
        if session._loader is None:
            await middleware._send_saved(message, session, scope, send, _nothing)
        else:
            await send(message)

    try:
        await middleware.app(scope, receive, send_wrapper)
    finally:
        for task in opened.tasks if opened is not None else ():
            with contextlib.suppress(*OUTAGE_ERRORS):  # counted and logged; expires later
                await task
    if opened is not None and session._loader is None:
        await _save_after_accept(middleware, session)


async def _save_after_accept(middleware: SCsessionMiddleware, session: Session) -> None:
    """What a WebSocket changed after ``accept()``, when it closes."""
    if session._on_save is not None:
        session._saving()
    saver, now = middleware._saver, _clock.now()
    if saver is None:
        try:
            finished = middleware._engine.finish_cookie(session._state, session, now)
        except SessionTooLargeError:
            finished = None
            _lost("cookie sessions travel only in the handshake's Set-Cookie")
        if finished is not None and finished.outcome != "refreshed":
            _lost("cookie sessions travel only in the handshake's Set-Cookie")
        return
    if not session._state.is_loaded_as_is:
        if dict.__len__(session):
            _lost("a new or regenerated session's cookie cannot reach it now")
        return
    with contextlib.suppress(*OUTAGE_ERRORS):  # counted and logged by the saver
        await saver.finish(session._state, session, now)


def _lost(why: str) -> None:
    logger.warning(
        "scsession: the session changed after the WebSocket was accepted and cannot be saved: "
        "%s. Change the session before accept(), or over HTTP.",
        why,
    )


def _nothing() -> None:
    pass
