"""`Session.bind_user` and the per-user index as an app sees it (the index itself is checked on
every store by `UserIndexConformance` in test_store_servers.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import uuid
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from scsession import MemoryStore, RedisStore
from scsession.testing import Browser

from .servers import RedisServer
from .support import (
    HTTPS,
    KEY,
    KEY_A,
    KEY_B,
    Clock,
    DictStore,
    make_app,
    run_store_call,
    session_of,
)


async def bind(request: Request) -> Response:
    body = await request.json()
    session = session_of(request)
    try:
        session.bind_user(body["user"], user_agent=request.headers.get("user-agent"))
    except (TypeError, ValueError, RuntimeError) as error:
        return JSONResponse({"error": type(error).__name__, "message": str(error)})
    return JSONResponse({"bound": session.bound_user, "session": dict(session)})


ROUTES = [Route("/bind", bind, methods=["POST"])]


def client_for(store: Any, **options: Any) -> TestClient:
    return TestClient(make_app(store=store, routes=ROUTES, **options), base_url=HTTPS)


def test_bind_user_needs_a_server_side_store() -> None:
    answer = client_for(None).post("/bind", json={"user": "ada"}).json()
    assert answer["error"] == "RuntimeError"
    assert "needs a server-side store" in answer["message"]
    assert "store=RedisStore(url)" in answer["message"]


def test_bind_user_with_a_store_that_has_no_index_says_so() -> None:
    answer = client_for(DictStore()).post("/bind", json={"user": "ada"}).json()
    assert answer["error"] == "TypeError"
    assert "DictStore keeps no per-user index" in answer["message"]


@pytest.mark.parametrize(
    ("user", "error"),
    [(True, "TypeError"), (None, "TypeError"), (1.5, "TypeError"), ("", "ValueError")],
)
def test_user_ids_are_non_empty_str_or_int(user: Any, error: str) -> None:
    answer = client_for(MemoryStore()).post("/bind", json={"user": user}).json()
    assert answer["error"] == error, answer


def test_the_store_refuses_bad_user_ids_too() -> None:
    store = MemoryStore()
    store.use_secret_key(KEY)
    with pytest.raises(TypeError, match="a user id must be a str or an int"):
        run_store_call(store.sessions_for_user(b"ada"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        run_store_call(store.invalidate_user(""))


def test_the_index_needs_the_apps_secret_and_says_how_to_give_it() -> None:
    store = MemoryStore()
    with pytest.raises(RuntimeError, match=r"store\.use_secret_key\(secret_key\)"):
        run_store_call(store.sessions_for_user("ada"))
    client_for(store).post("/bind", json={"user": "ada"})  # the middleware hands it over
    assert len(run_store_call(store.sessions_for_user("ada"))) == 1


def test_the_index_does_not_reveal_user_ids_and_is_keyed_by_the_secret(
    redis_server: RedisServer,
) -> None:
    """A leaked Redis shows index keys that no dictionary of user ids reverses: an HMAC of the
    id under a key derived from the secret, not a plain hash of it."""
    prefix = f"{uuid.uuid4().hex[:8]}:"
    store = RedisStore(redis_server.url, prefix=prefix)
    client_for(store).post("/bind", json={"user": 42})
    scan = ["redis-cli", "-h", "127.0.0.1", "-p", str(redis_server.port), "--scan"]
    listed = subprocess.run([*scan, "--pattern", f"{prefix}user:*"], capture_output=True)
    keys = listed.stdout.decode().split()
    assert len(keys) == 1
    for guess in range(1000):  # what an attacker with the dump would try
        plain = base64.urlsafe_b64encode(hashlib.sha256(str(guess).encode()).digest())
        assert plain.rstrip(b"=").decode() not in keys[0]
    assert len(run_store_call(store.sessions_for_user(42))) == 1
    other = RedisStore(redis_server.url, prefix=prefix)
    other.use_secret_key(KEY_B)  # another app's secret: it does not find this user
    assert run_store_call(other.sessions_for_user(42)) == []


def test_a_session_bound_before_the_secret_was_rotated_is_still_listed_and_ended() -> None:
    store = MemoryStore()
    old = client_for(store, secret_key=KEY_A)
    old.post("/bind", json={"user": "ada"})
    rotated = client_for(store, secret_key=[KEY_B, KEY_A])
    rotated.post("/bind", json={"user": "ada"})
    assert len(run_store_call(store.sessions_for_user("ada"))) == 2
    assert run_store_call(store.invalidate_user("ada")) == 2
    assert old.get("/view").json() == {"session": {}}


def test_the_binding_is_part_of_the_session() -> None:
    store = MemoryStore()
    client = client_for(store)
    answer = client.post("/bind", json={"user": 42}, headers={"user-agent": "Firefox"}).json()
    assert answer["bound"] == "42"
    assert answer["session"]["_bound_user"] == {"id": "42", "user_agent": "Firefox"}
    long_agent = "Mozilla/5.0 " + "x" * 2000
    answer = client.post("/bind", json={"user": 42}, headers={"user-agent": long_agent}).json()
    assert answer["session"]["_bound_user"]["user_agent"] == long_agent[:512]
    (entry,) = run_store_call(store.sessions_for_user(42))
    assert entry.user_agent == long_agent[:512]


def test_each_write_of_a_bound_session_moves_its_last_seen(clock: Clock) -> None:
    store = MemoryStore()
    client = client_for(store, idle_timeout=600)
    client.post("/bind", json={"user": "ada"})
    (first,) = run_store_call(store.sessions_for_user("ada"))
    assert first.created == first.last_seen == clock.now
    assert first.expires_at == clock.now + 600
    clock.advance(100)
    client.post("/update", json={"cart": 1})
    (later,) = run_store_call(store.sessions_for_user("ada"))
    assert (later.created, later.last_seen, later.expires_at) == (
        first.created,
        clock.now,
        clock.now + 600,
    )


def test_invalidate_user_signs_out_a_request_already_in_flight() -> None:
    """A request that loaded the session before invalidate_user ran cannot write it back."""
    store = MemoryStore()
    gate = asyncio.Event()
    arrived = asyncio.Event()

    async def slow(request: Request) -> Response:
        request.session["late"] = True
        arrived.set()
        await gate.wait()
        return JSONResponse({})

    app = Starlette(routes=[Route("/slow", slow)])  # Browser puts the middleware around it

    async def story() -> None:
        browser = Browser(store)
        await browser.get("/bind?user=ada")
        held = Browser(store, browser.cookie, app=app)
        task = asyncio.create_task(held.get("/slow"))
        await asyncio.wait_for(arrived.wait(), 10)
        assert await store.invalidate_user("ada") == 1
        gate.set()
        await task
        # No Set-Cookie at all (not a deletion, which could drop a newer cookie of a sign-in):
        # the old cookie stays in the browser and opens nothing.
        assert held.cookie == browser.cookie
        assert await Browser(store, browser.cookie).get("/") == {}
        assert await store.sessions_for_user("ada") == []

    asyncio.run(story())
