"""Session lifecycle events, for ``SCsessionMiddleware(..., on_event=hook)``.

The hook is called with one :class:`SessionEvent` per thing that happened to a session, after
the session was saved and the response headers were sent. It may be a plain function or an
``async def``; a hook that raises is logged (logger ``scsession``, with its traceback) and
changes nothing else: the response goes out and the session stays saved.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from scsession import _core

__all__ = ["EventHook", "SessionEvent"]

logger = logging.getLogger("scsession")

EventKind = Literal["created", "modified", "regenerated", "invalidated", "expired"]


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """Something that happened to a session during one request.

    ``kind`` is one of:

    - ``"created"``: a new session was saved for the first time; ``changed`` holds its keys.
    - ``"modified"``: a session the request came with was saved with changes; ``changed``
      holds the top-level keys that were set or removed.
    - ``"regenerated"``: :meth:`Session.regenerate` gave the session a new id:
      ``session_id`` is the new one, ``previous_id`` the old one, which no longer works.
    - ``"invalidated"``: the session the request came with was ended, by
      :meth:`Session.invalidate` or by emptying it.
    - ``"expired"``: the request brought a session that had outlived ``max_age`` or
      ``idle_timeout``. Only what the server sees: browsers usually drop the cookie at the same
      moment, and stores forget records on their own, so most sessions expire unnoticed. With a
      store it comes once the response is done; with cookie sessions, only if the handler used
      the session.

    ``scope`` is the request's ASGI scope (``starlette.requests.Request(event.scope)`` gives a
    request object: client address, headers, path). ``repr(event)`` and ``str(event)`` show the
    kind, the ids and the changed keys, never the scope (it holds the cookie and the data).
    """

    kind: EventKind
    session_id: str
    # Not in repr() or str(): the scope holds the Cookie header (a bearer token) and the
    # session's data, and a hook that logs its event must not leak them.
    scope: MutableMapping[str, Any] = field(repr=False)
    previous_id: str | None = None
    changed: tuple[str, ...] = ()

    @classmethod
    def of(cls, event: _core.Event, scope: MutableMapping[str, Any]) -> SessionEvent:
        """The event the engine reported, for the request of `scope`."""
        kind: Any = event.kind
        return cls(kind, event.session_id, scope, event.previous_id, tuple(event.changed))


#: What ``on_event`` accepts: a function of one event, sync or async.
EventHook = Callable[[SessionEvent], Awaitable[None] | None]


async def emit(hook: EventHook, events: Iterable[SessionEvent]) -> None:
    """Calls ``hook`` with each event in turn; a failure is logged and goes no further."""
    for event in events:
        try:
            result = hook(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception(
                "scsession: the on_event hook raised on a %r event (session %s...); the "
                "response and the session are not affected",
                event.kind,
                event.session_id[:8],
            )
