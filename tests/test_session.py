"""The Session object: dict behaviour (each operation as the first touch), flashes, ids,
regenerate(), invalidate(), and what reaches the cookie."""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from scsession import Flash, Session

from .support import (
    EPOCH_EXPIRES,
    HTTP,
    HTTPS,
    Clock,
    SpyStore,
    cookie_header,
    make_app,
    no_set_cookie,
    session_of,
    the_set_cookie,
)

MakeClient = Callable[..., TestClient]

SEED = {"a": 1, "b": 2}


def ior(s: Session) -> None:
    s |= {"c": 3}


def setitem(s: Session, key: str, value: Any) -> None:
    s[key] = value


def delitem(s: Session, key: str) -> None:
    del s[key]


def raises_key_error(action: Callable[[], Any]) -> str:
    try:
        action()
    except KeyError:
        return "KeyError"
    return "no error"


def copy_is_a_detached_plain_dict(s: Session) -> list[Any]:
    c = s.copy()
    c["z"] = 0
    return [type(c) is dict, c]


# name: (operation on the session, its JSON result, the session afterwards or None if unchanged)
DICT_OPERATIONS: dict[str, tuple[Callable[[Session], Any], Any, dict[str, Any] | None]] = {
    "[]": (lambda s: s["a"], 1, None),
    "[] missing": (lambda s: raises_key_error(lambda: s["z"]), "KeyError", None),
    "get": (lambda s: s.get("b"), 2, None),
    "get missing": (lambda s: s.get("z", 9), 9, None),
    "in": (lambda s: ["a" in s, "z" in s], [True, False], None),
    "len": (lambda s: len(s), 2, None),
    "bool": (lambda s: bool(s), True, None),
    "iter": (lambda s: list(s), ["a", "b"], None),
    "reversed": (lambda s: list(reversed(s)), ["b", "a"], None),
    "keys": (lambda s: list(s.keys()), ["a", "b"], None),
    "values": (lambda s: list(s.values()), [1, 2], None),
    "items": (lambda s: list(s.items()), [["a", 1], ["b", 2]], None),
    "copy": (copy_is_a_detached_plain_dict, [True, {"a": 1, "b": 2, "z": 0}], None),
    "dict()": (lambda s: dict(s), SEED, None),
    "json.dumps": (lambda s: json.loads(json.dumps(s)), SEED, None),
    "json.dumps indent": (lambda s: json.loads(json.dumps(s, indent=2)), SEED, None),
    "==": (lambda s: [s == SEED, s == SEED, s == {"a": 1}], [True, True, False], None),
    "!=": (lambda s: [s != SEED, s != {"a": 1}, s != 5, s == 5], [False, True, True, False], None),
    "repr": (lambda s: ["'a': 1" in repr(s), "'b': 2" in repr(s)], [True, True], None),
    "|": (lambda s: s | {"c": 3}, {"a": 1, "b": 2, "c": 3}, None),
    "| reflected": (lambda s: {"c": 3} | s, {"c": 3, "a": 1, "b": 2}, None),
    "isinstance": (
        lambda s: [isinstance(s, Session), isinstance(s, dict), isinstance(s, MutableMapping)],
        [True, True, True],
        None,
    ),
    "setdefault existing": (lambda s: s.setdefault("a", 5), 1, None),
    "setdefault new": (lambda s: s.setdefault("c", 3), 3, {"a": 1, "b": 2, "c": 3}),
    "pop": (lambda s: s.pop("a"), 1, {"b": 2}),
    "pop missing default": (lambda s: s.pop("z", None), None, None),
    "pop missing": (lambda s: raises_key_error(lambda: s.pop("z")), "KeyError", None),
    "popitem": (lambda s: s.popitem(), ["b", 2], {"a": 1}),
    "update kwargs": (lambda s: s.update(c=3), None, {"a": 1, "b": 2, "c": 3}),
    "update pairs": (lambda s: s.update([("a", 10)]), None, {"a": 10, "b": 2}),
    "[]=": (lambda s: setitem(s, "c", 3), None, {"a": 1, "b": 2, "c": 3}),
    "[]= overwrite": (lambda s: setitem(s, "a", 10), None, {"a": 10, "b": 2}),
    "|=": (ior, None, {"a": 1, "b": 2, "c": 3}),
    "del": (lambda s: delitem(s, "a"), None, {"b": 2}),
    "clear": (lambda s: s.clear(), None, {}),
}


async def run_operation(request: Request) -> Response:
    operation, _, _ = DICT_OPERATIONS[request.path_params["name"]]
    return JSONResponse({"result": operation(session_of(request))})


async def json_response_of_the_session(request: Request) -> Response:
    return JSONResponse(request.session)


@pytest.mark.parametrize("name", DICT_OPERATIONS)
def test_dict_operation_as_first_touch(make_client: MakeClient, name: str) -> None:
    _, expected, after = DICT_OPERATIONS[name]
    client = make_client(routes=[Route("/op/{name}", run_operation, methods=["POST"])])
    client.post("/update", json=SEED)

    response = client.post(f"/op/{name}")
    assert response.json() == {"result": expected}
    if after is None:
        assert no_set_cookie(response), "an unchanged session must not be re-sent"
    elif after == {}:
        assert the_set_cookie(response).deletes
    else:
        assert not the_set_cookie(response).deletes
    assert client.get("/view").json() == {"session": SEED if after is None else after}


