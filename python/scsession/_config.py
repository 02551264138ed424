"""The middleware's options, checked once: what the engine takes, and what it warns about.

The engine (``_core.Engine``) checks the cookie's name and attributes itself; here are the
checks of what only Python sees: the types of the secrets, the policies' spellings, and the
startup warnings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from scsession import _core
from scsession._secrets import check_secrets
from scsession.session import Host

__all__ = ["check_lifetime", "host_for", "secrets_of"]

logger = logging.getLogger("scsession")


def secrets_of(secret_key: str | bytes | Sequence[str | bytes]) -> list[bytes]:
    """The secrets as bytes, the first sealing; a warning for any a person made up."""
    keys = [secret_key] if isinstance(secret_key, str | bytes) else secret_key
    if not isinstance(keys, Sequence) or not all(isinstance(k, str | bytes) for k in keys):
        raise TypeError(
            "secret_key must be a str or bytes of at least 32 bytes, or a list of them "
            "(make one with `python -m scsession keygen`)"
        )
    check_secrets(secret_key)
    return [key.encode() if isinstance(key, str) else bytes(key) for key in keys]


def check_lifetime(max_age: int | None, idle_timeout: int | None, on_store_error: str) -> None:
    for name, value in (("max_age", max_age), ("idle_timeout", idle_timeout)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be a positive number of seconds or None")
    if on_store_error not in ("fail", "anonymous"):
        raise ValueError(f"on_store_error must be 'fail' or 'anonymous', not {on_store_error!r}")
    if max_age is None and idle_timeout is None:
        logger.warning(
            "scsession: max_age=None and idle_timeout=None: sessions have no server-side "
            "time limit at all, so a stolen cookie works forever. Set max_age (absolute "
            "lifetime) or idle_timeout (seconds of inactivity), or both."
        )


def host_for(store: Any, indexed: bool, engine: _core.Engine, max_age: int | None) -> Host:
    """What sessions of this middleware are told about where they live."""
    return Host(_index_problem(store, indexed), engine, max_age)


def _index_problem(store: Any, indexed: bool) -> Exception | None:
    """Why ``bind_user`` cannot work with `store`, if it cannot."""
    if store is None:
        return RuntimeError(
            "bind_user() needs a server-side store, e.g. SCsessionMiddleware(..., "
            "store=RedisStore(url)): a cookie session has no server record that "
            "invalidate_user() could end"
        )
    if not indexed:
        return TypeError(
            f"{type(store).__name__} keeps no per-user index, so bind_user() cannot work "
            "with it; every store built into scsession has one"
        )
    return None
