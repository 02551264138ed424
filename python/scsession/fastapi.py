"""FastAPI helpers: ``def route(session: SessionDep)``, and typed session data with
:func:`session_model`: ``def route(cart: Annotated[Cart, session_model(Cart, key="cart")])``."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection

from scsession._deferred import load_session, session_in
from scsession.session import Session

__all__ = ["SessionDep", "get_session", "session_model"]

logger = logging.getLogger("scsession")

M = TypeVar("M", bound=BaseModel)
_MISSING: Any = object()


def get_session(connection: HTTPConnection) -> Session:
    """The request's (or websocket's) session; SCsessionMiddleware must be installed."""
    return session_in(connection)


async def _loaded_session(connection: HTTPConnection) -> Session:
    # Async, so FastAPI awaits it on the event loop (a sync dependency runs in a thread), and
    # so that with load="on_demand" it reads the session from the store first.
    return await load_session(connection)


#: A route parameter typed ``SessionDep`` receives the request's :class:`Session`, loaded
#: (with ``SCsessionMiddleware(load="on_demand")`` it is read from the store first).
SessionDep = Annotated[Session, Depends(_loaded_session)]


# -- typed session data: a pydantic model read from, and written back to, one session key -------


def session_model(model: type[M], *, key: str) -> Any:
    """A dependency that reads ``session[key]`` as a ``model`` and writes it back if changed.

    Use it in an ``Annotated`` alias, with the model named twice (once for the type checker,
    once for FastAPI)::

        Cart = Annotated[CartModel, session_model(CartModel, key="cart")]

        @app.post("/cart")
        def add(cart: Cart, item: str) -> CartModel:
            cart.items.append(item)  # saved: no need to assign anything back
            return cart

    - **Changes are found by value**: the model's JSON dump when the session is saved is
      compared with its dump when it was read, so changes anywhere (a nested list appended to,
      a field assigned) are saved, and a model read but not changed costs no write.
    - **Written back when the session is saved**, at ``http.response.start`` (or a WebSocket's
      ``accept``), by a callback the session runs just before the middleware saves it; not by
      dependency exit code, which FastAPI runs before or after the response depending on the
      version and the dependency's ``scope``. So a change is saved exactly when a change to
      ``session`` itself at the same point would be: a handler that raises ``HTTPException``
      still saves both, one that lets another exception escape saves neither (no response
      went through the middleware), and a change made while a ``StreamingResponse`` streams
      is too late for both.
    - **Stored as JSON types** (``model_dump(mode="json")``: datetimes as ISO strings, and so on)
      and read back with ``model_validate_json``, so any model that round-trips through JSON
      works, strict ones included.
    - **Missing or invalid data gives a fresh ``model()``**: every field of ``model`` needs a
      default (checked here, ``TypeError`` otherwise), as a visitor's session may hold nothing
      yet. Data that does not validate (left by an older version of the model, say) is logged
      (logger ``scsession``, a warning) and replaced only if the handler changes the fresh
      model, so an old release reading a new release's data during a rolling deploy does not
      overwrite it.
    - Every dependency on ``key`` in one request gets the same instance (of the same model).
    - If the handler also assigns or deletes ``session[key]`` itself, or ends the session
      (``invalidate()``, ``clear()``), that wins and the model is not written back.
    - In store mode, concurrent requests of one browser are merged key by key: a save replays
      only the keys it changed onto the stored record. Two requests that change *different
      fields* of one model at the same time still both write the whole ``key``, and the later
      one wins. Keep data that changes independently under separate keys (separate models).
    """
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"session_model() takes a pydantic model class, not {model!r}")
    try:
        model()
    except ValidationError as error:
        raise TypeError(
            f"session_model({model.__name__}) needs a model whose every field has a default: "
            f"a session may hold nothing yet, and {model.__name__}() fails ({error})"
        ) from None

    async def read_model(session: SessionDep) -> M:
        return _models_of(session).read(session, key, model)

    read_model.__name__ = f"session_model_{model.__name__}_{key}"
    return Depends(read_model)


class _Read:
    """A model read from the session in this request."""

    __slots__ = ("dumped", "model", "stored")

    def __init__(self, model: BaseModel, stored: Any, dumped: str) -> None:
        self.model = model
        #: The object under the key when the model was read (or last written back)
        self.stored = stored
        #: The model's JSON then
        self.dumped = dumped


class _Models:
    """The models read through :func:`session_model` in one request, by key. The session calls
    it just before it is saved (``Session._on_save``), and it writes back those that changed."""

    __slots__ = ("by_key",)

    def __init__(self) -> None:
        self.by_key: dict[str, _Read] = {}

    def read(self, session: Session, key: str, model: type[M]) -> M:
        read = self.by_key.get(key)
        if read is not None:
            if type(read.model) is not model:
                raise TypeError(
                    f"session[{key!r}] is read as {type(read.model).__name__} and as "
                    f"{model.__name__} in one request: use one model per key"
                )
            return read.model
        stored = session.get(key, _MISSING)
        instance = None if stored is _MISSING else _validated(model, key, stored)
        if instance is None:
            instance = model()
        self.by_key[key] = _Read(instance, stored, instance.model_dump_json())
        return instance

    def __call__(self, session: Session) -> None:
        state = session._state
        if state.id is None and state.retired_id is not None:
            return  # the session was ended (invalidate()): nothing read before is written back
        for key, read in self.by_key.items():
            dumped = read.model.model_dump_json()
            if dumped == read.dumped:
                continue
            if dict.get(session, key, _MISSING) is not read.stored:
                logger.warning(
                    "scsession: session[%r] was changed both directly and through "
                    "session_model(%s) in one request; the direct change is kept",
                    key,
                    type(read.model).__name__,
                )
                continue
            value = json.loads(dumped)
            session[key] = value
            read.stored, read.dumped = value, dumped


def _models_of(session: Session) -> _Models:
    """The request's :class:`_Models`, registered on the session at its first use."""
    session._load()  # opening a session resets its _on_save
    hooks = session._on_save
    if hooks is None:
        hooks = session._on_save = []
    for hook in hooks:
        if isinstance(hook, _Models):
            return hook
    models = _Models()
    hooks.append(models)
    return models


def _validated(model: type[M], key: str, stored: Any) -> M | None:
    """`stored` as a `model`, or None (logged) if it is not one."""
    try:
        return model.model_validate_json(json.dumps(stored))
    except (TypeError, ValueError) as error:  # ValidationError is a ValueError
        logger.warning(
            "scsession: session[%r] is not a valid %s, so the handler gets a fresh one (the "
            "stored data is kept unless the handler changes it): %s",
            key,
            model.__name__,
            error,
        )
        return None
