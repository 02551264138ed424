"""FastAPI: the session as a dependency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.testclient import TestClient

from scsession import SCsessionMiddleware, Session
from scsession.fastapi import SessionDep

from .support import HTTPS, KEY, no_set_cookie, the_set_cookie


def make_fastapi_client(store: Any) -> TestClient:
    app = FastAPI()
    app.add_middleware(SCsessionMiddleware, secret_key=KEY, store=store)

    @app.get("/view")
    def view(session: SessionDep) -> dict[str, Any]:
        return {"session": dict(session), "is_session": isinstance(session, Session)}

    @app.post("/update")
    async def update(
        session: SessionDep, data: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        session.update(data)
        return {"session": dict(session)}

    @app.post("/login")
    def login(session: SessionDep, request: Request) -> dict[str, Any]:
        assert session is request.session
        session.regenerate()
        session["user"] = "alice"
        session.flash("info", "Welcome!")
        return {"id": session.id}

    @app.get("/flashes")
    def flashes(session: SessionDep) -> list[list[str]]:
        return [[f.category, f.message] for f in session.flashes()]

    @app.post("/logout")
    def logout(session: SessionDep) -> dict[str, bool]:
        session.invalidate()
        return {"ok": True}

    return TestClient(app, base_url=HTTPS)


def test_session_dependency_story(new_store: Callable[[], Any]) -> None:
    client = make_fastapi_client(new_store())
    response = client.get("/view")
    assert response.json() == {"session": {}, "is_session": True}
    assert no_set_cookie(response)

    response = client.post("/update", json={"theme": "dark"})
    assert response.json() == {"session": {"theme": "dark"}}
    assert the_set_cookie(response)

    response = client.get("/view")
    assert response.json() == {"session": {"theme": "dark"}, "is_session": True}
    assert no_set_cookie(response)

    new_id = client.post("/login").json()["id"]
    assert new_id is not None
    assert client.get("/flashes").json() == [["info", "Welcome!"]]
    session = client.get("/view").json()["session"]
    session.pop("_flashes", None)  # shown flashes may leave an empty list behind
    assert session == {"theme": "dark", "user": "alice"}

    assert the_set_cookie(client.post("/logout")).deletes
    assert client.get("/view").json()["session"] == {}
