"""scsession.testing's helpers for an app's tests: start a client with a session, read what a
response's session cookie holds."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from scsession import MemoryStore, SessionTooLargeError
from scsession.testing import read_session, session_cookie

from .support import HTTPS, KEY, KEY_A, KEY_B, Clock, make_app, no_set_cookie

TYPED = {
    "user": "ada",
    "visits": 3,
    "since": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    "born": date(1815, 12, 10),
    "token": b"\x00\xff",
    "ids": (UUID(int=1), UUID(int=2)),
    "price": Decimal("9.99"),
    "tags": {"admin"},
}


async def dark_theme(request: Request) -> Response:
    request.session["theme"] = "dark"
    return PlainTextResponse("ok")


def cookie_client(**options: Any) -> TestClient:
    """A TestClient on the tiny app with cookie sessions (no store), and `/dark` (POST) that
    sets a theme without showing the session."""
    routes = [Route("/dark", dark_theme, methods=["POST"])]
    return TestClient(make_app(routes=routes, **options), base_url=HTTPS)


# -- session_cookie: a test starts with a session ------------------------------------------------


def test_a_session_cookie_starts_the_client_in_that_session() -> None:
    client = cookie_client()
    client.cookies.set("session", session_cookie(KEY, {"user": "ada", "cart": ["socks"]}))
    assert client.get("/view").json() == {"session": {"user": "ada", "cart": ["socks"]}}
    response = client.post("/append", json={"key": "cart", "value": "hat"})
    assert read_session(KEY, response) == {"user": "ada", "cart": ["socks", "hat"]}


def test_values_keep_their_types_through_the_app() -> None:
    client = cookie_client()
    client.cookies.set("session", session_cookie(KEY, TYPED))
    assert read_session(KEY, client.cookies["session"]) == TYPED
    response = client.post("/dark")
    assert read_session(KEY, response) == {**TYPED, "theme": "dark"}


def test_a_session_cookie_is_a_new_session_that_is_not_rewritten_unchanged() -> None:
    client = cookie_client()
    client.cookies.set("session", session_cookie(KEY, {"user": "ada"}))
    first_id = client.get("/id").json()["id"]
    assert first_id is not None
    response = client.get("/view")
    assert no_set_cookie(response), "read, not changed: the browser keeps the test's cookie"
    other = cookie_client()
    other.cookies.set("session", session_cookie(KEY, {"user": "ada"}))
    assert other.get("/id").json()["id"] != first_id, "each cookie is a session of its own"


def test_a_custom_cookie_name_and_a_key_ring() -> None:
    ring = [KEY_B, KEY_A]
    client = cookie_client(secret_key=ring, cookie_name="__Host-sid")
    client.cookies.set(
        "__Host-sid", session_cookie(ring, {"user": "ada"}, cookie_name="__Host-sid")
    )
    assert client.get("/view").json() == {"session": {"user": "ada"}}
    response = client.post("/update", json={"n": 1})
    assert read_session(ring, response, cookie_name="__Host-sid") == {"user": "ada", "n": 1}
    # The app sealed it under the first key: the old key alone no longer opens it.
    with pytest.raises(ValueError, match="does not open"):
        read_session(KEY_A, response, cookie_name="__Host-sid")
    assert read_session(KEY_B, response, cookie_name="__Host-sid") == {"user": "ada", "n": 1}


def test_a_cookie_made_with_an_older_key_of_the_ring_opens_too() -> None:
    client = cookie_client(secret_key=[KEY_B, KEY_A])
    client.cookies.set("session", session_cookie(KEY_A, {"user": "ada"}))
    assert client.get("/view").json() == {"session": {"user": "ada"}}


def test_a_cookie_made_for_another_name_or_key_opens_nothing() -> None:
    client = cookie_client()
    client.cookies.set("session", session_cookie(KEY, {"user": "ada"}, cookie_name="other"))
    assert client.get("/view").json() == {"session": {}}
    client.cookies.set("session", session_cookie(KEY_A, {"user": "ada"}))
    assert client.get("/view").json() == {"session": {}}


def test_the_session_is_created_at_the_clock_the_middleware_reads(clock: Clock) -> None:
    client = cookie_client(max_age=60)
    clock.advance(-3600)  # made an hour ago, by the moved clock
    client.cookies.set("session", session_cookie(KEY, {"user": "ada"}))
    clock.advance(59)
    assert client.get("/view").json() == {"session": {"user": "ada"}}
    clock.advance(2)
    assert client.get("/view").json() == {"session": {}}, "past max_age"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"ok": 1, "obj": object()}, "obj"),
        ({"fn": len}, "fn"),
        ({"nested": {"deep": [object()]}}, "nested"),
    ],
)
def test_a_value_that_cannot_be_stored_is_a_type_error_naming_its_key(
    data: dict[str, Any], key: str
) -> None:
    with pytest.raises(TypeError, match=repr(key)):
        session_cookie(KEY, data)


def test_a_session_too_large_for_a_cookie_is_refused() -> None:
    with pytest.raises(SessionTooLargeError, match="4096"):
        session_cookie(KEY, {"blob": "x" * 5000})


def test_a_short_key_is_refused_as_by_the_middleware() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        session_cookie("short", {})
    with pytest.raises(TypeError, match="secret_key"):
        session_cookie(42, {})  # type: ignore[arg-type]


# -- read_session: what a response wrote -------------------------------------------------------


def test_read_session_returns_the_id_in_store_mode() -> None:
    client = TestClient(make_app(store=MemoryStore()), base_url=HTTPS)
    response = client.post("/update", json={"user": "ada"})
    session_id = read_session(KEY, response)
    assert isinstance(session_id, str)
    assert session_id == client.get("/id").json()["id"], "what the app sees as session.id"
    assert read_session(KEY, client.cookies["session"]) == session_id
    regenerated = client.post("/regenerate")
    assert read_session(KEY, regenerated) == regenerated.json()["new"] != session_id


def test_a_response_that_deletes_the_cookie_reads_as_no_session(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    client.post("/update", json={"user": "ada"})
    assert read_session(KEY, client.post("/invalidate")) is None
    client.post("/update", json={"user": "bob"})
    assert read_session(KEY, client.post("/clear")) is None


def test_a_response_that_sets_no_cookie_is_a_lookup_error(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    with pytest.raises(LookupError, match="sets no 'session' cookie"):
        read_session(KEY, client.get("/view"))
    client.post("/update", json={"user": "ada"})
    with pytest.raises(LookupError, match=r"client\.cookies\['session'\]"):
        read_session(KEY, client.get("/view"))
    assert read_session(KEY, client.cookies["session"]) is not None


def test_a_cookie_of_another_name_in_the_response_is_not_read() -> None:
    client = cookie_client(cookie_name="sid")
    response = client.post("/update", json={"user": "ada"})
    with pytest.raises(LookupError, match="'session'"):
        read_session(KEY, response)
    assert read_session(KEY, response, cookie_name="sid") == {"user": "ada"}


@pytest.mark.parametrize(
    ("secret", "cookie_name", "tamper", "why"),
    [
        (KEY_A, "session", False, "(none of the keys given|signed with another key)"),
        (KEY, "other", False, "another cookie name"),
        (KEY, "session", True, "does not verify"),
    ],
)
def test_a_cookie_that_does_not_open_is_a_value_error_saying_why(
    make_client: Callable[..., TestClient], secret: str, cookie_name: str, tamper: bool, why: str
) -> None:
    client = make_client()
    client.post("/update", json={"user": "ada"})
    value = client.cookies["session"]
    if tamper:
        value = value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB")
    with pytest.raises(ValueError, match=f"^the '{cookie_name}' cookie does not open: .*{why}"):
        read_session(secret, value, cookie_name=cookie_name)


def test_a_value_that_is_no_scsession_cookie_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not an scsession cookie"):
        read_session(KEY, "hello")


def test_read_session_takes_a_cookie_value_or_a_response_only() -> None:
    with pytest.raises(TypeError, match="get_list"):
        read_session(KEY, {"set-cookie": "session=x"})  # type: ignore[arg-type]


def test_the_helpers_import_without_pytest() -> None:
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "from scsession.testing import read_session, session_cookie\n"
        f"key = {KEY!r}\n"
        "assert read_session(key, session_cookie(key, {'a': 1})) == {'a': 1}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
