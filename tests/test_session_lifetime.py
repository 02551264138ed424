"""Per-session lifetime through HTTP: ``set_expiry`` ("remember me", browser-session cookies)
and the read-only ``created_at`` / ``expires_at``, in cookie mode and with a store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from .support import Clock, session_of, the_set_cookie

MakeClient = Callable[..., TestClient]
DAY = 86_400


async def sign_in(request: Request) -> Response:
    """Signs in; ``?remember=N`` keeps the session N seconds, ``?remember=browser`` until the
    browser closes."""
    session = session_of(request)
    session.regenerate()
    session["user"] = "alice"
    remember = request.query_params.get("remember")
    if remember is not None:
        session.set_expiry(None if remember == "browser" else int(remember))
    return JSONResponse({"ok": True})


async def panel(request: Request) -> Response:
    """The shop's session panel: when this session began and when it ends."""
    session = session_of(request)

    def stamp(when: datetime | None) -> float | None:
        if when is not None:
            assert when.tzinfo is UTC
        return None if when is None else when.timestamp()

    return JSONResponse(
        {
            "user": session.get("user"),
            "created_at": stamp(session.created_at),
            "expires_at": stamp(session.expires_at),
        }
    )


async def expiry(request: Request) -> Response:
    try:
        session_of(request).set_expiry(int(request.query_params["seconds"]))
    except ValueError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"ok": True})


ROUTES = [
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/panel", panel),
    Route("/expiry", expiry, methods=["POST"]),
]


def test_remember_me_lasts_its_own_lifetime_and_the_server_enforces_it(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(routes=ROUTES, max_age=60 * DAY)
    response = client.post("/sign-in?remember=3600")
    assert the_set_cookie(response).attrs["max-age"] == "3600"
    clock.advance(3599)
    assert client.get("/panel").json()["user"] == "alice"
    clock.advance(1)
    # The browser here still sends the cookie; the server no longer honours it.
    assert client.get("/panel").json()["user"] is None


def test_without_set_expiry_the_session_lasts_max_age(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(routes=ROUTES, max_age=60 * DAY)
    response = client.post("/sign-in")
    assert the_set_cookie(response).attrs["max-age"] == str(60 * DAY)
    clock.advance(60 * DAY - 1)
    assert client.get("/panel").json()["user"] == "alice"


def test_a_browser_session_cookie_has_no_max_age_and_still_ends_on_the_server(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(routes=ROUTES, max_age=DAY)
    cookie = the_set_cookie(client.post("/sign-in?remember=browser"))
    assert "max-age" not in cookie.attrs and "expires" not in cookie.attrs
    clock.advance(DAY - 1)
    assert client.get("/panel").json()["user"] == "alice"
    clock.advance(1)
    assert client.get("/panel").json()["user"] is None


def test_set_expiry_is_kept_through_regenerate(make_client: MakeClient, clock: Clock) -> None:
    client = make_client(routes=ROUTES, max_age=30 * DAY)
    client.post("/sign-in?remember=600")
    clock.advance(300)
    # Signing in again regenerates: the lifetime is kept, and counts from the new sign-in.
    response = client.post("/sign-in")
    assert the_set_cookie(response).attrs["max-age"] == "600"
    clock.advance(599)
    assert client.get("/panel").json()["user"] == "alice"
    clock.advance(1)
    assert client.get("/panel").json()["user"] is None


def test_created_at_and_expires_at_are_what_the_server_enforces(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(routes=ROUTES, max_age=DAY, idle_timeout=3600)
    assert client.get("/panel").json() == {"user": None, "created_at": None, "expires_at": None}
    signed_in_at = clock.now
    client.post("/sign-in?remember=7200")
    panel = client.get("/panel").json()
    assert panel["created_at"] == signed_in_at
    assert panel["expires_at"] == signed_in_at + 3600  # idle timeout comes first
    clock.advance(3000)
    client.post("/expiry?seconds=7200")  # used after a tenth of idle_timeout: seen again now
    panel = client.get("/panel").json()
    assert panel["created_at"] == signed_in_at
    assert panel["expires_at"] == signed_in_at + 3000 + 3600  # the idle deadline moved
    clock.advance(3000)
    client.post("/expiry?seconds=7200")
    panel = client.get("/panel").json()
    assert panel["expires_at"] == signed_in_at + 7200  # now the absolute limit comes first


def test_set_expiry_longer_than_max_age_says_how_to_allow_it(make_client: MakeClient) -> None:
    client = make_client(routes=ROUTES, max_age=DAY)
    response = client.post(f"/expiry?seconds={30 * DAY}")
    assert response.status_code == 400
    assert "max_age=86400" in response.json()["error"]
    assert "raise SCsessionMiddleware(max_age=...)" in response.json()["error"]


@pytest.mark.parametrize("seconds", [0, -1])
def test_set_expiry_refuses_a_lifetime_that_is_not_positive(seconds: int) -> None:
    from scsession import Session

    with pytest.raises(ValueError, match="positive number of seconds"):
        Session().set_expiry(seconds)
    with pytest.raises(TypeError, match="whole seconds"):
        Session().set_expiry(1.5)  # type: ignore[arg-type]
