"""Moving from Starlette's SessionMiddleware or starsessions to scsession (`migrate_from`).

Every old session here is made by the real old middleware: a Starlette app with
`starlette.middleware.sessions.SessionMiddleware`, or one with starsessions' `SessionMiddleware`
and its `RedisStore` on a real redis-server. One browser (one cookie jar) signs in there, then
visits the app after the switch to SCsessionMiddleware.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys
import types
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import itsdangerous
import pytest
import redis
import redis.asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starsessions import SessionAutoloadMiddleware
from starsessions import SessionMiddleware as StarsessionsMiddleware
from starsessions.stores.redis import RedisStore as StarsessionsRedisStore

from scsession import MemoryStore, RedisStore, SCsessionMiddleware
from scsession.migrate import StarletteCookie, StarsessionsRedis
from scsession.stores import Store

from .servers import RedisServer, free_port
from .support import HTTPS, KEY, Clock, cookie_header, make_app, set_cookies, the_set_cookie

OLD_KEY = "the-old-starlette-secret"  # Starlette never checked its key's strength
TWO_WEEKS = 14 * 24 * 60 * 60


# --- the old app: Starlette's own SessionMiddleware --------------------------------------------


async def old_sign_in(request: Request) -> Response:
    request.session.update(await request.json())
    return JSONResponse(dict(request.session))


async def old_view(request: Request) -> Response:
    return JSONResponse(dict(request.session))


OLD_ROUTES = [Route("/sign-in", old_sign_in, methods=["POST"]), Route("/view", old_view)]


def starlette_app(secret_key: str = OLD_KEY, **options: Any) -> Starlette:
    return Starlette(
        routes=OLD_ROUTES,
        middleware=[Middleware(StarletteSessionMiddleware, secret_key=secret_key, **options)],
    )


def signed_in_under_starlette(
    data: dict[str, Any] | None = None, secret_key: str = OLD_KEY, **options: Any
) -> TestClient:
    """A browser that signed in to the old app (Starlette's SessionMiddleware)."""
    browser = TestClient(starlette_app(secret_key, **options), base_url=HTTPS)
    response = browser.post("/sign-in", json=data or {"user": "ada"})
    assert response.status_code == 200
    return browser


def starlette_cookie_value(data: dict[str, Any], secret_key: str = OLD_KEY) -> str:
    """The cookie value Starlette's SessionMiddleware sets for `data`."""
    jar = signed_in_under_starlette(data, secret_key).cookies
    return str(jar["session"])


def after_the_switch(
    browser: TestClient, *, store: Any = None, source: Any = None, **options: Any
) -> TestClient:
    """The same browser (its cookie jar) on the app now behind SCsessionMiddleware."""
    app = make_app(store=store, migrate_from=source or StarletteCookie(OLD_KEY), **options)
    return TestClient(app, base_url=HTTPS, cookies=browser.cookies)


def sent_cookies(client: TestClient) -> dict[str, str]:
    return {cookie.name: str(cookie.value) for cookie in client.cookies.jar}


# --- from Starlette's SessionMiddleware ----------------------------------------------------------


def test_user_signed_in_under_starlette_stays_signed_in_after_the_switch(
    new_store: Callable[[], Any],
) -> None:
    old_browser = signed_in_under_starlette({"user": "ada", "cart": ["socks"]})
    old_value = sent_cookies(old_browser)["session"]
    browser = after_the_switch(old_browser, store=new_store())

    response = browser.get("/view")
    assert response.json() == {"session": {"user": "ada", "cart": ["socks"]}}
    new_cookie = the_set_cookie(response)  # one Set-Cookie for "session": it replaces the old
    assert not new_cookie.deletes and new_cookie.value != old_value
    assert sent_cookies(browser) == {"session": new_cookie.value}

    response = browser.get("/view")
    assert response.json() == {"session": {"user": "ada", "cart": ["socks"]}}
    assert set_cookies(response) == []


def test_with_load_on_demand_a_starlette_user_is_migrated_as_the_request_comes_in(
    new_store: Callable[[], Any],
) -> None:
    async def loaded(request: Request) -> Response:
        import scsession

        return JSONResponse(dict(await scsession.load_session(request)))

    old_browser = signed_in_under_starlette({"user": "ada"})
    app = make_app(
        store=new_store(),
        migrate_from=StarletteCookie(OLD_KEY),
        load="on_demand",
        routes=[Route("/loaded", loaded)],
    )
    browser = TestClient(app, base_url=HTTPS, cookies=old_browser.cookies)
    response = browser.get("/loaded")
    assert response.json() == {"user": "ada"}
    assert not the_set_cookie(response).deletes  # the old cookie is replaced by a new one
    response = browser.get("/loaded")
    assert response.json() == {"user": "ada"}
    assert set_cookies(response) == []


def test_the_new_cookie_works_without_migrate_from_and_the_old_one_does_not(
    new_store: Callable[[], Any],
) -> None:
    store = new_store()
    old_browser = signed_in_under_starlette()
    old_value = sent_cookies(old_browser)["session"]
    new_value = the_set_cookie(after_the_switch(old_browser, store=store).get("/view")).value

    later = TestClient(make_app(store=store), base_url=HTTPS)  # migrate_from removed
    assert later.get("/view", headers=cookie_header(new_value)).json() == {
        "session": {"user": "ada"}
    }
    assert later.get("/view", headers=cookie_header(old_value)).json() == {"session": {}}


def test_cookie_mode_migrates_at_the_first_request_that_uses_the_session() -> None:
    browser = after_the_switch(signed_in_under_starlette())
    old_value = sent_cookies(browser)["session"]

    response = browser.get("/untouched")
    assert response.status_code == 200 and set_cookies(response) == []
    assert sent_cookies(browser) == {"session": old_value}, "the old cookie is left alone"

    assert browser.get("/view").json() == {"session": {"user": "ada"}}
    assert sent_cookies(browser)["session"] != old_value


def test_store_mode_migrates_even_when_the_handler_never_touches_the_session() -> None:
    store = MemoryStore()
    browser = after_the_switch(signed_in_under_starlette(), store=store)

    response = browser.get("/untouched")
    assert response.status_code == 200
    assert not the_set_cookie(response).deletes
    assert len(store) == 1
    assert browser.get("/view").json() == {"session": {"user": "ada"}}


def test_renamed_old_cookie_is_deleted_with_its_path_and_domain(
    new_store: Callable[[], Any],
) -> None:
    old_browser = signed_in_under_starlette(session_cookie="old_session")
    source = StarletteCookie(OLD_KEY, cookie_name="old_session", path="/", domain=None)
    browser = after_the_switch(old_browser, store=new_store(), source=source)

    response = browser.get("/view")
    assert response.json() == {"session": {"user": "ada"}}
    assert not the_set_cookie(response, "session").deletes
    deletion = the_set_cookie(response, "old_session")
    assert deletion.deletes and deletion.attrs["path"] == "/" and "domain" not in deletion.attrs
    assert set(sent_cookies(browser)) == {"session"}
    assert browser.get("/view").json() == {"session": {"user": "ada"}}


def test_old_cookie_on_another_domain_is_deleted_on_that_domain() -> None:
    source = StarletteCookie(OLD_KEY, cookie_name="old", domain="example.org")
    app = make_app(migrate_from=source)
    client = TestClient(app, base_url=HTTPS)
    response = client.get("/view", headers={"cookie": f"old={starlette_cookie_value({'u': 1})}"})
    assert response.json() == {"session": {"u": 1}}
    deletion = the_set_cookie(response, "old")
    assert deletion.deletes and deletion.attrs["domain"] == "example.org"
    # Starlette's cookie and scsession's are told apart by name, Path and Domain: here the
    # names are equal but the Domains differ, so the old one needs its own deletion.
    same_name = make_app(migrate_from=StarletteCookie(OLD_KEY, domain="example.org"))
    response = TestClient(same_name, base_url=HTTPS).get(
        "/view", headers={"cookie": f"session={starlette_cookie_value({'u': 1})}"}
    )
    assert [(c.name, c.deletes) for c in set_cookies(response)] == [
        ("session", False),
        ("session", True),
    ]
    assert set_cookies(response)[1].attrs["domain"] == "example.org"


def test_valid_scsession_cookie_wins_and_a_leftover_old_cookie_is_deleted(
    new_store: Callable[[], Any],
) -> None:
    store = new_store()
    source = StarletteCookie(OLD_KEY, cookie_name="old_session")
    client = TestClient(make_app(store=store, migrate_from=source), base_url=HTTPS)
    client.post("/update", json={"user": "grace"})
    leftover = starlette_cookie_value({"user": "ada"})
    client.cookies.set("old_session", leftover)

    response = client.get("/view")
    assert response.json() == {"session": {"user": "grace"}}
    assert [(c.name, c.deletes) for c in set_cookies(response)] == [("old_session", True)]


def test_sign_out_on_the_migrating_request_removes_the_old_cookie_too(
    new_store: Callable[[], Any],
) -> None:
    browser = after_the_switch(signed_in_under_starlette(), store=new_store())
    response = browser.post("/invalidate")
    assert response.json() == {"old": None, "session": {}}
    assert the_set_cookie(response).deletes, "one header for the name: the deletion"
    assert sent_cookies(browser) == {}
    assert browser.get("/view").json() == {"session": {}}


def test_every_json_value_starlette_stored_survives_migration(
    new_store: Callable[[], Any],
) -> None:
    data = {
        "big": 2**100,
        "negative": -(2**70),
        "float": 0.1,
        "huge_float": 1e308,
        "text": "Grüße, 世界 \u2028",
        "flags": [True, False, None],
        "nested": {"a": [1, {"b": []}], "": "empty key"},
    }
    browser = after_the_switch(signed_in_under_starlette(data), store=new_store())
    assert browser.get("/view").json() == {"session": data}
    assert browser.get("/view").json() == {"session": data}


def old_cookie_signed_by_itsdangerous(payload: bytes, secret_key: str = OLD_KEY) -> str:
    """A cookie as Starlette's signer signs it, around a payload Starlette would not write."""
    signed = itsdangerous.TimestampSigner(secret_key).sign(base64.b64encode(payload))
    return signed.decode()


def tamper(value: str, index: int) -> str:
    swapped = "A" if value[index] != "A" else "B"
    return value[:index] + swapped + value[index + 1 :]


BAD_OLD_COOKIES: dict[str, Callable[[], str]] = {
    "signed with another key": lambda: starlette_cookie_value({"user": "eve"}, "another-key"),
    "data changed": lambda: tamper(starlette_cookie_value({"user": "ada"}), 2),
    "timestamp changed": lambda: tamper(
        starlette_cookie_value({"user": "ada"}),
        starlette_cookie_value({"user": "ada"}).index(".") + 2,
    ),
    "signature changed": lambda: tamper(starlette_cookie_value({"user": "ada"}), -3),
    "signature cut off": lambda: starlette_cookie_value({"user": "ada"}).rpartition(".")[0],
    "garbage": lambda: "not-a-cookie",
    "three dots": lambda: "...",
    "not ascii": lambda: "caf\u00e9.x.y",
    "oversized": lambda: "A" * 100_000 + "." + starlette_cookie_value({"user": "ada"}),
    "Starlette's deletion value": lambda: "null",
    "signed JSON list": lambda: old_cookie_signed_by_itsdangerous(b"[1, 2]"),
    "signed empty object": lambda: old_cookie_signed_by_itsdangerous(b"{}"),
    "signed broken JSON": lambda: old_cookie_signed_by_itsdangerous(b'{"user": '),
    "signed non-UTF-8": lambda: old_cookie_signed_by_itsdangerous(b'{"user": "\xff"}'),
    "signed 100 000 nested lists": lambda: old_cookie_signed_by_itsdangerous(
        b"[" * 100_000 + b"]" * 100_000
    ),
}


@pytest.mark.parametrize("make_value", BAD_OLD_COOKIES.values(), ids=BAD_OLD_COOKIES.keys())
def test_bad_old_cookies_open_a_fresh_session(
    make_value: Callable[[], str], new_store: Callable[[], Any]
) -> None:
    client = TestClient(
        make_app(store=new_store(), migrate_from=StarletteCookie(OLD_KEY)), base_url=HTTPS
    )
    response = client.get("/view", headers=cookie_header(make_value().encode("latin-1")))
    assert response.status_code == 200
    assert response.json() == {"session": {}}
    assert set_cookies(response) == [], "nothing to replace: the name is scsession's too"


def test_bad_renamed_old_cookie_is_deleted() -> None:
    source = StarletteCookie(OLD_KEY, cookie_name="old")
    client = TestClient(make_app(migrate_from=source), base_url=HTTPS)
    forged = starlette_cookie_value({"user": "eve"}, "another-key")
    response = client.get("/view", headers={"cookie": f"old={forged}"})
    assert response.json() == {"session": {}}
    assert [(c.name, c.deletes) for c in set_cookies(response)] == [("old", True)]


def test_expired_starlette_cookie_opens_a_fresh_session(
    clock: Clock, new_store: Callable[[], Any]
) -> None:
    old_browser = signed_in_under_starlette()
    clock.advance(TWO_WEEKS + 1)
    browser = after_the_switch(old_browser, store=new_store())
    assert browser.get("/view").json() == {"session": {}}


@pytest.mark.parametrize("age", [0, 59, 60, 61, -1])
def test_the_old_cookie_age_limit_agrees_with_starlette(
    age: int, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = starlette_cookie_value({"user": "ada"})
    signed_at = itsdangerous.TimestampSigner(OLD_KEY).unsign(value, return_timestamp=True)[1]
    now = int(signed_at.timestamp()) + age
    clock.now = now
    # Starlette's own verdict at that time (itsdangerous reads time.time through its module).
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: now))
    starlette = TestClient(starlette_app(max_age=60), base_url=HTTPS)
    starlette_says = starlette.get("/view", headers={"cookie": f"session={value}"}).json()

    app = make_app(migrate_from=StarletteCookie(OLD_KEY, max_age=60))
    response = TestClient(app, base_url=HTTPS).get("/view", headers={"cookie": f"session={value}"})
    assert response.json() == {"session": starlette_says}
    assert starlette_says == ({"user": "ada"} if 0 <= age <= 60 else {})


