"""Shared pieces of the test suite: a tiny app, a fake clock, cookie helpers, a spying store."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from scsession import Flash, MemoryStore, SCsessionMiddleware, Session

# Test secrets: at least 32 bytes each, easy to recognise if one ever leaks into a message.
KEY = "test-secret-key-0000000000000000000000000"
KEY_A = "test-secret-key-AAAAAAAAAAAAAAAAAAAAAAAAA"
KEY_B = "test-secret-key-BBBBBBBBBBBBBBBBBBBBBBBBB"

# A generated password with every character that ends a part of a URL, as it goes into a URL
# unencoded and percent-encoded, and every form in which it must never be shown: as written,
# encoded (fully or in part; hex in either case), and the runs a URL parser splits an unencoded
# one into.
NASTY_PASSWORD = "p/ss?w#rd@x:y"
NASTY_PASSWORD_ENCODED = quote(NASTY_PASSWORD, safe="")  # p%2Fss%3Fw%23rd%40x%3Ay
NASTY_PASSWORD_FORMS = [
    NASTY_PASSWORD,
    NASTY_PASSWORD_ENCODED,
    quote(NASTY_PASSWORD, safe="/:@"),
    quote(NASTY_PASSWORD, safe="?#"),
    "p/ss?w",
    "ss?w#rd",
    "w#rd@x:y",
    "rd@x:y",
]


def assert_no_password(text: str) -> None:
    """`text` shows NASTY_PASSWORD in none of its forms (in any case)."""
    for form in NASTY_PASSWORD_FORMS:
        assert form.lower() not in text.lower(), f"{form!r} in {text!r}"


HTTPS = "https://testserver"
HTTP = "http://testserver"

EPOCH_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"


T = TypeVar("T")


def run_store_call(call: Awaitable[T]) -> T:
    """`asyncio.run(store.count())`. Outside an event loop a store call returns a coroutine (inside
    one, a future), so the stub says `Awaitable`, which `asyncio.run` does not accept."""
    return asyncio.run(cast(Coroutine[Any, Any, T], call))


# --- the tiny app ------------------------------------------------------------------------------


def session_of(connection: HTTPConnection) -> Session:
    """`connection.session`, typed as what SCsessionMiddleware puts there (Starlette: a dict)."""
    return cast(Session, connection.session)


def session_json(request: Request) -> JSONResponse:
    return JSONResponse({"session": dict(request.session)})


async def view(request: Request) -> Response:
    return session_json(request)


async def update(request: Request) -> Response:
    request.session.update(await request.json())
    return session_json(request)


async def delete(request: Request) -> Response:
    for key in await request.json():
        del request.session[key]
    return session_json(request)


async def append(request: Request) -> Response:
    body = await request.json()
    request.session[body["key"]].append(body["value"])
    return session_json(request)


async def clear(request: Request) -> Response:
    request.session.clear()
    return session_json(request)


async def flash(request: Request) -> Response:
    body = await request.json()
    session_of(request).flash(body["category"], body["message"])
    return session_json(request)


async def flashes(request: Request) -> Response:
    category = request.query_params.get("category")
    session = session_of(request)
    pending = session.flashes(category) if category else session.flashes()
    return JSONResponse(
        {
            "flashes": [[f.category, f.message] for f in pending],
            "named_tuples": all(isinstance(f, Flash) and isinstance(f, tuple) for f in pending),
            "type": type(pending).__name__,
        }
    )


async def regenerate(request: Request) -> Response:
    session = session_of(request)
    old = session.id
    session.regenerate()
    return JSONResponse({"old": old, "new": session.id, "session": dict(session)})


async def invalidate(request: Request) -> Response:
    session = session_of(request)
    old = session.id
    session.invalidate()
    return JSONResponse({"old": old, "session": dict(session)})


async def session_id(request: Request) -> Response:
    return JSONResponse({"id": session_of(request).id})


async def untouched(request: Request) -> Response:
    return PlainTextResponse("the handler never looks at the session")


ROUTES: list[BaseRoute] = [
    Route("/view", view),
    Route("/update", update, methods=["POST"]),
    Route("/delete", delete, methods=["POST"]),
    Route("/append", append, methods=["POST"]),
    Route("/clear", clear, methods=["POST"]),
    Route("/flash", flash, methods=["POST"]),
    Route("/flashes", flashes),
    Route("/regenerate", regenerate, methods=["POST"]),
    Route("/invalidate", invalidate, methods=["POST"]),
    Route("/id", session_id),
    Route("/untouched", untouched),
]


def make_app(
    *,
    store: Any = None,
    secret_key: Any = KEY,
    routes: Iterable[BaseRoute] = (),
    **options: Any,
) -> Starlette:
    """The tiny app behind SCsessionMiddleware; extra routes come first."""
    return Starlette(
        routes=[*routes, *ROUTES],
        middleware=[Middleware(SCsessionMiddleware, secret_key=secret_key, store=store, **options)],
    )


@dataclass
class Clock:
    """The fake time the middleware sees (unix seconds); see the `clock` fixture."""

    now: int

    def advance(self, seconds: int) -> None:
        self.now += seconds


# --- cookies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetCookie:
    """One parsed Set-Cookie header; attribute names are lower-cased, flags map to ''."""

    raw: str
    name: str
    value: str
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def deletes(self) -> bool:
        return self.attrs.get("max-age") == "0"

    def without_expiry(self) -> dict[str, str]:
        """Attributes other than Max-Age/Expires, SameSite's value lower-cased."""
        attrs = {k: v for k, v in self.attrs.items() if k not in ("max-age", "expires")}
        if "samesite" in attrs:
            attrs["samesite"] = attrs["samesite"].lower()
        return attrs