def test_json_response_of_the_session_as_first_touch(make_client: MakeClient) -> None:
    client = make_client(routes=[Route("/json", json_response_of_the_session)])
    client.post("/update", json=SEED)
    response = client.get("/json")
    assert response.json() == SEED
    assert no_set_cookie(response)


def test_nested_list_mutation_is_saved(make_client: MakeClient) -> None:
    client = make_client()
    client.post("/update", json={"cart": ["apple"], "user": "alice"})
    response = client.post("/append", json={"key": "cart", "value": "pear"})
    assert not the_set_cookie(response).deletes
    assert client.get("/view").json() == {"session": {"cart": ["apple", "pear"], "user": "alice"}}


def test_assigning_the_same_value_sends_no_set_cookie(make_client: MakeClient) -> None:
    client = make_client()
    client.post("/update", json={"user": "alice", "roles": ["admin"]})
    response = client.post("/update", json={"user": "alice", "roles": ["admin"]})
    assert no_set_cookie(response)
    response = client.post("/update", json={"roles": ["admin", "ops"]})
    assert the_set_cookie(response)


# --- deleting the cookie -------------------------------------------------------------------------

COOKIE_OPTIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "domain": {"cookie_domain": "example.com"},
    "path": {"cookie_path": "/app"},
    "same_site strict": {"cookie_same_site": "strict"},
    "same_site none": {"cookie_same_site": "none"},
    "not https only": {"cookie_https_only": False},
    "max_age None": {"max_age": None},
    "cookie name": {"cookie_name": "sid"},
}


@pytest.mark.parametrize("ending", ["/clear", "/invalidate", "/delete"])
@pytest.mark.parametrize("options", COOKIE_OPTIONS.values(), ids=COOKIE_OPTIONS.keys())
def test_removed_cookie_carries_the_issued_attributes(
    make_client: MakeClient, options: dict[str, Any], ending: str
) -> None:
    name = options.get("cookie_name", "session")
    client = make_client(**options)
    issued = the_set_cookie(client.post("/update", json={"a": 1, "b": 2}), name)
    headers = cookie_header(issued.value, name)
    response = client.post(ending, json=["a", "b"], headers=headers)
    assert response.json()["session"] == {}
    removed = the_set_cookie(response, name)
    assert removed.attrs["max-age"] == "0"
    assert removed.attrs["expires"] == EPOCH_EXPIRES
    assert removed.without_expiry() == issued.without_expiry()
    assert "httponly" in removed.attrs


# --- flashes -------------------------------------------------------------------------------------


def test_flash_story(make_client: MakeClient) -> None:
    client = make_client()
    client.post("/flash", json={"category": "info", "message": "Saved."})
    client.post("/flash", json={"category": "error", "message": "Disk almost full."})
    client.post("/flash", json={"category": "info", "message": "Welcome back."})
    assert "_flashes" in client.get("/view").json()["session"]

    response = client.get("/flashes").json()
    assert response["flashes"] == [
        ["info", "Saved."],
        ["error", "Disk almost full."],
        ["info", "Welcome back."],
    ]
    assert response["named_tuples"] is True
    assert response["type"] == "list"

    assert client.get("/flashes").json()["flashes"] == [], "flashes are shown once"


def test_flashes_of_one_category(make_client: MakeClient) -> None:
    client = make_client()
    client.post("/update", json={"user": "alice"})
    client.post("/flash", json={"category": "info", "message": "one"})
    client.post("/flash", json={"category": "error", "message": "two"})
    client.post("/flash", json={"category": "info", "message": "three"})

    assert client.get("/flashes?category=info").json()["flashes"] == [
        ["info", "one"],
        ["info", "three"],
    ]
    assert client.get("/flashes?category=info").json()["flashes"] == []
    assert client.get("/flashes").json()["flashes"] == [["error", "two"]]
    assert client.get("/view").json()["session"]["user"] == "alice"


def test_flash_is_a_named_tuple() -> None:
    flash = Flash("info", "hello")
    assert Flash._fields == ("category", "message")
    assert (flash.category, flash.message) == ("info", "hello")
    assert flash == ("info", "hello")


# --- ids -----------------------------------------------------------------------------------------

captured: list[Session] = []


async def capture_and_write(request: Request) -> Response:
    session = session_of(request)
    captured.append(session)
    id_in_handler = session.id
    session["user"] = "alice"
    return JSONResponse({"id_in_handler": id_in_handler})


