"""``SCsessionMiddleware(load="on_demand")``: with a store, nothing is read until the handler
awaits ``load_session`` (or takes FastAPI's async ``SessionDep``); using the session before that
raises an error that names the fix."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import scsession
from scsession import MemoryStore, SCsessionMiddleware, SessionNotLoadedError
from scsession.events import SessionEvent
from scsession.fastapi import SessionDep

from .support import HTTPS, KEY, Clock, SpyStore, make_app, no_set_cookie, session_of


async def loaded_view(request: Request) -> Response:
    session = await scsession.load_session(request)
    return JSONResponse(dict(session))


async def loaded_update(request: Request) -> Response:
    session = await scsession.load_session(request)
    session.update(await request.json())
    return JSONResponse(dict(session))


async def too_early(request: Request) -> Response:
    try:
        session_of(request).get("user")
    except SessionNotLoadedError as error:
        message = str(error)
    # The failed use left the session as it was: loading it now works.
    session = await scsession.load_session(request)
    return JSONResponse({"error": message, "user": session.get("user")})


ROUTES = [
    Route("/loaded-view", loaded_view),
    Route("/loaded-update", loaded_update, methods=["POST"]),
    Route("/too-early", too_early),
]


def client_for(store: Any, **options: Any) -> TestClient:
    app = make_app(store=store, routes=ROUTES, load="on_demand", **options)
    return TestClient(app, base_url=HTTPS)


@pytest.mark.parametrize("store", ["memory", "cookie"])
def test_a_session_loaded_on_demand_is_read_and_saved(store: str) -> None:
    client = client_for(MemoryStore() if store == "memory" else None)
    assert client.get("/loaded-view").json() == {}
    assert client.post("/loaded-update", json={"user": "alice"}).json() == {"user": "alice"}
    assert client.get("/loaded-view").json() == {"user": "alice"}
    assert client.get("/untouched").status_code == 200


def test_a_request_that_never_loads_its_session_costs_no_store_call() -> None:
    store = SpyStore()
    client = client_for(store)
    client.post("/loaded-update", json={"user": "alice"})
    store.calls.clear()
    response = client.get("/untouched")
    assert response.status_code == 200 and no_set_cookie(response)
    assert store.calls == []
    assert client.get("/loaded-view").json() == {"user": "alice"}
    assert store.names() == ["load"]


@pytest.mark.parametrize("store", ["memory", "cookie"])
def test_using_the_session_before_loading_it_names_the_fix(store: str) -> None:
    client = client_for(MemoryStore() if store == "memory" else None)
    client.post("/loaded-update", json={"user": "alice"})
    body = client.get("/too-early").json()
    assert "await scsession.load_session(request)" in body["error"]
    assert "SessionDep" in body["error"]
    assert body["user"] == "alice"


def test_an_unloaded_session_in_a_handler_that_forgets_is_a_500_not_a_lost_write() -> None:
    client = TestClient(make_app(store=MemoryStore(), load="on_demand"), base_url=HTTPS)
    with pytest.raises(SessionNotLoadedError):
        client.post("/update", json={"user": "alice"})


def test_fastapi_session_dep_loads_on_demand() -> None:
    store = SpyStore()
    app = FastAPI()
    app.add_middleware(SCsessionMiddleware, secret_key=KEY, store=store, load="on_demand")

    @app.post("/sign-in")
    async def sign_in(session: SessionDep) -> dict[str, Any]:
        session.regenerate()
        session["user"] = "alice"
        return dict(session)

    @app.get("/me")
    def me(session: SessionDep) -> dict[str, Any]:
        return {"user": session.get("user")}

    @app.get("/health")
    async def health() -> str:
        return "ok"

    client = TestClient(app, base_url=HTTPS)
    client.post("/sign-in")
    assert client.get("/me").json() == {"user": "alice"}
    store.calls.clear()
    assert client.get("/health").json() == "ok"
    assert store.calls == []


def test_an_expired_session_loaded_on_demand_raises_its_event(clock: Clock) -> None:
    events: list[SessionEvent] = []
    client = client_for(MemoryStore(), max_age=60, on_event=events.append)
    client.post("/loaded-update", json={"user": "alice"})
    clock.advance(61)
    events.clear()
    assert client.get("/untouched").status_code == 200
    assert events == []  # never loaded: nothing known about it
    assert client.get("/loaded-view").json() == {}
    assert [event.kind for event in events] == ["expired"]


def test_load_must_be_eager_or_on_demand() -> None:
    with pytest.raises(ValueError, match="'eager' or 'on_demand'"):
        SCsessionMiddleware(None, secret_key=KEY, load="lazy")  # type: ignore[arg-type]


def test_eager_load_session_returns_the_loaded_session_at_once() -> None:
    async def view(request: Request) -> Response:
        session = await scsession.load_session(request)
        assert session is session_of(request)
        return PlainTextResponse(str(session.get("user")))

    client = TestClient(make_app(store=MemoryStore(), routes=[Route("/v", view)]), base_url=HTTPS)
    client.post("/update", json={"user": "bob"})
    assert client.get("/v").text == "bob"


def test_parallel_requests_loading_on_demand_keep_every_change() -> None:
    import httpx2

    store = MemoryStore()
    app = make_app(store=store, routes=ROUTES, load="on_demand")

    async def run() -> dict[str, Any]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=HTTPS) as client:
            await client.post("/loaded-update", json={"start": 0})
            await asyncio.gather(
                *(client.post("/loaded-update", json={f"k{i}": i}) for i in range(10))
            )
            response = await client.get("/loaded-view")
            result: dict[str, Any] = response.json()
            return result

    assert asyncio.run(run()) == {"start": 0, **{f"k{i}": i for i in range(10)}}


class DownStore:
    """A store whose server does not answer."""

    async def load(self, id: str) -> bytes | None:
        raise ConnectionError("connection refused")

    async def save(self, id: str, data: bytes, ttl_seconds: int) -> None:
        raise ConnectionError("connection refused")

    async def delete(self, id: str) -> None:
        raise ConnectionError("connection refused")


def test_a_store_outage_met_on_demand_is_a_503_or_an_unsaved_session() -> None:
    signed_in = TestClient(make_app(store=MemoryStore(), routes=ROUTES), base_url=HTTPS)
    signed_in.post("/update", json={"user": "alice"})
    cookie = {"cookie": f"session={signed_in.cookies['session']}"}

    failing = client_for(DownStore())
    response = failing.get("/loaded-view", headers=cookie)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert failing.get("/untouched", headers=cookie).status_code == 200

    anonymous = client_for(DownStore(), on_store_error="anonymous")
    response = anonymous.post("/loaded-update", json={"cart": 1}, headers=cookie)
    assert response.json() == {"cart": 1}
    assert no_set_cookie(response)  # never written while the store is down
