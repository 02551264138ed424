"""The session is there in websocket endpoints too."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from .support import cookie_header, parse_set_cookie

MakeClient = Callable[..., TestClient]


async def read_session(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"session": dict(websocket.session), "id": websocket.session.id})
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
        headers = [(k.decode().lower(), v.decode()) for k, v in websocket.extra_headers or []]
    cookies = [parse_set_cookie(v) for k, v in headers if k == "set-cookie"]
    assert [c.name for c in cookies] == ["session"]
    value = cookies[0].value
    assert client.get("/view", headers=cookie_header(value)).json() == {
        "session": {"connected": True}
    }
