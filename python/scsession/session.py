"""The dict that users touch as ``request.session``.

``Session`` subclasses ``dict`` so that it goes wherever Starlette's plain-dict session went
(``json.dumps``, ``dict(...)``, Jinja, ``isinstance(x, dict)``). A cookie session is lazy: its
data is decrypted on the first use of any method. Until then the dict's own storage holds one
placeholder entry, so C code that checks a dict's size before asking for its items (``json``
does) asks, and thereby loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Self

from scsession import _core

__all__ = ["Flash", "Session"]

#: Where pending flashes live in the session data.
FLASHES_KEY = "_flashes"
#: Where :meth:`Session.bind_user` records the user: ``{"id": str, "user_agent": str | None}``.
BOUND_USER_KEY = "_bound_user"
#: The most of a user agent kept (characters; the index keeps at most 512 bytes of it).
MAX_USER_AGENT = 512
#: The placeholder a not-yet-loaded session holds in its dict storage (see the module doc).
UNLOADED = "__scsession_not_loaded__"

_MISSING: Any = object()

#: A session as its loader opens it: (id, created, last_seen, data bytes, data).
Opened = tuple[str, int, int, bytes, dict[str, Any]]


class Flash(NamedTuple):
    """A one-time message for the next page, from :meth:`Session.flash`."""

    category: str
    message: str


class Session(dict[str, Any]):
    """A user's session: a ``dict`` that is saved when the response starts.

    Besides every dict method it has :meth:`flash`, :meth:`flashes`, :meth:`regenerate`,
    :meth:`invalidate`, :meth:`bind_user`, :attr:`id` and :attr:`bound_user`. Values must be of
    the types scsession can store (see the README); ``session[key] = value`` with anything else
    raises ``TypeError`` naming the key.
    """

    # Bookkeeping for the middleware; users never set these.
    __slots__ = (
        "_created",
        "_force",
        "_id",
        "_last_seen",
        "_loaded_id",
        "_loaded_user",
        "_loader",
        "_on_end",
        "_original",
        "_retired_id",
        "_source",
        "_store",
        "_stored",
    )
    #: The store, set by the middleware in store mode only (read by bind_user).
    _store: Any
    #: Called by invalidate() on an open WebSocket in store mode (the middleware sets it).
    _on_end: Callable[[], Any] | None

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        """A loaded session holding ``data``.

        The middleware makes lazy ones without calling this (it runs on every request): it
        creates the dict with ``dict.__new__``, puts the ``UNLOADED`` placeholder in, and sets
        only ``_loader`` and ``_source``; :meth:`_load` fills the other slots.
        """
        if data:
            dict.update(self, data)
        # Called with _source at first use: returns (id, created, last_seen, data bytes, data)
        # of the session the request came with, or None for a new session.
        self._loader: Callable[[Any], Opened | None] | None = None
        self._source: Any = None
        self._reset()

    def _reset(self) -> None:
        self._id: str | None = None
        self._loaded_id: str | None = None  # the id of the valid session the request came with
        self._retired_id: str | None = None  # an id that must die at save (regenerate, logout)
        self._original: bytes | None = None  # the data as loaded, to tell whether it changed
        self._stored: bytes | None = None  # the store record as loaded (its version, for saving)
        self._loaded_user: str | None = None  # the user the loaded session was bound to
        self._created = 0
        self._last_seen = 0
        self._force = False  # re-send the cookie even if the data did not change

    # -- loading -------------------------------------------------------------------------------

    def _load(self) -> None:
        loader = self._loader
        if loader is not None:
            self._loader = None
            dict.clear(self)
            opened = loader(self._source)
            self._source = None
            if opened is None:
                self._reset()
            else:
                self._restore(*opened)

    def _restore(
        self, session_id: str, created: int, last_seen: int, original: bytes, data: dict[str, Any]
    ) -> None:
        """Fills the session with what a valid cookie or store record held."""
        dict.update(self, data)
        self._id = self._loaded_id = session_id
        self._retired_id = None
        self._original = original
        self._created = created
        self._last_seen = last_seen
        self._force = False

    # -- what scsession adds to dict -------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The session id: ``None`` until a new session is first saved."""
        self._load()
        return self._id

    def flash(self, category: str, message: str) -> None:
        """Queues a message for the next page; :meth:`flashes` returns it once."""
        self._load()
        pending = dict.get(self, FLASHES_KEY)
        if not isinstance(pending, list):
            pending = []
        pending.append([category, message])
        self[FLASHES_KEY] = pending

    def flashes(self, category: str | None = None) -> list[Flash]:
        """Returns and removes the pending flashes: all of them, or those of one category."""
        self._load()
        pending = dict.get(self, FLASHES_KEY)
        if not isinstance(pending, list) or not pending:
            return []
        # Anything under the key that is not a (category, message) pair is dropped, not raised.
        pairs = [e for e in pending if isinstance(e, list | tuple) and len(e) == 2]
        taken = [Flash(c, m) for c, m in pairs if category is None or c == category]
        kept = [entry for entry in pairs if category is not None and entry[0] != category]
        if kept:
            dict.__setitem__(self, FLASHES_KEY, kept)
        else:
            dict.__delitem__(self, FLASHES_KEY)
        return taken

    def regenerate(self) -> None:
        """Gives the session a new id, keeping its data; the old id stops working.

        Call it whenever privileges change, above all at sign-in, so that an id an attacker
        planted before sign-in (session fixation) is worthless after it.
        """
        self._load()
        self._retire()
        self._id = _core.new_session_id()
        self._created = 0
        self._force = True

    def invalidate(self) -> None:
        """Ends the session (sign-out): the data is cleared, the store record deleted and the
        cookie removed. Anything stored after this call starts a new session under a new id."""
        self._load()
        dict.clear(self)
        self._retire()
        self._id = None
        self._created = 0
        # On an open WebSocket with a store, the middleware deletes the record right away.
        on_end = getattr(self, "_on_end", None)
        if on_end is not None:
            on_end()

    def bind_user(self, user_id: str | int, *, user_agent: str | None = None) -> None:
        """Records this session under ``user_id`` in the store's per-user index, so that
        ``await store.sessions_for_user(user_id)`` lists it and
        ``await store.invalidate_user(user_id)`` can end it (log out everywhere).

        Call it at sign-in, after :meth:`regenerate`. ``user_agent`` is what the listing shows
        for this session (e.g. ``request.headers.get("user-agent")``, cut to 512 characters);
        nothing is recorded unless you pass it. The binding is part of the session: it survives
        :meth:`regenerate` and ends with :meth:`invalidate`. Needs a server-side store.
        """
        self._load()
        store = getattr(self, "_store", None)  # set by the middleware in store mode
        if store is None:
            raise RuntimeError(
                "bind_user() needs a server-side store, e.g. SCsessionMiddleware(..., "
                "store=RedisStore(url)): a cookie session has no server record that "
                "invalidate_user() could end"
            )
        if not hasattr(store, "_bind"):
            raise TypeError(
                f"{type(store).__name__} keeps no per-user index, so bind_user() cannot work "
                "with it; every store built into scsession has one"
            )
        if isinstance(user_id, bool) or not isinstance(user_id, str | int):
            raise TypeError(f"a user id must be a str or an int, not {type(user_id).__name__}")
        if user_id == "":
            raise ValueError("a user id must not be empty")
        if user_agent is not None and not isinstance(user_agent, str):
            raise TypeError(f"user_agent must be a str or None, not {type(user_agent).__name__}")
        agent = None if user_agent is None else user_agent[:MAX_USER_AGENT]
        self[BOUND_USER_KEY] = {"id": str(user_id), "user_agent": agent}

    @property
    def bound_user(self) -> str | None:
        """The user id given to :meth:`bind_user` (as text), or ``None``."""
        self._load()
        return _bound_user_id(self)

    def _retire(self) -> None:
        if self._retired_id is None:
            self._retired_id = self._loaded_id

    # -- dict, loading first ---------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        self._load()
        return dict.__getitem__(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._load()
        _core.check_value(key, value)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        self._load()
        dict.__delitem__(self, key)

    def __contains__(self, key: object) -> bool:
        self._load()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        self._load()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        self._load()
        return dict.__reversed__(self)

    def __len__(self) -> int:
        self._load()
        return dict.__len__(self)

    def __repr__(self) -> str:
        self._load()
        return f"Session({dict.__repr__(self)})"

    def __eq__(self, other: object) -> bool:
        self._load()
        if isinstance(other, Session):
            other._load()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __or__(self, other: Mapping[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other: Mapping[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        merged = dict(other)
        merged.update(self.copy())
        return merged

    def __ior__(self, other: Any) -> Self:  # type: ignore[override,misc]
        self.update(other)
        return self

    def get(self, key: str, default: Any = None) -> Any:
        self._load()
        return dict.get(self, key, default)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        self._load()
        if default is _MISSING:
            return dict.pop(self, key)
        return dict.pop(self, key, default)

    def popitem(self) -> tuple[str, Any]:
        self._load()
        return dict.popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._load()
        if not dict.__contains__(self, key):
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        self._load()
        pairs: Iterable[tuple[str, Any]]
        if isinstance(other, Mapping):
            pairs = other.items()
        elif hasattr(other, "keys"):
            pairs = ((key, other[key]) for key in other.keys())  # noqa: SIM118 (dict.update protocol)
        else:
            pairs = other
        for key, value in pairs:
            self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def clear(self) -> None:
        self._load()
        dict.clear(self)

    def keys(self) -> Any:
        self._load()
        return dict.keys(self)

    def values(self) -> Any:
        self._load()
        return dict.values(self)

    def items(self) -> Any:
        self._load()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        """A plain ``dict`` with the same (shallow-copied) contents."""
        self._load()
        return dict(dict.items(self))

    def __copy__(self) -> dict[str, Any]:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        import copy

        return copy.deepcopy(self.copy(), memo)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles as the plain dict it holds: the bookkeeping means nothing elsewhere.
        return (dict, (self.copy(),))


def _bound_user_id(data: dict[str, Any]) -> str | None:
    """The user id that :meth:`Session.bind_user` recorded in ``data``, if any."""
    bound = dict.get(data, BOUND_USER_KEY)
    user = bound.get("id") if isinstance(bound, dict) else None
    return user if isinstance(user, str) else None
