"""Fixtures. Most middleware tests take `make_client`, which runs each test twice: once with the
session sealed into the cookie (`store=None`) and once with a `MemoryStore()`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from scsession import MemoryStore

from .support import HTTPS, Clock, make_app

# Real servers on loopback (redis, cluster, memcached, postgres, mariadb), started on demand.
pytest_plugins = ["tests.servers"]

_DEFAULT: Any = object()


@pytest.fixture(params=["cookie", "memory"])
def mode(request: pytest.FixtureRequest) -> str:
    """Session data in the cookie, or in a MemoryStore."""
    return str(request.param)


@pytest.fixture
def new_store(mode: str) -> Callable[[], Any]:
    """A fresh store for the current mode (None in cookie mode)."""
    return lambda: None if mode == "cookie" else MemoryStore()


@pytest.fixture
def make_client(new_store: Callable[[], Any]) -> Callable[..., TestClient]:
    """`make_client(**middleware_options)`: a TestClient on https://testserver for the tiny app.

    Pass `store=` to share one store between clients, `base_url=` to change the origin,
    `secret_key=` to change the key and `routes=` to add endpoints.
    """

    def factory(*, store: Any = _DEFAULT, base_url: str = HTTPS, **options: Any) -> TestClient:
        if store is _DEFAULT:
            store = new_store()
        return TestClient(make_app(store=store, **options), base_url=base_url)

    return factory


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A frozen clock that the middleware reads through `scsession._clock.now`."""
    fake = Clock(int(time.time()))
    monkeypatch.setattr("scsession._clock.now", lambda: fake.now)
    return fake
