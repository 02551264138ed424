"""Headers a cache needs: ``Vary: Cookie`` when the handler used the session,
``Cache-Control: private, no-store`` on a response that sets or deletes the session cookie,
and the ``Partitioned`` cookie attribute (CHIPS)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from scsession import SCsessionMiddleware

from .support import KEY, session_of, the_set_cookie

MakeClient = Callable[..., TestClient]


async def cached_write(request: Request) -> Response:
    session_of(request)["n"] = 1
    return JSONResponse({}, headers={"cache-control": "public, max-age=60"})


async def vary_read(request: Request) -> Response:
    return JSONResponse(dict(session_of(request)), headers={"vary": "Accept-Encoding"})


async def vary_cookie_read(request: Request) -> Response:
    return JSONResponse(dict(session_of(request)), headers={"Vary": "accept, COOKIE"})


ROUTES = [
    Route("/cached-write", cached_write, methods=["POST"]),
    Route("/vary-read", vary_read),
    Route("/vary-cookie-read", vary_cookie_read),
]


def test_vary_cookie_on_access(make_client: MakeClient) -> None:
    # Starlette's own test of the same name: a handler that reads the session says so.
    client = make_client()
    assert client.get("/view").headers["vary"] == "Cookie"
    assert client.post("/update", json={"a": 1}).headers["vary"] == "Cookie"
    assert "vary" not in client.get("/untouched").headers


def test_vary_cookie_joins_the_apps_own_vary_once(make_client: MakeClient) -> None:
    client = make_client(routes=ROUTES)
    assert client.get("/vary-read").headers.get_list("vary") == ["Accept-Encoding, Cookie"]
    assert client.get("/vary-cookie-read").headers.get_list("vary") == ["accept, COOKIE"]


def test_a_response_that_sets_or_deletes_the_cookie_is_not_stored_by_caches(
    make_client: MakeClient,
) -> None:
    client = make_client()
    response = client.post("/update", json={"a": 1})
    assert the_set_cookie(response)
    assert response.headers["cache-control"] == "private, no-store"
    # A read sends no cookie: caching it is the app's business (Vary: Cookie keeps users apart).
    assert "cache-control" not in client.get("/view").headers
    response = client.post("/clear")
    assert the_set_cookie(response).deletes
    assert response.headers["cache-control"] == "private, no-store"


def test_the_apps_own_cache_control_is_kept(make_client: MakeClient) -> None:
    client = make_client(routes=ROUTES)
    response = client.post("/cached-write")
    assert the_set_cookie(response)
    assert response.headers.get_list("cache-control") == ["public, max-age=60"]


def test_cache_control_can_be_changed_or_turned_off(make_client: MakeClient) -> None:
    off = make_client(cache_control=None).post("/update", json={"a": 1})
    assert the_set_cookie(off) and "cache-control" not in off.headers
    assert off.headers["vary"] == "Cookie"
    custom = make_client(cache_control="no-cache").post("/update", json={"a": 1})
    assert custom.headers["cache-control"] == "no-cache"


def test_a_partitioned_cookie_is_set_and_deleted_as_partitioned(make_client: MakeClient) -> None:
    client = make_client(cookie_partitioned=True, cookie_same_site="none")
    cookie = the_set_cookie(client.post("/update", json={"a": 1}))
    assert "partitioned" in cookie.attrs
    assert cookie.attrs["samesite"] == "None" and "secure" in cookie.attrs
    deleted = the_set_cookie(client.post("/clear"))
    assert deleted.deletes and "partitioned" in deleted.attrs
    assert "partitioned" not in the_set_cookie(make_client().post("/update", json={"a": 1})).attrs


@pytest.mark.parametrize(
    "options",
    [{}, {"cookie_same_site": "lax"}, {"cookie_same_site": "none", "cookie_https_only": False}],
)
def test_partitioned_needs_secure_and_same_site_none(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="needs cookie_"):
        SCsessionMiddleware(None, secret_key=KEY, cookie_partitioned=True, **options)  # type: ignore[arg-type]
