"""SCsessionMiddleware through HTTP: the session story, cookie attributes, one option per test.

Includes the behaviours of Starlette's own tests/middleware/test_session.py that apply here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from scsession import MemoryStore

from .support import (
    EPOCH_EXPIRES,
    HTTP,
    HTTPS,
    KEY,
    Clock,
    SpyStore,
    cookie_header,
    make_app,
    no_set_cookie,
    set_cookies,
    the_set_cookie,
)

MakeClient = Callable[..., TestClient]


def test_session_story_view_update_view_clear_view(make_client: MakeClient) -> None:
    client = make_client()

    response = client.get("/view")
    assert response.json() == {"session": {}}
    assert no_set_cookie(response)

    response = client.post("/update", json={"some": "data", "n": 1})
    assert response.json() == {"session": {"some": "data", "n": 1}}
    assert not the_set_cookie(response).deletes

    response = client.get("/view")
    assert response.json() == {"session": {"some": "data", "n": 1}}
    assert no_set_cookie(response), "a session that was only read must not be re-sent"

    response = client.post("/update", json={"n": 2})
    assert response.json() == {"session": {"some": "data", "n": 2}}
    assert not the_set_cookie(response).deletes

    response = client.post("/clear")
    assert response.json() == {"session": {}}
    assert the_set_cookie(response).deletes

    response = client.get("/view")
    assert response.json() == {"session": {}}
    assert no_set_cookie(response)


def test_handler_that_never_touches_the_session_sends_no_set_cookie(
    make_client: MakeClient,
) -> None:
    client = make_client()
    assert no_set_cookie(client.get("/untouched"))

    client.post("/update", json={"user": "alice"})
    response = client.get("/untouched")
    assert response.status_code == 200
    assert no_set_cookie(response)
    assert client.get("/view").json() == {"session": {"user": "alice"}}


def test_untouched_handler_sends_no_set_cookie_even_when_an_idle_refresh_is_due(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(idle_timeout=100)
    client.post("/update", json={"user": "alice"})
    clock.advance(50)  # a refresh is due (more than a tenth of idle_timeout)
    assert no_set_cookie(client.get("/untouched"))
    assert the_set_cookie(client.get("/view")), "touching the session does refresh it"


def test_new_session_left_empty_sends_no_set_cookie(make_client: MakeClient) -> None:
    client = make_client(routes=[Route("/set-then-del", set_then_delete)])
    assert no_set_cookie(client.get("/view"))
    assert no_set_cookie(client.post("/clear"))
    # Written and removed within one request: still a new session with no data.
    response = client.get("/set-then-del")
    assert response.json() == {"session": {}}
    assert no_set_cookie(response)


async def set_then_delete(request: Request) -> Response:
    request.session["a"] = 1
    del request.session["a"]
    return JSONResponse({"session": dict(request.session)})


def test_default_set_cookie_header_matches_the_contract(
    make_client: MakeClient, clock: Clock
) -> None:
    response = make_client().post("/update", json={"a": 1})
    [header] = response.headers.get_list("set-cookie")
    assert re.fullmatch(
        r"session=[A-Za-z0-9_=-]+; Path=/; Max-Age=1209600; HttpOnly; Secure; SameSite=Lax", header
    ), header


def test_emptied_session_deletes_cookie_with_max_age_0_and_epoch_expires(
    make_client: MakeClient,
) -> None:
    client = make_client()
    client.post("/update", json={"a": 1, "b": 2})
    response = client.post("/delete", json=["a", "b"])
    deleted = the_set_cookie(response)
    assert deleted.attrs["max-age"] == "0"
    assert deleted.attrs["expires"] == EPOCH_EXPIRES
    assert client.get("/view").json() == {"session": {}}


def test_expired_session_is_empty(make_client: MakeClient, clock: Clock) -> None:
    client = make_client(max_age=100)
    client.post("/update", json={"some": "data"})
    clock.advance(101)
    response = client.get("/view")
    assert response.status_code == 200
    assert response.json() == {"session": {}}
    assert no_set_cookie(response)


def test_secure_cookie_is_not_sent_back_over_plain_http(make_client: MakeClient) -> None:
    client = make_client(base_url=HTTP)  # cookie_https_only=True is the default
    response = client.post("/update", json={"some": "data"})
    assert "secure" in the_set_cookie(response).attrs
    assert client.get("/view").json() == {"session": {}}


def test_https_only_false_drops_secure_and_works_over_http(make_client: MakeClient) -> None:
    client = make_client(base_url=HTTP, cookie_https_only=False)
    response = client.post("/update", json={"some": "data"})
    cookie = the_set_cookie(response)
    assert "secure" not in cookie.attrs
    assert "httponly" in cookie.attrs
    assert client.get("/view").json() == {"session": {"some": "data"}}


def test_max_age_none_sets_a_browser_session_cookie(make_client: MakeClient) -> None:
    client = make_client(max_age=None)
    cookie = the_set_cookie(client.post("/update", json={"some": "data"}))
    assert "max-age" not in cookie.attrs
    assert "expires" not in cookie.attrs
    assert client.get("/view").json() == {"session": {"some": "data"}}


def test_max_age_sets_max_age_attribute(make_client: MakeClient, clock: Clock) -> None:
    cookie = the_set_cookie(make_client(max_age=3600).post("/update", json={"a": 1}))
    assert cookie.attrs["max-age"] == "3600"


def test_cookie_domain_is_set_and_cookie_comes_back_from_a_subdomain(
    make_client: MakeClient,
) -> None:
    client = make_client(base_url="https://www.example.com", cookie_domain="example.com")
    cookie = the_set_cookie(client.post("/update", json={"some": "data"}))
    assert cookie.attrs["domain"].lstrip(".") == "example.com"
    assert client.get("/view").json() == {"session": {"some": "data"}}


def test_no_domain_attribute_by_default(make_client: MakeClient) -> None:
    cookie = the_set_cookie(make_client().post("/update", json={"a": 1}))
    assert "domain" not in cookie.attrs


async def echo_cookie(request: Request) -> Response:
    return PlainTextResponse(request.headers.get("cookie", ""))


def test_session_cookie_on_a_subpath(new_store: Callable[[], Any]) -> None:
    second_app = make_app(store=new_store(), cookie_path="/second_app")
    app = Starlette(routes=[Mount("/second_app", app=second_app), Route("/elsewhere", echo_cookie)])
    client = TestClient(app, base_url=HTTPS)

    response = client.post("/second_app/update", json={"some": "data"})
    assert the_set_cookie(response).attrs["path"] == "/second_app"
    assert client.get("/second_app/view").json() == {"session": {"some": "data"}}
    assert client.get("/elsewhere").text == "", "the cookie must stay on its path"

    response = client.post("/second_app/clear")
    assert the_set_cookie(response).attrs["path"] == "/second_app"
    assert client.get("/second_app/view").json() == {"session": {}}


def test_cookie_name_option(make_client: MakeClient) -> None:
    client = make_client(cookie_name="sid")
    response = client.post("/update", json={"a": 1})
    assert [c.name for c in set_cookies(response)] == ["sid"]
    assert client.get("/view").json() == {"session": {"a": 1}}
    assert "sid" in client.cookies and "session" not in client.cookies


@pytest.mark.parametrize("option", ["lax", "strict", "none"])
def test_same_site_attribute(make_client: MakeClient, option: str) -> None:
    cookie = the_set_cookie(make_client(cookie_same_site=option).post("/update", json={"a": 1}))
    assert cookie.attrs["samesite"].lower() == option
    assert "httponly" in cookie.attrs
    assert "secure" in cookie.attrs


def test_invalid_session_cookie_gives_an_empty_session(make_client: MakeClient) -> None:
    client = make_client()
    response = client.get("/view", headers=cookie_header("invalid"))
    assert response.status_code == 200
    assert response.json() == {"session": {}}
    assert no_set_cookie(response)


def test_bad_cookie_is_replaced_by_a_new_session_when_the_handler_writes(
    make_client: MakeClient,
) -> None:
    client = make_client()
    response = client.post("/update", json={"fresh": True}, headers=cookie_header("invalid"))
    cookie = the_set_cookie(response)
    assert not cookie.deletes and cookie.value != "invalid"
    assert client.get("/view", headers=cookie_header(cookie.value)).json() == {
        "session": {"fresh": True}
    }


# --- store mode ----------------------------------------------------------------------------------


async def store_calls_seen_by_handler(request: Request) -> Response:
    store: SpyStore = request.app.state.spy
    return JSONResponse({"calls": store.names(), "session": dict(request.session)})


def spy_client(spy: SpyStore, **options: Any) -> TestClient:
    app = make_app(store=spy, routes=[Route("/calls", store_calls_seen_by_handler)], **options)
    app.state.spy = spy
    return TestClient(app, base_url=HTTPS)


def test_store_session_is_loaded_before_the_handler() -> None:
    spy = SpyStore()
    client = spy_client(spy)
    client.post("/update", json={"user": "alice"})
    spy.calls.clear()
    body = client.get("/calls").json()
    assert body["calls"] == ["load"], "the store is awaited before the handler runs"
    assert body["session"] == {"user": "alice"}


def test_store_is_not_asked_about_a_cookie_without_a_valid_mac() -> None:
    spy = SpyStore()
    client = spy_client(spy)
    response = client.post("/update", json={"user": "alice"})
    value = the_set_cookie(response).value
    spy.calls.clear()
    forged = value[:5] + ("A" if value[5] != "A" else "B") + value[6:]
    for bad in [forged, "invalid", value[:-3]]:
        body = client.get("/calls", headers=cookie_header(bad)).json()
        assert body == {"calls": [], "session": {}}


def test_store_read_but_unchanged_writes_nothing() -> None:
    spy = SpyStore()
    client = spy_client(spy)
    client.post("/update", json={"user": "alice", "items": [1, 2]})
    spy.calls.clear()
    response = client.get("/view")
    assert response.json() == {"session": {"user": "alice", "items": [1, 2]}}
    assert no_set_cookie(response)
    assert spy.names() == ["load"]
    response = client.post("/update", json={"user": "alice"})  # same value again
    assert no_set_cookie(response)
    assert spy.names() == ["load", "load"]


def test_store_emptied_session_deletes_the_record() -> None:
    spy = SpyStore()
    client = spy_client(spy)
    response = client.post("/update", json={"user": "alice"})
    old = the_set_cookie(response).value
    [(saved_id, _, _)] = spy.saved
    spy.calls.clear()
    assert the_set_cookie(client.post("/clear")).deletes
    assert ("delete", saved_id) in spy.calls
    assert not any(name in ("save", "update") for name in spy.names())
    assert client.get("/view", headers=cookie_header(old)).json() == {"session": {}}


def test_store_ttl_is_the_remaining_lifetime(clock: Clock) -> None:
    spy = SpyStore()
    client = spy_client(spy, max_age=1000)
    response = client.post("/update", json={"user": "alice"})
    [(_, _, ttl)] = spy.saved
    assert ttl == int(the_set_cookie(response).attrs["max-age"]) == 1000


def test_store_blob_does_not_contain_the_data_in_clear() -> None:
    spy = SpyStore()
    client = spy_client(spy)
    client.post("/update", json={"secret": "correct horse battery staple"})
    [(_, blob, _)] = spy.saved
    assert isinstance(blob, bytes)
    assert b"correct horse" not in blob


def test_store_unknown_id_with_a_valid_mac_is_not_adopted() -> None:
    key_store, other_store = MemoryStore(), MemoryStore()
    issued = TestClient(make_app(store=key_store), base_url=HTTPS)
    value = the_set_cookie(issued.post("/update", json={"user": "alice"})).value
    # Same key, but this server never issued the id: well-formed, MAC valid, record unknown.
    client = TestClient(make_app(store=other_store), base_url=HTTPS)
    assert client.get("/view", headers=cookie_header(value)).json() == {"session": {}}
    response = client.post("/update", json={"user": "mallory"}, headers=cookie_header(value))
    assert the_set_cookie(response).value != value
    old_id = issued.get("/id", headers=cookie_header(value)).json()["id"]
    assert client.get("/id").json()["id"] != old_id


def test_store_logged_out_session_is_never_written_back_by_a_slow_request() -> None:
    """A request that loaded the session before a logout must not resurrect it when it ends."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_write(request: Request) -> Response:
        assert request.session["user"] == "alice"
        entered.set()
        await release.wait()
        request.session["cart"] = ["book"]
        return JSONResponse({"ok": True})

    app = make_app(store=MemoryStore(), routes=[Route("/slow", slow_write, methods=["POST"])])

    async def story() -> None:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=HTTPS) as client:
            response = await client.post("/update", json={"user": "alice"})
            old = cookie_header(the_set_cookie(response).value)
            slow = asyncio.create_task(client.post("/slow", headers=old))
            await asyncio.wait_for(entered.wait(), 5)
            logout = await client.post("/invalidate", headers=old)
            assert the_set_cookie(logout).deletes
            release.set()
            assert (await asyncio.wait_for(slow, 5)).status_code == 200
            replay = await client.get("/view", headers=old)
            assert replay.json() == {"session": {}}

    asyncio.run(story())


