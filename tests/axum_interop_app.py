"""The FastAPI twin of examples/axum (same routes, same session layout), for
test_axum_interop.py: `uvicorn tests.axum_interop_app:app`, configured like the Rust example by
SESSION_SECRET, SCSESSION_STORE (cookie, redis, postgres) and SCSESSION_STORE_URL."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Body, FastAPI

from scsession import RedisStore, SCsessionMiddleware, SQLStore
from scsession.fastapi import SessionDep

_stores: dict[str, Any] = {
    "cookie": lambda url: None,
    "redis": lambda url: RedisStore(url),
    "postgres": lambda url: SQLStore(url),
}

app = FastAPI()
app.add_middleware(
    SCsessionMiddleware,
    secret_key=os.environ["SESSION_SECRET"],
    store=_stores[os.environ.get("SCSESSION_STORE", "cookie")](
        os.environ.get("SCSESSION_STORE_URL", "")
    ),
)


@app.get("/session")
def show(session: SessionDep) -> dict[str, Any]:
    return dict(session)


@app.post("/session/{key}")
def set_value(key: str, session: SessionDep, value: Annotated[Any, Body()]) -> None:
    session[key] = value


@app.post("/flash")
def flash(category: str, message: str, session: SessionDep) -> None:
    session.flash(category, message)


@app.get("/flashes")
def flashes(session: SessionDep) -> list[list[str]]:
    return [[f.category, f.message] for f in session.flashes()]


@app.post("/login/{user}")
def login(user: str, session: SessionDep) -> None:
    session.regenerate()
    if os.environ.get("SCSESSION_STORE", "cookie") != "cookie":
        session.bind_user(user, user_agent="axum-interop-app")
    session["user"] = user


@app.post("/logout")
def logout(session: SessionDep) -> None:
    session.invalidate()
