"""`on_event`: each lifecycle event in cookie and store mode, sync and async hooks, and a hook that
raises (logged, while the response and the save go through)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from scsession import SessionEvent

from .support import Clock, cookie_header, session_of, the_set_cookie


class Recorder:
    """An on_event hook that keeps (kind, session_id, previous_id, changed, path) per event."""

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []

    def __call__(self, event: SessionEvent) -> None:
        self.events.append(event)

    def take(self) -> list[tuple[Any, ...]]:
        taken = [
            (e.kind, e.session_id, e.previous_id, set(e.changed), e.scope["path"])
            for e in self.events
        ]
        self.events.clear()
        return taken


async def sign_in(request: Request) -> Response:
    """What a sign-in does: a new id, then the user's data."""
    session = session_of(request)
    old = session.id
    session.regenerate()
    session["user"] = "ada"
    return JSONResponse({"old": old, "new": session.id})


async def sign_out(request: Request) -> Response:
    """What a sign-out does: end the session, then say goodbye on the next page."""
    session = session_of(request)
    old = session.id
    session.invalidate()
    session.flash("info", "signed out")
    return JSONResponse({"old": old, "new": session.id})


ROUTES = [
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(make_client: Callable[..., TestClient], recorder: Recorder) -> TestClient:
    return make_client(on_event=recorder, routes=ROUTES)


def session_id(client: TestClient) -> str:
    found: str = client.get("/id").json()["id"]
    return found


def test_created_then_modified_with_the_changed_keys(
    client: TestClient, recorder: Recorder
) -> None:
    client.post("/update", json={"a": 1, "b": 2})
    sid = session_id(client)
    assert recorder.take() == [("created", sid, None, {"a", "b"}, "/update")]
    client.post("/update", json={"a": 1, "b": 3, "c": 4})
    client.post("/delete", json=["c"])
    assert recorder.take() == [
        ("modified", sid, None, {"b", "c"}, "/update"),
        ("modified", sid, None, {"c"}, "/delete"),
    ]


def test_reads_and_unchanged_writes_are_no_events(client: TestClient, recorder: Recorder) -> None:
    client.post("/update", json={"a": 1})
    recorder.take()
    client.get("/view")
    client.post("/update", json={"a": 1})
    client.get("/untouched")
    assert recorder.take() == []


def test_regenerated_carries_the_old_and_new_id(client: TestClient, recorder: Recorder) -> None:
    client.post("/update", json={"cart": [1]})
    recorder.take()
    ids = client.post("/sign-in").json()
    assert ids["old"] != ids["new"]
    assert recorder.take() == [
        ("regenerated", ids["new"], ids["old"], set(), "/sign-in"),
        ("modified", ids["new"], None, {"user"}, "/sign-in"),
    ]


def test_invalidated_then_a_new_session(client: TestClient, recorder: Recorder) -> None:
    client.post("/update", json={"user": "ada"})
    recorder.take()
    ids = client.post("/sign-out").json()
    new = session_id(client)
    assert new not in (ids["old"], None)
    assert recorder.take() == [
        ("invalidated", ids["old"], None, set(), "/sign-out"),
        ("created", new, None, {"_flashes"}, "/sign-out"),
    ]
    client.post("/invalidate")
    assert recorder.take() == [("invalidated", new, None, set(), "/invalidate")]


def test_emptying_a_session_ends_it(client: TestClient, recorder: Recorder) -> None:
    client.post("/update", json={"a": 1})
    sid = session_id(client)
    recorder.take()
    client.post("/clear")
    assert recorder.take() == [("invalidated", sid, None, set(), "/clear")]


def outlived_session(client: TestClient, recorder: Recorder, clock: Clock) -> tuple[str, str]:
    """A session of `client` (made with max_age=100), and its cookie, 101 s later: the id and
    the cookie value. Its events so far are taken from `recorder`."""
    client.post("/update", json={"a": 1})
    sid = session_id(client)
    cookie = the_set_cookie(client.post("/update", json={"a": 2})).value
    recorder.take()
    clock.advance(101)
    return sid, cookie


def test_expired_when_the_server_sees_an_outlived_session(
    make_client: Callable[..., TestClient], recorder: Recorder, clock: Clock
) -> None:
    client = make_client(on_event=recorder, max_age=100)
    sid, cookie = outlived_session(client, recorder, clock)
    # Sent again by hand: a browser would have dropped the cookie at its Max-Age.
    assert client.get("/view", headers=cookie_header(cookie)).json() == {"session": {}}
    assert recorder.take() == [("expired", sid, None, set(), "/view")]


def test_a_store_notices_an_expired_session_even_when_the_handler_does_not_look(
    make_client: Callable[..., TestClient], recorder: Recorder, clock: Clock, mode: str
) -> None:
    client = make_client(on_event=recorder, max_age=100)
    sid, cookie = outlived_session(client, recorder, clock)
    client.get("/untouched", headers=cookie_header(cookie))
    # A store loads the record before the handler; a cookie is only opened if the session is used.
    expected: list[tuple[Any, ...]] = (
        [] if mode == "cookie" else [("expired", sid, None, set(), "/untouched")]
    )
    assert recorder.take() == expected


def test_a_foreign_or_tampered_cookie_is_no_expiry(client: TestClient, recorder: Recorder) -> None:
    client.get("/view", headers=cookie_header("not-a-session-cookie"))
    assert recorder.take() == []


def test_an_async_hook_is_awaited_with_the_scope(make_client: Callable[..., TestClient]) -> None:
    seen: list[tuple[str, str]] = []

    async def audit(event: SessionEvent) -> None:
        seen.append((event.kind, Request(event.scope).url.path))

    client = make_client(on_event=audit)
    client.post("/update", json={"a": 1})
    client.post("/invalidate")
    assert seen == [("created", "/update"), ("invalidated", "/invalidate")]


def test_a_failing_hook_is_logged_and_breaks_nothing(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: SessionEvent) -> None:
        raise RuntimeError(f"audit log is down ({event.kind})")

    client = make_client(on_event=broken)
    with caplog.at_level(logging.ERROR, logger="scsession"):
        response = client.post("/update", json={"a": 1})
        assert response.status_code == 200
        assert response.json() == {"session": {"a": 1}}
        assert client.get("/view").json() == {"session": {"a": 1}}, "the save went through"
    (record,) = [r for r in caplog.records if "on_event" in r.getMessage()]
    assert "'created'" in record.getMessage()
    assert record.exc_info is not None
    assert "audit log is down (created)" in str(record.exc_info[1])


async def _failing_async(event: SessionEvent) -> None:
    raise ValueError(event.kind)


def test_a_failing_async_hook_is_logged_too(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(on_event=_failing_async)
    with caplog.at_level(logging.ERROR, logger="scsession"):
        client.post("/update", json={"a": 1})
        client.post("/update", json={"a": 2})
    assert [r.exc_info[1].args for r in caplog.records if r.exc_info and r.exc_info[1]] == [
        ("created",),
        ("modified",),
    ]
    assert client.get("/view").json() == {"session": {"a": 2}}


def test_an_event_printed_by_a_hook_shows_no_cookie_and_no_session_data(
    client: TestClient, recorder: Recorder
) -> None:
    client.post("/update", json={"card": "4111-1111-1111-1111"})
    cookie = client.cookies["session"]
    client.post("/update", json={"card": "4111-1111-1111-1111", "n": 2})
    assert [e.kind for e in recorder.events] == ["created", "modified"]
    for event in recorder.events:
        for shown in (repr(event), str(event), f"{event}"):
            assert cookie not in shown and "4111" not in shown and "scope" not in shown
            assert event.session_id in shown and event.kind in shown
    assert recorder.events[1].scope["path"] == "/update", "the scope is still there to use"