def test_old_session_too_large_for_a_scsession_cookie_is_a_fresh_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Floats are 5 bytes of JSON here, and take more in scsession's typed format.
    old_browser = signed_in_under_starlette({"f": [1.5] * 560})
    assert 3000 < len(sent_cookies(old_browser)["session"]) < 4000
    browser = after_the_switch(old_browser)
    with caplog.at_level(logging.WARNING, logger="scsession"):
        response = browser.get("/view")
    assert response.status_code == 200 and response.json() == {"session": {}}
    assert "too large for a cookie" in caplog.text
    # With a store it fits.
    again = after_the_switch(old_browser, store=MemoryStore())
    assert again.get("/view").json() == {"session": {"f": [1.5] * 560}}


def test_old_values_nested_deeper_than_scsession_stores_open_a_fresh_session(
    caplog: pytest.LogCaptureFixture, new_store: Callable[[], Any]
) -> None:
    deep: Any = "bottom"
    for _ in range(40):
        deep = [deep]
    browser = after_the_switch(signed_in_under_starlette({"deep": deep}), store=new_store())
    with caplog.at_level(logging.WARNING, logger="scsession"):
        assert browser.get("/view").json() == {"session": {}}
    assert "was not migrated" in caplog.text and "bottom" not in caplog.text


