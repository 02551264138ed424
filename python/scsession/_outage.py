"""What the middleware does while its store is down: ``on_store_error="fail" | "anonymous"``.

A store that does not answer must not turn into a traceback per request. ``Outage`` logs one
line when an outage begins and one when the store answers again (with how many requests it
affected), and the middleware either answers 503 with ``Retry-After`` (``"fail"``) or runs the
request with an empty session that is never written (``"anonymous"``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import Any, Literal

from scsession.exceptions import StoreUnavailableError

__all__ = ["OUTAGE_ERRORS", "RETRY_AFTER", "Outage", "OutagePolicy", "unavailable_response"]

logger = logging.getLogger("scsession")

OutagePolicy = Literal["fail", "anonymous"]

#: What counts as "the store is down": scsession's own stores raise StoreUnavailableError; a
#: store written in Python typically lets a ConnectionError (an OSError) or a timeout through.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (StoreUnavailableError, OSError, TimeoutError)

#: Seconds a client is asked to wait before trying again (the ``Retry-After`` header).
RETRY_AFTER = 5

_BODY = b"Service Unavailable: the session store is not answering. Try again in a few seconds."


class Outage:
    """The state of one middleware's store: up, or down since when and for how many requests."""

    __slots__ = ("_policy", "_store", "affected", "since")

    def __init__(self, store: Any, policy: OutagePolicy) -> None:
        self._store = store
        self._policy = policy
        self.since: float | None = None  # time.monotonic() of the first failure, while down
        self.affected = 0

    def failed(self, error: BaseException) -> None:
        """A request found the store down: logged when the outage begins, counted after."""
        self.affected += 1
        if self.since is not None:
            return
        self.since = time.monotonic()
        what = (
            "requests that use the session are answered 503 with Retry-After"
            if self._policy == "fail"
            else "requests run with an empty session that is not saved"
        )
        logger.error(
            "scsession: the session store %r is unavailable (%s: %s); until it answers again %s "
            "(on_store_error=%r). This is logged once per outage.",
            self._store,
            type(error).__name__,
            error,
            what,
            self._policy,
        )

    def answered(self) -> None:
        """The store answered: if it was down, the outage is over (logged with its length)."""
        if self.since is None:
            return
        logger.warning(
            "scsession: the session store %r answers again after %.1f s; %d requests met the "
            "outage",
            self._store,
            time.monotonic() - self.since,
            self.affected,
        )
        self.since = None
        self.affected = 0


async def unavailable_response(scope: MutableMapping[str, Any], send: Any) -> None:
    """Answers 503 with Retry-After (HTTP), or closes with 1013 "try again later" (WebSocket)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013})
        return
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"retry-after", str(RETRY_AFTER).encode()),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(_BODY)).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _BODY})
