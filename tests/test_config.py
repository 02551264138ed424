"""Constructing the middleware: keys, options that browsers would reject, pass-through scopes."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from scsession import MemoryStore, SCsessionMiddleware, SessionError, SessionTooLargeError

from .support import HTTPS, KEY, Clock, make_app

# Recognisable, 31 bytes: one short of the minimum.
SHORT_KEY = "SHORT-secret-do-not-print-me-31"
assert len(SHORT_KEY.encode()) == 31
LONG_KEY = "LONG-secret-that-must-never-be-printed-anywhere-0123456789"


async def noop_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("not called")


BAD_KEYS: dict[str, Any] = {
    "empty str": "",
    "empty bytes": b"",
    "31 ASCII characters": SHORT_KEY,
    "31 bytes": os.urandom(31),
    "16 characters but 31 UTF-8 bytes": "é" * 15 + "a",
    "list with a short key": [KEY, SHORT_KEY],
    "list starting with a short key": [SHORT_KEY, KEY],
    "empty list": [],
}


@pytest.mark.parametrize("secret_key", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_short_key_is_refused_with_instructions(secret_key: Any) -> None:
    with pytest.raises(ValueError, match=r"python -m scsession keygen") as info:
        SCsessionMiddleware(noop_app, secret_key=secret_key)
    assert SHORT_KEY not in str(info.value)
    assert SHORT_KEY not in repr(info.value)


GOOD_KEYS: dict[str, Any] = {
    "32 ASCII characters": "k" * 32,
    "32 random bytes": os.urandom(32),
    "16 characters, 32 UTF-8 bytes": "é" * 16,
    "64 characters": "x" * 64,
    "list of keys": [KEY, b"y" * 32],
}


@pytest.mark.parametrize("secret_key", GOOD_KEYS.values(), ids=GOOD_KEYS.keys())
def test_keys_of_32_bytes_or_more_work(secret_key: Any) -> None:
    client = TestClient(make_app(secret_key=secret_key), base_url=HTTPS)
    client.post("/update", json={"a": 1})
    assert client.get("/view").json() == {"session": {"a": 1}}


def secret_forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, repr(raw), raw.hex(), secret[8:40]]


@pytest.mark.parametrize("with_store", [False, True], ids=["cookie", "memory"])
def test_key_never_appears_in_a_repr(with_store: bool) -> None:
    store = MemoryStore() if with_store else None
    middleware = SCsessionMiddleware(noop_app, secret_key=[LONG_KEY, KEY], store=store)
    shown = [repr(middleware), str(middleware)]
    shown += (
        [repr(value) for value in vars(middleware).values()]
        if hasattr(middleware, "__dict__")
        else []
    )
    for text in shown:
        for form in secret_forms(LONG_KEY) + secret_forms(KEY):
            assert form not in text


def test_key_never_appears_in_a_session_error() -> None:
    client = TestClient(make_app(secret_key=LONG_KEY), base_url=HTTPS)
    with pytest.raises(SessionTooLargeError) as info:
        client.post("/update", json={"big": os.urandom(3000).hex()})
    for form in secret_forms(LONG_KEY):
        assert form not in str(info.value)


def test_same_site_none_without_https_is_refused() -> None:
    with pytest.raises(ValueError, match=r"(?i)same.?site|https"):
        SCsessionMiddleware(
            noop_app, secret_key=KEY, cookie_same_site="none", cookie_https_only=False
        )


def test_same_site_none_with_https_is_accepted() -> None:
    SCsessionMiddleware(noop_app, secret_key=KEY, cookie_same_site="none")


def test_session_too_large_is_a_session_error() -> None:
    assert issubclass(SessionTooLargeError, SessionError)
    assert issubclass(SessionError, Exception)


def test_lifespan_passes_through_the_middleware() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = make_app()
    app.router.lifespan_context = lifespan
    with TestClient(app, base_url=HTTPS) as client:
        assert events == ["startup"]
        client.post("/update", json={"a": 1})
        assert client.get("/view").json() == {"session": {"a": 1}}
    assert events == ["startup", "shutdown"]


def test_lifespan_scope_reaches_the_app_untouched() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        message = await receive()
        await send({"type": "lifespan.startup.complete"})
        assert message["type"] == "lifespan.startup"

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = SCsessionMiddleware(app, secret_key=KEY)
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    asyncio.run(middleware(scope, receive, send))
    assert seen == [scope]
    assert "session" not in seen[0]
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_middleware_in_a_starlette_middleware_list_takes_keyword_options(clock: Clock) -> None:
    app = Starlette(
        routes=make_app().routes,
        middleware=[
            Middleware(
                SCsessionMiddleware,
                secret_key=KEY,
                store=None,
                cookie_name="sid",
                max_age=60,
                idle_timeout=30,
                cookie_path="/",
                cookie_domain=None,
                cookie_https_only=True,
                cookie_same_site="strict",
            )
        ],
    )
    client = TestClient(app, base_url=HTTPS)
    response = client.post("/update", json={"a": 1})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sid=")
    assert "SameSite=Strict".lower() in cookie.lower()
    assert "Max-Age=30".lower() in cookie.lower()


@pytest.mark.parametrize("with_store", [False, True], ids=["cookie", "memory"])
def test_key_never_appears_in_a_log_line(
    with_store: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = MemoryStore() if with_store else None
    client = TestClient(make_app(store=store, secret_key=[LONG_KEY, KEY]), base_url=HTTPS)
    client.post("/update", json={"a": 1})
    value = client.cookies["session"]
    for bad in ["garbage", value[:-2], value[:4] + "AAAA" + value[8:]]:
        client.get("/view", headers={"cookie": f"session={bad}"})
    client.post("/invalidate")
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    for form in secret_forms(LONG_KEY) + secret_forms(KEY):
        assert form not in logged


BAD_COOKIE_OPTIONS = {
    "name with space": {"cookie_name": "my session"},
    "name with semicolon": {"cookie_name": "s;HttpOnly"},
    "name with equals": {"cookie_name": "a=b"},
    "empty name": {"cookie_name": ""},
    "path injecting an attribute": {"cookie_path": "/; Domain=evil.example"},
    "path with newline": {"cookie_path": "/\r\nSet-Cookie: x=1"},
    "domain with semicolon": {"cookie_domain": "example.com; Secure"},
}


@pytest.mark.parametrize("options", BAD_COOKIE_OPTIONS.values(), ids=BAD_COOKIE_OPTIONS.keys())
def test_cookie_options_that_would_break_set_cookie_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        SCsessionMiddleware(noop_app, secret_key=KEY, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret_key", [None, 12345, ["x" * 32, None]])
def test_a_secret_of_the_wrong_type_says_what_is_expected(secret_key: Any) -> None:
    with pytest.raises(TypeError, match="python -m scsession keygen"):
        SCsessionMiddleware(noop_app, secret_key=secret_key)


# -- cookie prefixes -----------------------------------------------------------------------------

BROKEN_PREFIXES: dict[str, dict[str, Any]] = {
    "__Host- with a Domain": {"cookie_name": "__Host-session", "cookie_domain": "example.com"},
    "__Host- with a Path": {"cookie_name": "__Host-session", "cookie_path": "/app"},
    "__Host- without Secure": {"cookie_name": "__Host-session", "cookie_https_only": False},
    "__host- in lower case": {"cookie_name": "__host-session", "cookie_domain": "example.com"},
    "__Secure- without Secure": {"cookie_name": "__Secure-session", "cookie_https_only": False},
}


@pytest.mark.parametrize("options", BROKEN_PREFIXES.values(), ids=BROKEN_PREFIXES.keys())
def test_a_cookie_prefix_whose_rules_the_options_break_is_refused(options: dict[str, Any]) -> None:
    # Browsers would drop such a cookie without a word: every session would be lost.
    prefix = options["cookie_name"].split("-")[0] + "-"
    with pytest.raises(ValueError, match=f"(?i){prefix}.*browsers drop it"):
        SCsessionMiddleware(noop_app, secret_key=KEY, **options)


def test_host_and_secure_prefixes_work_when_their_rules_hold() -> None:
    prefixes: list[tuple[str, dict[str, Any]]] = [
        ("__Host-session", {}),
        ("__Secure-session", {"cookie_domain": "example.com", "cookie_path": "/app"}),
    ]
    for name, options in prefixes:
        client = TestClient(make_app(cookie_name=name, **options), base_url=HTTPS)
        response = client.post("/update", json={"a": 1})
        assert response.headers["set-cookie"].startswith(f"{name}=")


# -- startup warnings ----------------------------------------------------------------------------


def startup_warnings(caplog: pytest.LogCaptureFixture, **options: Any) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="scsession"):
        SCsessionMiddleware(noop_app, **options)
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_no_server_side_time_limit_at_all_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    secret = "0cTvPOu5Z4v0BhCm8oQXmY3M7EM-nJ1qZfGxw_Ux9Ao"  # keygen output: no warning of its own
    (warning,) = startup_warnings(caplog, secret_key=secret, max_age=None, idle_timeout=None)
    assert "no server-side time limit" in warning and "max_age" in warning
    assert startup_warnings(caplog, secret_key=secret, max_age=None, idle_timeout=600) == []
    assert startup_warnings(caplog, secret_key=secret) == []


@pytest.mark.parametrize(
    "secret",
    [
        "passwordpasswordpasswordpassword",  # a word repeated
        "correcthorsebatterystaplecorrecthorse",  # words
        "Correct-Horse-Battery-Staple-Tractor",  # Capitalized words
        "a" * 40,  # few distinct characters
        "0000000000000000000000000000000011111",
    ],
)
def test_a_secret_a_person_made_up_is_warned_about(
    secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    (warning,) = startup_warnings(caplog, secret_key=secret)
    assert "does not look random" in warning and "python -m scsession keygen" in warning
    assert secret not in warning, "the warning never shows the key"


def test_keygen_output_and_random_bytes_are_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from scsession.cli import keygen

    for _ in range(200):
        assert startup_warnings(caplog, secret_key=keygen()) == []
    assert startup_warnings(caplog, secret_key=os.urandom(32).hex()) == []
    assert startup_warnings(caplog, secret_key=os.urandom(32)) == []