def test_without_migrate_from_a_starlette_cookie_is_just_a_bad_cookie(
    new_store: Callable[[], Any],
) -> None:
    old_browser = signed_in_under_starlette()
    browser = TestClient(make_app(store=new_store()), base_url=HTTPS, cookies=old_browser.cookies)
    response = browser.get("/view")
    assert response.status_code == 200 and response.json() == {"session": {}}


def test_migrated_session_is_reported_as_created(new_store: Callable[[], Any]) -> None:
    events: list[tuple[str, list[str]]] = []
    browser = after_the_switch(
        signed_in_under_starlette(),
        store=new_store(),
        on_event=lambda event: events.append((event.kind, list(event.changed))),
    )
    browser.get("/view")
    assert events == [("created", ["user"])]


def test_migrate_from_refuses_anything_but_a_session_source() -> None:
    with pytest.raises(TypeError, match="migrate_from"):
        SCsessionMiddleware(make_app(), secret_key=KEY, migrate_from="session")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="secret_key"):
        StarletteCookie("")


# --- from starsessions with Redis ----------------------------------------------------------------


async def starsessions_sign_in(request: Request) -> Response:
    request.session.update(await request.json())
    return JSONResponse(dict(request.session))


async def starsessions_sign_out(request: Request) -> Response:
    request.session.clear()
    return PlainTextResponse("bye")


