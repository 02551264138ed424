"""The dict that users touch as ``request.session``.

``Session`` subclasses ``dict`` so that it goes wherever Starlette's plain-dict session went
(``json.dumps``, ``dict(...)``, Jinja, ``isinstance(x, dict)``). A cookie session is lazy: its
data is decrypted on the first use of any method. Until then the dict's own storage holds one
placeholder entry, so C code that checks a dict's size before asking for its items (``json``
does) asks, and thereby loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, Self

from scsession import _core

__all__ = ["Flash", "Host", "Opening", "Session", "staged"]

#: Where pending flashes live in the session data.
FLASHES_KEY = "_flashes"
#: Where :meth:`Session.bind_user` records the user: ``{"id": str, "user_agent": str | None}``.
BOUND_USER_KEY = "_bound_user"
#: Where :meth:`Session.set_expiry` records the session's own lifetime (read by the engine).
EXPIRY_KEY = "_expiry"
#: The most of a user agent kept (characters; the index keeps at most 512 bytes of it).
MAX_USER_AGENT = 512
#: The placeholder a not-yet-loaded session holds in its dict storage (see the module doc).
UNLOADED = "__scsession_not_loaded__"

_MISSING: Any = object()


def staged(opened: Opening) -> Opening:
    """The loader of a session whose ``Opened`` is at hand already (fetched from a store)."""
    return opened


class Opening(Protocol):
    """What a session opens as (``_core.Opened``, or an unreadable session's stand-in)."""

    @property
    def state(self) -> _core.SessionState: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def expired(self) -> str | None: ...


class Flash(NamedTuple):
    """A one-time message for the next page, from :meth:`Session.flash`."""

    category: str
    message: str


class Host:
    """Where a session lives, as the middleware tells it: whether ``bind_user`` can work, its
    lifetime, and what to do when a session ends while its request is still open (a
    WebSocket)."""

    __slots__ = ("engine", "index_problem", "max_age")

    #: Sessions that are never written (the store is down, ``on_store_error="anonymous"``).
    offline = False

    def __init__(
        self,
        index_problem: Exception | None,
        engine: _core.Engine | None = None,
        max_age: int | None = None,
    ) -> None:
        #: Why ``bind_user`` cannot work here (no store, or one without a per-user index).
        self.index_problem = index_problem
        #: The middleware's engine (None for a session made by hand): lifetimes come from it.
        self.engine = engine
        #: The middleware's ``max_age``: the longest ``set_expiry`` may ask for.
        self.max_age = max_age

    def check_index(self) -> None:
        if self.index_problem is not None:
            raise self.index_problem

    def ended(self, session: Session) -> None:
        """``invalidate()`` was called (nothing to do but on an open WebSocket)."""

    def check_expiry(self, seconds: object) -> None:
        """Refuses a lifetime ``set_expiry`` cannot give, naming the fix."""
        if seconds is None:
            return
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise TypeError(
                f"set_expiry() takes whole seconds (an int) or None, not {type(seconds).__name__}"
            )
        if seconds <= 0:
            raise ValueError(
                "set_expiry() takes a positive number of seconds, or None for a cookie that "
                "ends when the browser closes; to end the session now, call invalidate()"
            )
        if self.max_age is not None and seconds > self.max_age:
            raise ValueError(
                f"set_expiry({seconds}) asks for longer than max_age={self.max_age}, the longest "
                f"any session lives here: raise SCsessionMiddleware(max_age=...) to at least "
                f"{seconds} to allow it (shorter sessions then call set_expiry themselves)"
            )


#: The host of a session made by hand, outside any middleware.
DETACHED = Host(RuntimeError("bind_user() needs a session from SCsessionMiddleware with a store"))


class Session(dict[str, Any]):
    """A user's session: a ``dict`` that is saved when the response starts.

    Besides every dict method it has :meth:`flash`, :meth:`flashes`, :meth:`regenerate`,
    :meth:`invalidate`, :meth:`bind_user`, :attr:`id` and :attr:`bound_user`. Values must be of
    the types scsession can store (see the README); ``session[key] = value`` with anything else
    raises ``TypeError`` naming the key.
    """

    # The engine keeps what a request did to its session besides the data (ids, regenerate,
    # invalidate) in one state object; the rest is how that state is opened lazily.
    __slots__ = ("_host", "_loader", "_on_save", "_source", "_state")
    #: The engine's state of this session (``_core.SessionState``), once it is opened.
    _state: _core.SessionState
    #: Opens the session at its first use: called with ``_source``, returns an ``Opened``.
    #: None once opened.
    _loader: Callable[[Any], Opening] | None
    #: Before opening, what ``_loader`` opens; after, the id of an expired session the request
    #: carried (for an ``expired`` event), or None.
    _source: Any
    #: What the middleware tells the session about where it lives (see :class:`Host`).
    _host: Host
    #: Called with the session just before the middleware saves it (``scsession.fastapi``
    #: writes its models back here); None until one is added. Set once the session is opened.
    _on_save: list[Callable[[Session], None]] | None

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        """A loaded session holding ``data``, that no middleware saves.

        The middleware makes lazy ones without calling this (it runs on every request): it
        creates the dict with ``dict.__new__``, puts the ``UNLOADED`` placeholder in, and sets
        ``_loader``, ``_source`` and ``_host``; :meth:`_load` fills the rest.
        """
        if data:
            dict.update(self, data)
        self._state = _core.SessionState()
        self._loader = None
        self._source = None
        self._host = DETACHED
        self._on_save = None

    # -- loading -------------------------------------------------------------------------------

    def _load(self) -> None:
        loader = self._loader
        if loader is not None:
            self._loader = None
            self._on_save = None
            dict.clear(self)
            opened = loader(self._source)
            self._source = opened.expired
            self._state = opened.state
            dict.update(self, opened.data)

    def _saving(self) -> None:
        """Runs the ``_on_save`` callbacks: the middleware calls this just before it saves an
        opened session whose ``_on_save`` is not None."""
        for callback in self._on_save or ():
            callback(self)

    # -- what scsession adds to dict -------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The session id: ``None`` until a new session is first saved."""
        self._load()
        return self._state.id

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
        self._state.regenerate()

    def invalidate(self) -> None:
        """Ends the session (sign-out): the data is cleared, the store record deleted and the
        cookie removed. Anything stored after this call starts a new session under a new id."""
        self._load()
        dict.clear(self)
        self._state.invalidate()
        # On an open WebSocket with a store, the middleware deletes the record right away.
        self._host.ended(self)

    def set_expiry(self, seconds: int | None) -> None:
        """Sets this session's own lifetime: it ends ``seconds`` after it was created (at
        sign-in, if you :meth:`regenerate` there), e.g. 30 days for "remember me"; or, with
        ``None``, its cookie ends when the browser closes.

        The server enforces it, within the middleware's limits: ``seconds`` may not exceed
        ``max_age`` (a ``ValueError`` says so), and ``idle_timeout`` still applies. It is kept
        through :meth:`regenerate` and ends with :meth:`invalidate`. It is stored in the session
        under ``"_expiry"``.
        """
        self._load()
        self._host.check_expiry(seconds)
        self[EXPIRY_KEY] = seconds

    @property
    def created_at(self) -> datetime | None:
        """When this session was created (aware, UTC; at its last :meth:`regenerate`), or
        ``None`` for a session not saved yet."""
        self._load()
        created = self._state.created
        return None if created is None else datetime.fromtimestamp(created, UTC)

    @property
    def expires_at(self) -> datetime | None:
        """When this session ends unless it is used before (aware, UTC): the earlier of its
        absolute lifetime (``max_age``, or :meth:`set_expiry`) and ``idle_timeout`` from its
        last save. ``None`` for a session not saved yet, or one without limits."""
        self._load()
        engine = self._host.engine
        deadline = None if engine is None else engine.expires_at(self._state, self)
        return None if deadline is None else datetime.fromtimestamp(deadline, UTC)

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
        self._host.check_index()
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
        bound = dict.get(self, BOUND_USER_KEY)
        user = bound.get("id") if isinstance(bound, dict) else None
        return user if isinstance(user, str) else None

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