def test_same_key_bytes_and_str_open_each_other(new_store: Callable[[], Any]) -> None:
    store = new_store()
    as_str = TestClient(make_app(store=store, secret_key=KEY), base_url=HTTPS)
    as_bytes = TestClient(make_app(store=store, secret_key=KEY.encode()), base_url=HTTPS)
    value = the_set_cookie(as_str.post("/update", json={"a": 1})).value
    assert as_bytes.get("/view", headers=cookie_header(value)).json() == {"session": {"a": 1}}


def test_a_cookie_header_stuffed_with_copies_costs_at_most_two_store_reads() -> None:
    """150 copies of a signed id and a handful of other valid ids (signed out long ago, still
    carrying a valid MAC): each distinct id is tried once, and at most two are tried."""
    store = SpyStore()
    client = TestClient(make_app(store=store), base_url=HTTPS)
    old_cookies = []
    for _ in range(5):
        client.post("/update", json={"user": "ada"})
        old_cookies.append(client.cookies["session"])
        client.post("/invalidate")
        client.cookies.clear()
    client.post("/update", json={"user": "ada"})
    live = client.cookies["session"]
    client.cookies.clear()
    store.calls.clear()
    header = "; ".join([f"session={live}"] * 150 + [f"session={c}" for c in old_cookies])
    assert client.get("/view", headers={"cookie": header}).json() == {"session": {"user": "ada"}}
    assert store.names().count("load") == 1
    store.calls.clear()
    signed_out_first = "; ".join([f"session={c}" for c in old_cookies] + [f"session={live}"])
    client.get("/view", headers={"cookie": signed_out_first})
    assert store.names().count("load") == 2, "two candidates at most, even if neither opens"
    store.calls.clear()
    client.get("/view", headers={"cookie": "; ".join([f"session={old_cookies[0]}"] * 150)})
    assert store.names().count("load") == 1, "150 copies of a signed-out id: one read"