@asynccontextmanager
async def starsessions_app(url: str, prefix: str) -> AsyncIterator[Starlette]:
    """The old app: starsessions' SessionMiddleware with its RedisStore on `url`."""
    connection = redis.asyncio.Redis.from_url(url)
    store = StarsessionsRedisStore(connection=connection, prefix=prefix)
    app = Starlette(
        routes=[
            Route("/sign-in", starsessions_sign_in, methods=["POST"]),
            Route("/sign-out", starsessions_sign_out, methods=["POST"]),
        ],
        middleware=[
            Middleware(StarsessionsMiddleware, store=store, lifetime=TWO_WEEKS),
            Middleware(SessionAutoloadMiddleware),
        ],
    )
    try:
        yield app
    finally:
        await connection.aclose()


@pytest.fixture
def prefix() -> str:
    return f"starsessions-{uuid.uuid4().hex[:8]}."


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def browser_on(app: Any, cookies: Any = None) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=HTTPS, cookies=cookies
    )


async def sign_in_under_starsessions(url: str, prefix: str, data: dict[str, Any]) -> Any:
    """A browser's cookie jar after signing in to the old app."""
    async with starsessions_app(url, prefix) as old, browser_on(old) as browser:
        response = await browser.post("/sign-in", json=data)
        assert response.status_code == 200
        return browser.cookies


