"""The session is there in websocket endpoints too."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from scsession import MemoryStore

from .support import (
    HTTPS,
    cookie_header,
    make_app,
    parse_set_cookie,
    run_store_call,
    session_of,
)

MakeClient = Callable[..., TestClient]


async def read_session(websocket: WebSocket) -> None:
    await websocket.accept()
    session = session_of(websocket)
    await websocket.send_json({"session": dict(session), "id": session.id})
    await websocket.close()


async def write_session_before_accept(websocket: WebSocket) -> None:
    websocket.session["connected"] = True
    await websocket.accept()
    await websocket.send_json({"session": dict(websocket.session)})
    await websocket.close()


def test_session_is_readable_in_a_websocket(make_client: MakeClient) -> None:
    client = make_client(routes=[WebSocketRoute("/ws", read_session)])
    client.post("/update", json={"user": "alice"})
    session_id = client.get("/id").json()["id"]

    with client.websocket_connect("wss://testserver/ws") as websocket:
        assert websocket.receive_json() == {"session": {"user": "alice"}, "id": session_id}


def test_websocket_without_a_cookie_has_an_empty_session(make_client: MakeClient) -> None:
    client = make_client(routes=[WebSocketRoute("/ws", read_session)])
    with client.websocket_connect("wss://testserver/ws") as websocket:
        assert websocket.receive_json() == {"session": {}, "id": None}
        assert not websocket.extra_headers


def test_websocket_with_a_bad_cookie_has_an_empty_session(make_client: MakeClient) -> None:
    client = make_client(routes=[WebSocketRoute("/ws", read_session)])
    with client.websocket_connect("wss://testserver/ws", headers=cookie_header("bad")) as ws:
        assert ws.receive_json() == {"session": {}, "id": None}


def test_session_written_before_accept_is_sent_with_the_accept(make_client: MakeClient) -> None:
    client = make_client(routes=[WebSocketRoute("/ws", write_session_before_accept)])
    with client.websocket_connect("wss://testserver/ws") as websocket:
        assert websocket.receive_json() == {"session": {"connected": True}}
        extra_headers: list[tuple[bytes, bytes]] = websocket.extra_headers or []
        headers = [(k.decode().lower(), v.decode()) for k, v in extra_headers]
    cookies = [parse_set_cookie(v) for k, v in headers if k == "set-cookie"]
    assert [c.name for c in cookies] == ["session"]
    value = cookies[0].value
    assert client.get("/view", headers=cookie_header(value)).json() == {
        "session": {"connected": True}
    }


# -- changes after accept() ----------------------------------------------------------------------


async def write_after_accept(websocket: WebSocket) -> None:
    await websocket.accept()
    message = await websocket.receive_json()
    websocket.session.update(message)
    await websocket.send_json({"session": dict(websocket.session)})
    await websocket.close()


async def sign_out_after_accept(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.receive_json()
    session_of(websocket).invalidate()  # starts deleting the record at once
    await websocket.send_json({"signed_out": True})
    await websocket.receive_json()  # the test checks from outside before the socket closes
    await websocket.close()


def test_with_a_store_a_change_after_accept_is_saved_when_the_socket_closes() -> None:
    store = MemoryStore()
    app = make_app(store=store, routes=[WebSocketRoute("/ws", write_after_accept)])
    client = TestClient(app, base_url=HTTPS)
    client.post("/update", json={"user": "ada"})
    with client.websocket_connect("wss://testserver/ws") as websocket:
        websocket.send_json({"theme": "dark"})
        assert websocket.receive_json() == {"session": {"user": "ada", "theme": "dark"}}
    assert client.get("/view").json() == {"session": {"user": "ada", "theme": "dark"}}


def test_with_a_store_invalidate_after_accept_ends_the_session_at_once() -> None:
    store = MemoryStore()
    app = make_app(store=store, routes=[WebSocketRoute("/ws", sign_out_after_accept)])
    client = TestClient(app, base_url=HTTPS)
    client.post("/update", json={"user": "ada"})
    session_id = client.get("/id").json()["id"]
    with client.websocket_connect("wss://testserver/ws") as websocket:
        websocket.send_json({})
        assert websocket.receive_json() == {"signed_out": True}
        # The socket is still open, and the record is already gone for every other request.
        assert run_store_call(store.load(session_id)) is None
        websocket.send_json({})
    assert run_store_call(store.load(session_id)) is None


def test_in_cookie_mode_a_change_after_accept_is_lost_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = TestClient(
        make_app(routes=[WebSocketRoute("/ws", write_after_accept)]), base_url=HTTPS
    )
    client.post("/update", json={"user": "ada"})
    with client.websocket_connect("wss://testserver/ws") as websocket:
        websocket.send_json({"theme": "dark"})
        websocket.receive_json()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("changed after the WebSocket was accepted" in m for m in warnings), warnings
    assert any("handshake's Set-Cookie" in m for m in warnings)
    assert client.get("/view").json() == {"session": {"user": "ada"}}


def test_a_socket_that_changes_nothing_after_accept_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = TestClient(make_app(routes=[WebSocketRoute("/ws", read_session)]), base_url=HTTPS)
    client.post("/update", json={"user": "ada"})
    with client.websocket_connect("wss://testserver/ws") as websocket:
        websocket.receive_json()
    assert not [r for r in caplog.records if "WebSocket" in r.getMessage()]
