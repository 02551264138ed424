"""A small app for tests/test_outage_http.py, served by a real uvicorn process.

Configured by environment variables (the test sets them for the child process):

    OUTAGE_APP_STORE      redis | postgres
    OUTAGE_APP_STORE_URL  the server's URL (tests/servers.py)
    OUTAGE_APP_NAMESPACE  the Redis key prefix or the SQL table, unique per test
    OUTAGE_APP_POLICY     fail | anonymous (SCsessionMiddleware's on_store_error)
    OUTAGE_APP_SECRET     the secret key

Routes: /public never touches the session; /read shows it; /write?k=v sets a key; /signin?user=u
signs in; /signout ends the session (invalidate()). Every answer that shows the session is JSON
``{"session": {...}}``. Log records go to stderr, as an app's would, so the test can count them.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from scsession import RedisStore, SCsessionMiddleware, Session, SQLStore

#: Short, so that a request meeting a stopped server fails fast (seconds).
CONNECT_TIMEOUT = TIMEOUT = 1.0

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def make_store(kind: str, url: str, namespace: str) -> Any:
    if kind == "redis":
        return RedisStore(
            url, prefix=f"{namespace}:", connect_timeout=CONNECT_TIMEOUT, timeout=TIMEOUT
        )
    if kind == "postgres":
        return SQLStore(url, table=namespace, connect_timeout=CONNECT_TIMEOUT, timeout=TIMEOUT)
    raise ValueError(f"OUTAGE_APP_STORE must be redis or postgres, not {kind!r}")


def policy(value: str) -> Literal["fail", "anonymous"]:
    if value == "fail":
        return "fail"
    if value == "anonymous":
        return "anonymous"
    raise ValueError(f"OUTAGE_APP_POLICY must be fail or anonymous, not {value!r}")


def session(request: Request) -> Session:
    found = request.scope["session"]
    assert isinstance(found, Session)
    return found


def shown(request: Request) -> Response:
    return JSONResponse({"session": dict(request.session)})


async def public(request: Request) -> Response:
    return PlainTextResponse("public page")


async def read(request: Request) -> Response:
    return shown(request)


async def write(request: Request) -> Response:
    request.session.update(request.query_params)
    return shown(request)


async def signin(request: Request) -> Response:
    session(request).regenerate()
    request.session["user"] = request.query_params["user"]
    return shown(request)


async def signout(request: Request) -> Response:
    session(request).invalidate()
    return shown(request)


def build() -> Starlette:
    env = os.environ
    store = make_store(
        env["OUTAGE_APP_STORE"], env["OUTAGE_APP_STORE_URL"], env["OUTAGE_APP_NAMESPACE"]
    )
    routes = [
        Route("/public", public),
        Route("/read", read),
        Route("/write", write),
        Route("/signin", signin),
        Route("/signout", signout),
    ]
    middleware = Middleware(
        SCsessionMiddleware,
        secret_key=env["OUTAGE_APP_SECRET"],
        store=store,
        cookie_https_only=False,  # plain http on 127.0.0.1
        on_store_error=policy(env["OUTAGE_APP_POLICY"]),
    )
    return Starlette(routes=routes, middleware=[middleware])


app = build()
