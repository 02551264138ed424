"""`on_store_error`: what requests meet while the store is down, in process, with a store written
in Python that raises ConnectionError while "down" (real servers stopped and restarted under
uvicorn: tests/test_outage_http.py; every built-in store: tests/test_store_servers.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from scsession import RedisStore
from scsession._outage import PROBE_EVERY

from .support import HTTPS, ReplaceStore, make_app, no_set_cookie, the_set_cookie


class FlakyStore(ReplaceStore):
    """A ReplaceStore whose server can be "stopped": every call raises ConnectionError."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.down_on_write = False  # up for loading, down for saving
        self.slow = 0.0  # seconds a failing load waits first (a timeout)
        self.loads = 0

    def _check(self, writing: bool = False) -> None:
        if self.down or (writing and self.down_on_write):
            raise ConnectionError("connection refused (the test stopped the store)")

    async def load(self, id: str) -> bytes | None:
        self.loads += 1
        if self.down and self.slow:
            await asyncio.sleep(self.slow)
        self._check()
        return await super().load(id)

    async def save(self, id: str, data: bytes, ttl_seconds: int) -> None:
        self._check(writing=True)
        await super().save(id, data, ttl_seconds)

    async def replace(self, id: str, expected: bytes, data: bytes, ttl_seconds: int) -> str:
        self._check(writing=True)
        return await super().replace(id, expected, data, ttl_seconds)

    async def delete(self, id: str) -> None:
        self._check(writing=True)
        await super().delete(id)


async def public(request: Request) -> Response:
    return PlainTextResponse("a page that never looks at the session")


ROUTES = [Route("/public", public)]


def signed_in(policy: str) -> tuple[FlakyStore, TestClient]:
    store = FlakyStore()
    app = make_app(store=store, routes=ROUTES, on_store_error=policy)
    client = TestClient(app, base_url=HTTPS)
    client.post("/update", json={"user": "ada"})
    assert len(store.records) == 1
    return store, client


def outage_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_fail_answers_503_to_requests_that_use_the_session_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, client = signed_in("fail")
    store.down = True
    assert client.get("/public").status_code == 200
    for _ in range(3):
        response = client.get("/view")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert no_set_cookie(response)
    assert client.post("/update", json={"x": 1}).status_code == 503
    assert client.post("/invalidate").status_code == 503, "a sign-out is not pretended"
    (line,) = outage_lines(caplog, "is unavailable")
    assert "ConnectionError" in line and "answered 503" in line
    assert not [r for r in caplog.records if r.exc_info], "no traceback per request"
    store.down = False
    assert client.get("/view").json() == {"session": {"user": "ada"}}
    (back,) = outage_lines(caplog, "answers again after")
    assert "6 requests met the outage" in back  # the public page's too: its cookie was read


def test_anonymous_runs_requests_with_an_empty_session_that_is_never_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, client = signed_in("anonymous")
    before = dict(store.records)
    store.down = True
    assert client.get("/public").status_code == 200
    response = client.get("/view")
    assert response.status_code == 200 and response.json() == {"session": {}}
    response = client.post("/update", json={"cart": "tea"})
    assert response.status_code == 200 and no_set_cookie(response)
    assert len(outage_lines(caplog, "is unavailable")) == 1
    store.down = False
    assert store.records == before, "nothing was written during the outage"
    assert client.get("/view").json() == {"session": {"user": "ada"}}


def test_anonymous_sign_out_during_an_outage_still_removes_the_cookie_and_later_the_record() -> (
    None
):
    store, client = signed_in("anonymous")
    cookie = client.cookies["session"]
    store.down = True
    response = client.post("/invalidate")
    assert response.status_code == 200
    assert the_set_cookie(response).deletes
    store.down = False
    assert client.get("/view").json() == {"session": {}}, "this browser is signed out"
    # Another request after the store is back: the record of the session signed out during
    # the outage is deleted then, so a copy of the old cookie opens nothing either.
    other = TestClient(client.app, base_url=HTTPS)
    other.post("/update", json={"someone": "else"})
    copy = TestClient(client.app, base_url=HTTPS, cookies={"session": cookie})
    assert copy.get("/view").json() == {"session": {}}
    assert len(store.records) == 1


def test_a_store_that_times_out_is_tried_once_a_second_while_down() -> None:
    store, client = signed_in("fail")
    store.down, store.slow = True, 0.3
    loads = store.loads
    started = time.monotonic()
    assert [client.get("/view").status_code for _ in range(5)] == [503] * 5
    assert time.monotonic() - started < 0.3 * 2, "only the first request waited"
    assert store.loads == loads + 1
    store.down = False
    time.sleep(PROBE_EVERY)
    assert client.get("/view").json() == {"session": {"user": "ada"}}


@pytest.mark.parametrize("policy", ["fail", "anonymous"])
def test_a_store_that_fails_while_saving(policy: str, caplog: pytest.LogCaptureFixture) -> None:
    store, client = signed_in(policy)
    store.down_on_write = True
    response = client.post("/update", json={"cart": "tea"})
    if policy == "fail":
        assert response.status_code == 503 and "Retry-After" in response.headers
    else:
        assert response.status_code == 200 and no_set_cookie(response)
    assert len(outage_lines(caplog, "is unavailable")) == 1
    store.down_on_write = False
    assert client.get("/view").json() == {"session": {"user": "ada"}}


def test_a_connection_error_of_the_handlers_own_is_passed_on() -> None:
    store = FlakyStore()

    async def uses_store(request: Request) -> Response:
        return JSONResponse({"record": await store.load("x" * 22)})

    client = TestClient(
        make_app(store=store, routes=[Route("/direct", uses_store)]), base_url=HTTPS
    )
    store.down = True
    with pytest.raises(ConnectionError):  # its own error, not ours: passed on
        client.get("/direct")


def test_on_store_error_takes_only_its_two_values() -> None:
    with pytest.raises(ValueError, match="on_store_error must be 'fail' or 'anonymous'"):
        TestClient(make_app(store=FlakyStore(), on_store_error="retry")).get("/view")


def test_a_request_without_a_session_cookie_never_waits_for_a_built_in_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing to load, so nothing is asked of the store: a store that is down goes unnoticed
    by visitors without a session (a refused port stands for one)."""
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    store = RedisStore(f"redis://127.0.0.1:{port}/0", connect_timeout=0.5, timeout=0.5)
    client = TestClient(make_app(store=store, routes=ROUTES), base_url=HTTPS)
    with caplog.at_level("ERROR", logger="scsession"):
        for _ in range(3):
            response = client.get("/public")
            assert response.status_code == 200 and no_set_cookie(response)
    assert "unavailable" not in caplog.text
    assert client.get("/view").status_code == 200, "an empty new session needs no store either"
    assert "unavailable" not in caplog.text
