"""Absolute lifetime (max_age) and idle timeout, enforced by the server from sealed timestamps."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from .support import Clock, no_set_cookie, the_set_cookie

MakeClient = Callable[..., TestClient]


def test_max_age_is_absolute_and_not_extended_by_activity(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(max_age=100)
    assert the_set_cookie(client.post("/update", json={"n": 1})).attrs["max-age"] == "100"

    clock.advance(40)
    assert the_set_cookie(client.post("/update", json={"n": 2})).attrs["max-age"] == "60"

    clock.advance(40)
    assert client.get("/view").json() == {"session": {"n": 2}}
    assert the_set_cookie(client.post("/update", json={"n": 3})).attrs["max-age"] == "20"

    clock.advance(21)  # 101 s after creation, 21 s after the last write
    assert client.get("/view").json() == {"session": {}}


def test_expired_session_written_again_starts_over(make_client: MakeClient, clock: Clock) -> None:
    client = make_client(max_age=100)
    client.post("/update", json={"old": 1})
    old_id = client.get("/id").json()["id"]
    clock.advance(150)
    response = client.post("/update", json={"new": 1})
    assert the_set_cookie(response).attrs["max-age"] == "100"
    assert client.get("/view").json() == {"session": {"new": 1}}
    assert client.get("/id").json()["id"] != old_id


def test_max_age_none_has_no_absolute_limit(make_client: MakeClient, clock: Clock) -> None:
    client = make_client(max_age=None)
    client.post("/update", json={"remember": "me"})
    clock.advance(10 * 365 * 24 * 3600)
    assert client.get("/view").json() == {"session": {"remember": "me"}}


def test_idle_timeout_ends_an_unused_session(make_client: MakeClient, clock: Clock) -> None:
    client = make_client(idle_timeout=100)
    client.post("/update", json={"user": "alice"})
    clock.advance(99)
    assert client.get("/untouched").status_code == 200  # does not touch the session
    clock.advance(2)
    assert client.get("/view").json() == {"session": {}}


def test_idle_timeout_is_pushed_back_by_requests_that_touch_the_session(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(idle_timeout=100, max_age=None)
    client.post("/update", json={"user": "alice"})
    for _ in range(5):  # 400 s in all, never 100 s idle
        clock.advance(80)
        response = client.get("/view")
        assert response.json() == {"session": {"user": "alice"}}
        assert not the_set_cookie(response).deletes, "the idle refresh rewrites the cookie"
    clock.advance(101)
    assert client.get("/view").json() == {"session": {}}


def test_idle_refresh_is_throttled_to_a_tenth_of_the_timeout(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(idle_timeout=100)
    client.post("/update", json={"user": "alice"})

    clock.advance(9)
    assert no_set_cookie(client.get("/view")), "less than a tenth: no rewrite"
    clock.advance(1)
    assert the_set_cookie(client.get("/view")), "a tenth has passed: rewrite"

    # The throttled read at +9 did not move the deadline; the refresh at +10 did.
    clock.advance(100)  # 110 s after the write, 100 s after the refresh
    assert client.get("/view").json() == {"session": {}}


def test_throttled_reads_do_not_extend_the_idle_deadline(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(idle_timeout=100)
    client.post("/update", json={"user": "alice"})
    clock.advance(5)
    assert no_set_cookie(client.get("/view"))
    clock.advance(96)  # 101 s after the last write
    assert client.get("/view").json() == {"session": {}}


def test_max_age_attribute_is_the_earlier_of_the_two_deadlines(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(max_age=1000, idle_timeout=100)
    assert the_set_cookie(client.post("/update", json={"n": 0})).attrs["max-age"] == "100"
    for _ in range(19):
        clock.advance(50)
        response = client.get("/view")
    assert response.json() == {"session": {"n": 0}}
    # 950 s old: 50 s of absolute lifetime left, less than the idle timeout.
    assert the_set_cookie(response).attrs["max-age"] == "50"
    clock.advance(51)
    assert client.get("/view").json() == {"session": {}}


def test_idle_timeout_without_max_age_sets_no_max_age_attribute(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(idle_timeout=100, max_age=None)
    assert "max-age" not in the_set_cookie(client.post("/update", json={"n": 0})).attrs