@pytest.mark.parametrize("scsession_store", ["redis", "memory", "cookie"])
def test_starsessions_user_moves_into_scsession_under_a_new_id(
    scsession_store: str, redis_server: RedisServer, redis_client: redis.Redis, prefix: str
) -> None:
    url = redis_server.url
    store: Store | None = None
    if scsession_store == "redis":
        store = RedisStore(url, prefix=f"sc-{uuid.uuid4().hex[:8]}:")
    elif scsession_store == "memory":
        store = MemoryStore()
    source = StarsessionsRedis(url, prefix=prefix)

    async def story() -> None:
        jar = await sign_in_under_starsessions(url, prefix, {"user": "ada", "roles": ["admin"]})
        old_id = jar["session"]
        record = json.loads(redis_client.get(prefix + old_id) or b"")
        assert record["user"] == "ada" and "__metadata__" in record  # the real format

        app = make_app(store=store, migrate_from=source)
        async with browser_on(app, jar) as browser:
            response = await browser.get("/view")
            assert response.json() == {"session": {"user": "ada", "roles": ["admin"]}}
            assert not the_set_cookie(response).deletes
            assert redis_client.exists(prefix + old_id) == 0, "the old record is deleted"
            response = await browser.get("/id")
            new_id = response.json()["id"]
            assert new_id is not None and new_id != old_id
            assert set_cookies(response) == []
        if store is not None:
            assert await store.load(new_id) is not None, "saved in scsession's store"

    asyncio.run(story())


def test_replaying_the_old_starsessions_cookie_gets_a_fresh_session(
    redis_server: RedisServer, prefix: str
) -> None:
    source = StarsessionsRedis(redis_server.url, prefix=prefix)

    async def story() -> None:
        jar = await sign_in_under_starsessions(redis_server.url, prefix, {"user": "ada"})
        stolen = jar["session"]
        app = make_app(store=MemoryStore(), migrate_from=source)
        async with browser_on(app, jar) as browser:
            assert (await browser.get("/view")).json() == {"session": {"user": "ada"}}
        async with browser_on(app) as thief:
            response = await thief.get("/view", headers={"cookie": f"session={stolen}"})
            assert response.json() == {"session": {}}
            assert set_cookies(response) == []

    asyncio.run(story())