def test_id_is_none_until_the_session_is_first_saved(make_client: MakeClient) -> None:
    captured.clear()
    client = make_client(routes=[Route("/write", capture_and_write, methods=["POST"])])
    assert client.get("/id").json() == {"id": None}
    assert client.get("/id").json() == {"id": None}, "reading does not save"

    response = client.post("/write")
    assert response.json() == {"id_in_handler": None}
    [session] = captured
    assert isinstance(session.id, str) and session.id

    assert client.get("/id").json() == {"id": session.id}
    client.post("/update", json={"more": 1})
    assert client.get("/id").json() == {"id": session.id}, "the id is stable across writes"


def test_new_sessions_get_different_ids(make_client: MakeClient) -> None:
    ids = set()
    for _ in range(5):
        client = make_client()
        client.post("/update", json={"a": 1})
        ids.add(client.get("/id").json()["id"])
    assert len(ids) == 5


# --- regenerate ----------------------------------------------------------------------------------


def test_regenerate_changes_the_id_and_keeps_the_data(make_client: MakeClient) -> None:
    client = make_client()
    client.post("/update", json={"user": "alice"})
    old_cookie = client.cookies["session"]

    response = client.post("/regenerate")
    body = response.json()
    assert body["old"] is not None and body["new"] is not None
    assert body["old"] != body["new"], "the new id is visible at once"
    assert body["session"] == {"user": "alice"}
    new_cookie = the_set_cookie(response)
    assert not new_cookie.deletes, "re-sent even though the data did not change"
    assert new_cookie.value != old_cookie

    assert client.get("/id").json() == {"id": body["new"]}
    assert client.get("/view").json() == {"session": {"user": "alice"}}


def test_regenerate_kills_the_old_id_in_the_store() -> None:
    spy = SpyStore()
    client = TestClient(make_app(store=spy), base_url=HTTPS)
    client.post("/update", json={"user": "alice"})
    old = client.cookies["session"]
    old_id = client.get("/id").json()["id"]
    spy.calls.clear()

    client.post("/regenerate")
    assert ("delete", old_id) in spy.calls

    assert client.get("/view", headers=cookie_header(old)).json() == {"session": {}}
    assert client.get("/view").json() == {"session": {"user": "alice"}}


def test_regenerate_starts_a_new_lifetime(make_client: MakeClient, clock: Clock) -> None:
    client = make_client(max_age=100)
    client.post("/update", json={"user": "alice"})
    clock.advance(60)
    response = client.post("/regenerate")
    assert the_set_cookie(response).attrs["max-age"] == "100"
    clock.advance(60)  # 120 s after the first creation, 60 s after regenerate()
    assert client.get("/view").json() == {"session": {"user": "alice"}}


# --- invalidate ----------------------------------------------------------------------------------


def test_invalidate_clears_and_deletes_the_cookie(make_client: MakeClient) -> None:
    client = make_client()
    client.post("/update", json={"user": "alice"})
    response = client.post("/invalidate")
    assert response.json()["session"] == {}
    assert the_set_cookie(response).deletes
    assert client.get("/view").json() == {"session": {}}
    assert client.get("/id").json() == {"id": None}


def test_invalidated_session_cannot_be_replayed_with_a_store() -> None:
    spy = SpyStore()
    client = TestClient(make_app(store=spy), base_url=HTTPS)
    client.post("/update", json={"user": "alice"})
    old = client.cookies["session"]
    old_id = client.get("/id").json()["id"]

    client.post("/invalidate")
    assert ("delete", old_id) in spy.calls
    response = client.get("/view", headers=cookie_header(old))
    assert response.json() == {"session": {}}
    assert no_set_cookie(response)


async def invalidate_then_write(request: Request) -> Response:
    session = session_of(request)
    old = session.id
    session.invalidate()
    session["user"] = "bob"
    return JSONResponse({"old": old})


def test_write_after_invalidate_starts_a_fresh_session_under_a_new_id(
    make_client: MakeClient,
) -> None:
    client = make_client(routes=[Route("/switch", invalidate_then_write, methods=["POST"])])
    client.post("/update", json={"user": "alice", "cart": ["book"]})
    old_id = client.get("/id").json()["id"]

    response = client.post("/switch")
    assert response.json() == {"old": old_id}
    assert not the_set_cookie(response).deletes
    assert client.get("/view").json() == {"session": {"user": "bob"}}
    new_id = client.get("/id").json()["id"]
    assert new_id is not None and new_id != old_id


def test_write_after_invalidate_does_not_revive_the_old_record() -> None:
    switch = Route("/switch", invalidate_then_write, methods=["POST"])
    client = TestClient(make_app(store=SpyStore(), routes=[switch]), base_url=HTTPS)
    client.post("/update", json={"user": "alice"})
    old = client.cookies["session"]
    client.post("/switch")
    assert client.get("/view", headers=cookie_header(old)).json() == {"session": {}}
    assert client.get("/view").json() == {"session": {"user": "bob"}}


def test_session_works_over_plain_http_when_allowed(make_client: MakeClient) -> None:
    client = make_client(base_url=HTTP, cookie_https_only=False)
    client.post("/update", json={"a": 1})
    client.post("/flash", json={"category": "info", "message": "hi"})
    assert client.get("/flashes").json()["flashes"] == [["info", "hi"]]
