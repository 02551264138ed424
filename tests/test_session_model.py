"""scsession.fastapi.session_model: a pydantic model read from one session key and written back
when the session is saved, if the handler changed it."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from scsession import MemoryStore, SCsessionMiddleware
from scsession.fastapi import SessionDep, session_model
from scsession.testing import read_session

from .support import HTTPS, KEY, no_set_cookie, parse_set_cookie, the_set_cookie

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Item(BaseModel):
    name: str
    qty: int = 1


class Cart(BaseModel):
    items: list[Item] = Field(default_factory=list)
    coupon: str | None = None
    updated: datetime | None = None


class Prefs(BaseModel):
    model_config = ConfigDict(strict=True)  # strict: datetimes must still come back from JSON

    theme: str = "light"
    seen: datetime | None = None


CartDep = Annotated[Cart, session_model(Cart, key="cart")]
PrefsDep = Annotated[Prefs, session_model(Prefs, key="prefs")]


def make_app(store: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(SCsessionMiddleware, secret_key=KEY, store=store)

    @app.get("/cart")
    async def view(cart: CartDep) -> Cart:
        return cart

    @app.post("/cart/items")
    def add(cart: CartDep, name: str) -> Cart:
        cart.items.append(Item(name=name))
        cart.updated = NOON
        return cart

    @app.post("/cart/more")
    def more(cart: CartDep) -> Cart:
        cart.items[0].qty += 1  # deep inside a list: no assignment to the model itself
        return cart

    @app.post("/cart/coupon")
    def coupon(cart: CartDep, code: str) -> Cart:
        cart.coupon = code
        return cart

    @app.post("/prefs")
    def prefs(prefs: PrefsDep, theme: str) -> Prefs:
        prefs.theme, prefs.seen = theme, NOON
        return prefs

    @app.post("/cart-and-visits")
    def cart_and_visits(cart: CartDep, session: SessionDep) -> dict[str, Any]:
        cart.items.append(Item(name="gift"))
        session["visits"] = session.get("visits", 0) + 1
        return {"visits": session["visits"]}

    @app.get("/session")
    def whole_session(session: SessionDep) -> dict[str, Any]:
        return dict(session)

    @app.post("/session")
    def put(session: SessionDep, data: dict[str, Any]) -> None:
        session.update(data)

    @app.get("/twice")
    def twice(cart: CartDep, again: Annotated[Cart, session_model(Cart, key="cart")]) -> bool:
        return cart is again

    @app.get("/two-models-one-key")
    def two_models(
        cart: CartDep, other: Annotated[Prefs, session_model(Prefs, key="cart")]
    ) -> None:
        raise AssertionError("not reached")

    @app.post("/cart/refused")
    def refused(cart: CartDep, session: SessionDep) -> None:
        cart.items.append(Item(name="refused"))
        session["plain"] = "refused too"
        raise HTTPException(409, "out of stock")

    @app.post("/cart/crash")
    def crash(cart: CartDep) -> None:
        cart.items.append(Item(name="crash"))
        raise RuntimeError("a bug")

    @app.post("/cart/stream")
    def stream(cart: CartDep) -> StreamingResponse:
        cart.items.append(Item(name="streamed"))

        def body() -> Iterator[bytes]:
            yield b"one,"
            cart.items.append(Item(name="too late"))  # the headers (and the session) are out
            yield b"two"

        return StreamingResponse(body())

    @app.post("/cart/yielded/function")
    def yielded_function(
        cart: Annotated[Cart, exit_code_dependency("function")],
    ) -> None:
        cart.items.append(Item(name="yielded"))

    @app.post("/cart/yielded/request")
    def yielded_request(
        cart: Annotated[Cart, exit_code_dependency("request")],
    ) -> None:
        cart.items.append(Item(name="yielded"))

    @app.websocket("/ws")
    async def socket(websocket: WebSocket, cart: CartDep) -> None:
        cart.items.append(Item(name="before accept"))
        await websocket.accept()
        cart.coupon = "after accept"  # no response left to carry it
        await websocket.close()

    @app.post("/sign-out")
    def sign_out(cart: CartDep, session: SessionDep) -> None:
        cart.items.append(Item(name="after sign-out"))
        session.invalidate()

    @app.post("/cart/direct")
    def direct(cart: CartDep, session: SessionDep) -> None:
        cart.coupon = "through the model"
        session["cart"] = {"items": [], "coupon": "direct"}

    return app


def client_for(store: Any) -> TestClient:
    return TestClient(make_app(store), base_url=HTTPS)


def items(client: TestClient) -> list[tuple[str, int]]:
    return [(i["name"], i["qty"]) for i in client.get("/cart").json()["items"]]


# -- reading and writing back --------------------------------------------------------------------


def test_a_change_deep_in_the_model_is_saved(new_store: Callable[[], Any]) -> None:
    client = client_for(new_store())
    assert client.get("/cart").json() == {"items": [], "coupon": None, "updated": None}
    client.post("/cart/items", params={"name": "socks"})
    client.post("/cart/more")
    client.post("/cart/items", params={"name": "hat"})
    assert items(client) == [("socks", 2), ("hat", 1)]
    assert client.get("/cart").json()["updated"] == "2026-12-01T12:00:00Z"


def test_the_session_holds_the_models_json_dump() -> None:
    client = client_for(None)
    response = client.post("/cart/items", params={"name": "socks"})
    assert read_session(KEY, response) == {
        "cart": {
            "items": [{"name": "socks", "qty": 1}],
            "coupon": None,
            "updated": "2026-12-01T12:00:00Z",
        }
    }


def test_a_strict_model_with_a_datetime_comes_back(new_store: Callable[[], Any]) -> None:
    client = client_for(new_store())
    client.post("/prefs", params={"theme": "dark"})
    assert client.get("/session").json()["prefs"] == {
        "theme": "dark",
        "seen": "2026-12-01T12:00:00Z",
    }
    response = client.post("/prefs", params={"theme": "dark"})
    assert response.status_code == 200, "read back and validated as a datetime"
    assert no_set_cookie(response), "the same values again: no change"


def test_a_model_read_but_not_changed_costs_no_write(new_store: Callable[[], Any]) -> None:
    client = client_for(new_store())
    visitor = client.get("/cart")
    assert no_set_cookie(visitor), "a visitor's empty cart starts no session"
    assert client.get("/session").json() == {}
    client.post("/cart/items", params={"name": "socks"})
    assert no_set_cookie(client.get("/cart"))
    assert no_set_cookie(client.get("/twice"))


def test_a_model_change_and_a_plain_session_change_are_both_saved(
    new_store: Callable[[], Any],
) -> None:
    client = client_for(new_store())
    assert client.post("/cart-and-visits").json() == {"visits": 1}
    assert client.post("/cart-and-visits").json() == {"visits": 2}
    assert items(client) == [("gift", 1), ("gift", 1)]
    assert client.get("/session").json()["visits"] == 2


def test_dependencies_on_one_key_share_one_instance() -> None:
    client = client_for(None)
    assert client.get("/twice").json() is True


def test_two_models_on_one_key_in_one_request_is_an_error() -> None:
    client = TestClient(make_app(None), base_url=HTTPS, raise_server_exceptions=True)
    with pytest.raises(TypeError, match=r"session\['cart'\] is read as Cart and as Prefs"):
        client.get("/two-models-one-key")


# -- when it is written: with the session, as the response starts --------------------------------


def test_a_handler_that_raises_an_http_exception_saves_as_a_plain_change_would(
    new_store: Callable[[], Any],
) -> None:
    client = client_for(new_store())
    assert client.post("/cart/refused").status_code == 409
    assert items(client) == [("refused", 1)]
    assert client.get("/session").json()["plain"] == "refused too"


def test_a_handler_that_crashes_saves_nothing(new_store: Callable[[], Any]) -> None:
    client = TestClient(make_app(new_store()), base_url=HTTPS, raise_server_exceptions=False)
    client.post("/cart/items", params={"name": "socks"})
    assert client.post("/cart/crash").status_code == 500
    assert items(client) == [("socks", 1)]


def test_a_streamed_response_saves_what_the_handler_changed(
    new_store: Callable[[], Any],
) -> None:
    client = client_for(new_store())
    assert client.post("/cart/stream").text == "one,two"
    assert items(client) == [("streamed", 1)], "a change while streaming is too late, as for dicts"


class ResponseStarts:
    """An ASGI wrapper that logs "response started" into `log` as the headers go out."""

    def __init__(self, app: Any, log: list[str]) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def logged_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.log.append("response started")
            await send(message)

        await self.app(scope, receive, logged_send)


async def cart_with_exit_code(cart: CartDep, request: Request) -> AsyncIterator[Cart]:
    yield cart
    request.app.state.log.append("exit code")


#: FastAPI 0.121 added Depends(scope=...); from 0.106 until then, exit code ran before the
#: response started (the "function" order). make test-lowest runs FastAPI 0.110.
DEPENDS_HAS_SCOPE = "scope" in inspect.signature(Depends).parameters


def exit_code_dependency(scope: str) -> Any:
    if DEPENDS_HAS_SCOPE:
        return cast(Any, Depends)(cart_with_exit_code, scope=scope)
    return Depends(cart_with_exit_code)


@pytest.mark.parametrize(
    ("scope", "order"),
    [
        ("function", ["exit code", "response started"]),
        pytest.param(
            "request",
            ["response started", "exit code"],
            marks=pytest.mark.skipif(
                not DEPENDS_HAS_SCOPE, reason="FastAPI before 0.121 has no Depends(scope=...)"
            ),
        ),
    ],
)
def test_the_write_back_does_not_wait_for_dependency_exit_code(
    new_store: Callable[[], Any], scope: str, order: list[str]
) -> None:
    """FastAPI runs the exit code of a dependency with ``yield`` before or after the response,
    by version and ``scope``; the model is saved with the session either way."""
    app = make_app(new_store())
    log: list[str] = []
    app.state.log = log
    client = TestClient(ResponseStarts(app, log), base_url=HTTPS)
    client.post(f"/cart/yielded/{scope}")
    assert log == order
    assert items(client) == [("yielded", 1)]


def test_on_a_websocket_a_change_before_accept_is_saved_with_the_handshake(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = client_for(None)
    with (
        caplog.at_level(logging.WARNING, logger="scsession"),
        client.websocket_connect("wss://testserver/ws") as websocket,
    ):
        headers: list[tuple[bytes, bytes]] = websocket.extra_headers or []
        (cookie,) = [parse_set_cookie(v.decode()) for k, v in headers if k == b"set-cookie"]
    assert read_session(KEY, cookie.value) == {
        "cart": {"items": [{"name": "before accept", "qty": 1}], "coupon": None, "updated": None}
    }
    assert "changed after the WebSocket was accepted" in caplog.text


# -- what wins over the model ----------------------------------------------------------------


def test_a_sign_out_is_not_undone_by_the_model(new_store: Callable[[], Any]) -> None:
    client = client_for(new_store())
    client.post("/cart/items", params={"name": "socks"})
    assert the_set_cookie(client.post("/sign-out")).deletes
    assert client.get("/session").json() == {}


def test_a_direct_write_to_the_key_wins_and_is_logged(
    new_store: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(new_store())
    with caplog.at_level(logging.WARNING, logger="scsession"):
        client.post("/cart/direct")
    assert client.get("/cart").json()["coupon"] == "direct"
    assert "changed both directly and through session_model(Cart)" in caplog.text


# -- data that is not a valid model ------------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        {"items": "not a list"},
        {"items": [{"qty": 2}]},  # an item without its (required) name
        "a string",
        [1, 2],
    ],
)
def test_invalid_data_gives_a_fresh_model_and_is_kept_until_changed(
    new_store: Callable[[], Any], caplog: pytest.LogCaptureFixture, stored: Any
) -> None:
    client = client_for(new_store())
    client.post("/session", json={"cart": stored})
    with caplog.at_level(logging.WARNING, logger="scsession"):
        assert client.get("/cart").json() == {"items": [], "coupon": None, "updated": None}
    assert "session['cart'] is not a valid Cart" in caplog.text
    assert client.get("/session").json()["cart"] == stored, "kept: nothing changed the model"
    client.post("/cart/items", params={"name": "socks"})
    assert items(client) == [("socks", 1)]


def test_a_model_without_defaults_is_refused_when_declared() -> None:
    class Profile(BaseModel):
        name: str

    with pytest.raises(TypeError, match=r"session_model\(Profile\) needs a model whose every"):
        session_model(Profile, key="profile")
    with pytest.raises(TypeError, match="takes a pydantic model class"):
        session_model(dict, key="profile")  # type: ignore[type-var]


# -- concurrent requests of one browser, with a store ------------------------------------------


def concurrently(first: str, second: str) -> dict[str, Any]:
    """The session after two requests that both read the session before either saves it."""
    app = make_app(MemoryStore())
    both_read = asyncio.Barrier(2)

    @app.post("/wait-then/items")
    async def wait_items(cart: CartDep) -> None:
        await both_read.wait()
        cart.items.append(Item(name="concurrent"))

    @app.post("/wait-then/coupon")
    async def wait_coupon(cart: CartDep) -> None:
        await both_read.wait()
        cart.coupon = "SAVE10"

    @app.post("/wait-then/prefs")
    async def wait_prefs(prefs: PrefsDep) -> None:
        await both_read.wait()
        prefs.theme = "dark"

    async def story() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=HTTPS) as client:
            await client.post("/cart/items", params={"name": "socks"})
            await asyncio.gather(client.post(first), client.post(second))
            session: dict[str, Any] = (await client.get("/session")).json()
            return session

    return asyncio.run(story())


def test_concurrent_changes_to_different_keys_both_survive() -> None:
    session = concurrently("/wait-then/items", "/wait-then/prefs")
    assert [i["name"] for i in session["cart"]["items"]] == ["socks", "concurrent"]
    assert session["prefs"]["theme"] == "dark"


def test_concurrent_changes_to_one_key_keep_the_last_save_only() -> None:
    """The store merges concurrent saves key by key: two requests that change different fields
    of one model both write the whole key, and the later save wins (see session_model's doc:
    use separate keys for data that changes independently)."""
    session = concurrently("/wait-then/items", "/wait-then/coupon")
    added = [i["name"] for i in session["cart"]["items"]] == ["socks", "concurrent"]
    coupon = session["cart"]["coupon"] == "SAVE10"
    assert added != coupon, "exactly one of the two changes survives"