def test_sign_out_right_after_migration_does_not_bring_the_old_session_back(
    redis_server: RedisServer, redis_client: redis.Redis, prefix: str
) -> None:
    source = StarsessionsRedis(redis_server.url, prefix=prefix)

    async def story() -> None:
        jar = await sign_in_under_starsessions(redis_server.url, prefix, {"user": "ada"})
        old_id = jar["session"]
        app = make_app(store=MemoryStore(), migrate_from=source)
        async with browser_on(app, jar) as browser:
            assert (await browser.get("/view")).json() == {"session": {"user": "ada"}}
            assert (await browser.post("/invalidate")).json()["session"] == {}
            assert (await browser.get("/view")).json() == {"session": {}}
        async with browser_on(app) as replay:
            response = await replay.get("/view", headers={"cookie": f"session={old_id}"})
            assert response.json() == {"session": {}}
        assert redis_client.exists(prefix + old_id) == 0

    asyncio.run(story())


def test_sign_out_on_the_migrating_request_deletes_the_old_record(
    redis_server: RedisServer, redis_client: redis.Redis, prefix: str
) -> None:
    source = StarsessionsRedis(redis_server.url, prefix=prefix)

    async def story() -> None:
        jar = await sign_in_under_starsessions(redis_server.url, prefix, {"user": "ada"})
        old_id = jar["session"]
        app = make_app(store=MemoryStore(), migrate_from=source)
        async with browser_on(app, jar) as browser:
            response = await browser.post("/invalidate")
            assert response.json() == {"old": None, "session": {}}
            assert the_set_cookie(response).deletes
        assert redis_client.exists(prefix + old_id) == 0

    asyncio.run(story())


@pytest.mark.parametrize("mode", ["cookie", "memory"])
def test_ten_parallel_requests_with_the_old_cookie_leave_the_browser_signed_in(
    mode: str, redis_server: RedisServer, redis_client: redis.Redis, prefix: str
) -> None:
    source = StarsessionsRedis(redis_server.url, prefix=prefix)

    async def story() -> None:
        jar = await sign_in_under_starsessions(redis_server.url, prefix, {"user": "ada"})
        old_id = jar["session"]
        app = make_app(store=None if mode == "cookie" else MemoryStore(), migrate_from=source)
        async with browser_on(app, jar) as browser:
            responses = await asyncio.gather(*(browser.get("/view") for _ in range(10)))
            assert all(r.status_code == 200 for r in responses)
            migrated = [r for r in responses if r.json() == {"session": {"user": "ada"}}]
            stragglers = [r for r in responses if r.json() == {"session": {}}]
            assert migrated and len(migrated) + len(stragglers) == 10
            for response in stragglers:  # found the record gone: nothing written over
                assert set_cookies(response) == []
            assert browser.cookies["session"] != old_id
            assert (await browser.get("/view")).json() == {"session": {"user": "ada"}}
        assert redis_client.exists(prefix + old_id) == 0

    asyncio.run(story())


def test_ids_starsessions_never_makes_are_not_looked_up(
    redis_server: RedisServer, redis_client: redis.Redis, prefix: str
) -> None:
    redis_client.set(prefix + "planted", json.dumps({"user": "eve"}))
    redis_client.set(prefix + "A" * 32, json.dumps({"user": "eve"}))
    source = StarsessionsRedis(redis_server.url, prefix=prefix)

    async def story() -> None:
        app = make_app(store=MemoryStore(), migrate_from=source)
        async with browser_on(app) as browser:
            for value in ["planted", "A" * 32, "*", ""]:
                response = await browser.get("/view", headers={"cookie": f"session={value}"})
                assert response.json() == {"session": {}}

    asyncio.run(story())
    assert redis_client.exists(prefix + "planted") == 1