def parse_set_cookie(raw: str) -> SetCookie:
    first, *rest = raw.split(";")
    name, _, value = first.strip().partition("=")
    attrs: dict[str, str] = {}
    for part in rest:
        key, _, val = part.strip().partition("=")
        assert key.lower() not in attrs, f"attribute {key} given twice in {raw!r}"
        attrs[key.lower()] = val
    return SetCookie(raw=raw, name=name, value=value, attrs=attrs)


def set_cookies(response: Any) -> list[SetCookie]:
    return [parse_set_cookie(h) for h in response.headers.get_list("set-cookie")]


def the_set_cookie(response: Any, name: str = "session") -> SetCookie:
    """The single Set-Cookie for `name`; fails when there is none or more than one."""
    found = [c for c in set_cookies(response) if c.name == name]
    assert len(found) == 1, f"expected one Set-Cookie for {name!r}, got {response.headers}"
    return found[0]


def no_set_cookie(response: Any) -> bool:
    set_cookie: list[str] = response.headers.get_list("set-cookie")
    return set_cookie == []


def cookie_header(value: str | bytes, name: str = "session") -> dict[str, Any]:
    """Headers that send exactly this cookie (the client's jar is bypassed)."""
    if isinstance(value, bytes):
        return {"cookie": name.encode() + b"=" + value}
    return {"cookie": f"{name}={value}"}


def starlette_itsdangerous_cookie(data: dict[str, Any], secret_key: str) -> str:
    """What Starlette's own SessionMiddleware (itsdangerous TimestampSigner) would set."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    value = base64.b64encode(json.dumps(data).encode())
    timestamp = b64(int(time.time()).to_bytes(8, "big").lstrip(b"\x00"))
    signed = value + b"." + timestamp
    derived = hashlib.sha1(b"itsdangerous.Signer" + b"signer" + secret_key.encode()).digest()
    signature = b64(hmac.new(derived, signed, hashlib.sha1).digest())
    return (signed + b"." + signature).decode()


# --- a store that records what the middleware asks of it ---------------------------------------


class SpyStore:
    """A store (per the contract's protocol) that delegates to a MemoryStore and logs each call."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.calls: list[tuple[str, str]] = []
        self.saved: list[tuple[str, bytes, int]] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def load(self, id: str) -> bytes | None:
        self.calls.append(("load", id))
        result: bytes | None = await self.inner.load(id)
        return result

    async def save(self, id: str, data: bytes, ttl_seconds: int) -> None:
        self.calls.append(("save", id))
        self.saved.append((id, data, ttl_seconds))
        await self.inner.save(id, data, ttl_seconds)

    async def update(self, id: str, data: bytes, ttl_seconds: int) -> bool:
        """Replaces the record only if it is there (not atomic: enough for one test thread)."""
        self.calls.append(("update", id))
        self.saved.append((id, data, ttl_seconds))
        if await self.inner.load(id) is None:
            return False
        await self.inner.save(id, data, ttl_seconds)
        return True

    async def delete(self, id: str) -> None:
        self.calls.append(("delete", id))
        await self.inner.delete(id)


class DictStore:
    """The smallest store the contract allows: three async methods, no update()."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    async def load(self, id: str) -> bytes | None:
        return self.records.get(id)

    async def save(self, id: str, data: bytes, ttl_seconds: int) -> None:
        assert isinstance(data, bytes) and ttl_seconds > 0
        self.records[id] = data

    async def delete(self, id: str) -> None:
        self.records.pop(id, None)


class ReplaceStore(DictStore):
    """A store written in Python with ``replace``: the middleware gives it the built-in stores'
    guarantees (no lost updates, sign-outs that stick) by running the core's save on it."""

    async def replace(self, id: str, expected: bytes, data: bytes, ttl_seconds: int) -> str:
        current = self.records.get(id)
        if current is None:
            return "missing"
        if current != expected:
            return "stale"
        self.records[id] = data
        return "done"