@pytest.mark.parametrize("mode", ["cookie", "memory"])
def test_old_redis_down_answers_503_and_keeps_the_old_cookie(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = StarsessionsRedis(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5)
    cookie = {"cookie": f"session={uuid.uuid4().hex}"}

    async def story() -> None:
        app = make_app(store=None if mode == "cookie" else MemoryStore(), migrate_from=source)
        async with browser_on(app) as browser:
            response = await browser.get("/view", headers=cookie)
            assert response.status_code == 503 and set_cookies(response) == []
            response = await browser.get("/untouched", headers=cookie)
            assert response.status_code == 200 and set_cookies(response) == []

    with caplog.at_level(logging.ERROR, logger="scsession"):
        asyncio.run(story())
    assert caplog.text.count("is unavailable") == 1


@pytest.mark.parametrize("mode", ["cookie", "memory"])
def test_old_redis_down_with_anonymous_policy_runs_the_request_and_keeps_the_old_cookie(
    mode: str,
) -> None:
    source = StarsessionsRedis(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5)
    app = make_app(
        store=None if mode == "cookie" else MemoryStore(),
        migrate_from=source,
        on_store_error="anonymous",
    )
    client = TestClient(app, base_url=HTTPS)
    cookie = {"cookie": f"session={uuid.uuid4().hex}"}
    response = client.post("/update", json={"visited": True}, headers=cookie)
    assert response.status_code == 200 and response.json() == {"session": {"visited": True}}
    assert set_cookies(response) == [], "never written, so the old cookie stays for later"


def test_starsessions_redis_without_redis_py_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match="pip install redis"):
        StarsessionsRedis("redis://127.0.0.1:6379/0")


def test_starsessions_redis_repr_hides_the_password() -> None:
    source = StarsessionsRedis("redis://:p/ss@w0rd@127.0.0.1:6379/0")
    assert "w0rd" not in repr(source) and "127.0.0.1:6379/0" in repr(source)


def test_the_old_key_need_not_pass_scsession_key_checks() -> None:
    # The old key only has to open old cookies: it is not scsession's key and need not be 32 bytes.
    assert make_app(secret_key=KEY, migrate_from=StarletteCookie("short"))


# --- users already on scsession, and the migrated session's life ---------------------------------


def test_users_already_on_scsession_see_no_change_from_migrate_from(
    clock: Clock, new_store: Callable[[], Any]
) -> None:
    # The names are equal: every request's "session" cookie is also tried as the old cookie.
    app = make_app(store=new_store(), idle_timeout=1000, migrate_from=StarletteCookie(OLD_KEY))
    client = TestClient(app, base_url=HTTPS)
    client.post("/update", json={"user": "grace"})
    clock.advance(500)  # past the point where a use of the session rewrites the cookie
    assert set_cookies(client.get("/untouched")) == [], "an untouched session is not used"
    assert client.get("/view").json() == {"session": {"user": "grace"}}


@pytest.mark.parametrize("mode", ["cookie", "memory"])
def test_users_already_on_scsession_never_wait_for_the_old_redis(mode: str) -> None:
    down = StarsessionsRedis(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    app = make_app(store=None if mode == "cookie" else MemoryStore(), migrate_from=down)
    client = TestClient(app, base_url=HTTPS)
    client.post("/update", json={"user": "grace"})
    response = client.get("/view")
    assert response.status_code == 200 and response.json() == {"session": {"user": "grace"}}
    assert client.get("/untouched").status_code == 200


def test_a_copied_starlette_cookie_opens_a_session_while_migrate_from_is_configured() -> None:
    # Starlette's cookies are self-contained: there is nothing to revoke. Each use of a copy
    # starts a new scsession session, until the old cookie expires or migrate_from goes.
    copied = starlette_cookie_value({"user": "ada"})
    app = make_app(migrate_from=StarletteCookie(OLD_KEY))
    for _ in range(2):
        response = TestClient(app, base_url=HTTPS).get("/view", headers=cookie_header(copied))
        assert response.json() == {"session": {"user": "ada"}}
    assert TestClient(make_app(), base_url=HTTPS).get(
        "/view", headers=cookie_header(copied)
    ).json() == {"session": {}}


def test_the_migrated_session_lives_its_max_age_from_the_migration(
    clock: Clock, new_store: Callable[[], Any]
) -> None:
    old_browser = signed_in_under_starlette()
    clock.advance(TWO_WEEKS - 60)  # the old cookie is nearly expired
    browser = after_the_switch(old_browser, store=new_store(), max_age=3600)
    assert browser.get("/view").json() == {"session": {"user": "ada"}}
    clock.advance(3599)
    assert browser.get("/view").json() == {"session": {"user": "ada"}}
    clock.advance(2)
    assert browser.get("/view").json() == {"session": {}}
