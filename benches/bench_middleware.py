"""Per-request cost of session middlewares, measured in process and over HTTP.

Each variant is the same Starlette app (Route endpoints) with a different session middleware:

    bare               no session middleware (the baseline)
    starlette          starlette.middleware.sessions.SessionMiddleware (itsdangerous + JSON)
    starsessions       starsessions SessionMiddleware + SessionAutoloadMiddleware, CookieStore
    scsession-cookie   SCsessionMiddleware, whole session sealed into the cookie
    scsession-memory   SCsessionMiddleware with MemoryStore (cookie holds id + MAC)
    starsessions-redis starsessions with its own RedisStore (redis-py asyncio client)
    scsession-redis    SCsessionMiddleware with scsession.RedisStore (cookie holds id + MAC)
    scsession-redis-on-demand  the same with load="on_demand": its handlers await
                       scsession.load_session(request) first, and untouched reads nothing

The two Redis variants share one redis-server that the bench starts itself on a loopback port
(tests/servers.py; Debian's redis-server is installed with apt-get when missing), each under a
key prefix of its own. Before timing, each is checked to really keep its sessions in Redis: the
seed and every write change a record under its prefix, and a session whose record is deleted
from Redis no longer reads back.

Scenarios (one endpoint each): ``read`` (cookie sent, handler reads one key), ``write`` (cookie
sent, handler sets a key to a new value, so a Set-Cookie follows), ``new`` (no cookie, handler
sets one key) and ``untouched`` (cookie sent, handler never looks at the session). The cookie
replayed for each variant comes from one request to its ``/seed`` endpoint, which stores a small
realistic session (an int, a string, a cart of 3 dicts: 183 bytes as JSON); bare gets a dummy
300-byte cookie. Every app has the same routes in the same order, so routing costs the same.

Method. No HTTP and no test client: the bench builds the ASGI scope and the receive/send callables
itself and awaits ``app(scope, receive, send)`` in a tight loop inside one asyncio event loop.
Before timing, every variant is checked (status, body, the seeded data reads back, writes produce
a Set-Cookie that round-trips, scsession sends no Set-Cookie on read/untouched); the last response
of every timed batch is re-checked, so a broken path fails loudly instead of being timed.
The machine has 2 noisy cores, so variants are interleaved: in each round, for each scenario, each
variant runs one batch of N requests (N calibrated so a batch takes ~0.2 s; the variant order
rotates per round). A batch is timed in CPU time of this process (``time.process_time``, all
its threads, so scsession's I/O threads count too; without a store server the bench does no I/O,
so on an idle machine it equals wall time), which leaves out the time other processes hold the
core (and the time redis-server takes to answer); ``--wall`` times with ``perf_counter`` instead.
A cell's figure is the median over rounds of the per-request time; overhead over bare and the
untouched ratio are medians of per-round paired differences/ratios, which cancels slow drift.
Both clocks are read around every batch; for the Redis variants (whose requests also wait on the
server) the overhead is shown in both, the targets use the main clock.

``--http`` (on by default in a full run, off under ``--quick``) also serves the app over HTTP: one
uvicorn process per variant (one worker, 127.0.0.1, a free port, no access log; ``--uvicorn
standard``, the default, serves with httptools and uvloop as ``uvicorn[standard]`` does in
production, ``--uvicorn plain`` with pure-Python h11 and asyncio's loop), loaded by ``wrk``
(Debian's, installed with apt-get when missing) with 1 thread and 16 keep-alive connections for a
fixed time per cell (5 rounds x 2 s, after a 1 s warm-up). Each variant gets 64 seeded sessions and
wrk sends their cookies in turn (a Lua script), so concurrent requests are different users, as in
production. Cells are interleaved over rounds like in process; the figure is the median requests
per second. The server is the bottleneck, so its time per request is 1/(req/s) and the overhead
over bare is 1/rps - 1/rps(bare); the CPU time of the uvicorn process (all its threads, from /proc)
per request is shown too, steadier on a noisy machine. The HTTP target lines compare both, and
check that cookie sessions keep at least 0.85 of bare's throughput (issue 14) in both.
Every HTTP variant gets the same request (a Cookie header of about the same size; bare gets a
dummy one) and answers the same body; only a session variant's Set-Cookie differs, as it would.

A full run draws the in-process overheads and the HTTP requests/s relative to bare as a PNG chart
(``benches/chart.py``, matplotlib) into ``docs/bench.png``, which the README shows; ``--chart PNG``
draws it elsewhere, and a ``--quick`` or ``--variants`` run draws none unless asked.

Usage: ``python benches/bench_middleware.py [--quick] [--http | --no-http] [--variants A,B]
[--http-rounds N] [--http-seconds S] [--http-warmup S] [--connections N] [--uvicorn SETUP]
[--allow-missing] [--strict] [--wall] [--json FILE] [--chart PNG]``. A full run takes about 3
minutes. ``--quick`` (2 short rounds, ~5 s; no HTTP unless ``--http``) is for smoke tests: run it
as a subprocess, or load this file with ``importlib.util.spec_from_file_location`` and call
``main(["--quick"])``, which returns the exit code (0 ok, 1 a target missed under ``--strict``, 2
a broken variant or missing library).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import http.client
import importlib
import importlib.util
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Scope

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-only-secret-0123456789abcdef-0123456789abcdef"
SEED = {
    "user_id": 48213,
    "name": "Ada Lovelace",
    "cart": [
        {"sku": "A-1001", "qty": 2, "price": 1299},
        {"sku": "B-2002", "qty": 1, "price": 4550},
        {"sku": "C-3003", "qty": 5, "price": 199},
    ],
}
SCENARIOS = ("read", "write", "new", "untouched")
VARIANTS = (
    "bare",
    "starlette",
    "starsessions",
    "scsession-cookie",
    "scsession-memory",
    "starsessions-redis",
    "scsession-redis",
    "scsession-redis-on-demand",
)
SC_VARIANTS = (
    "scsession-cookie",
    "scsession-memory",
    "scsession-redis",
    "scsession-redis-on-demand",
)
# Modules each variant needs (the Redis variants also need redis-py: the bench checks with it
# that their records really are in Redis).
NEEDS: dict[str, tuple[str, ...]] = {
    "bare": (),
    "starlette": ("itsdangerous",),
    "starsessions": ("starsessions",),
    "scsession-cookie": ("scsession",),
    "scsession-memory": ("scsession",),
    "starsessions-redis": ("starsessions.stores.redis", "redis"),
    "scsession-redis": ("scsession", "redis"),
    "scsession-redis-on-demand": ("scsession", "redis"),
}
# The Redis variants share one redis-server, each under its own key prefix.
REDIS_PREFIX = {
    "starsessions-redis": "bench-starsessions:",
    "scsession-redis": "bench-scsession:",
    "scsession-redis-on-demand": "bench-scsession-on-demand:",
}
REDIS_PAIR = ("starsessions-redis", "scsession-redis")
HTTP_VARIANTS = ("bare", "starlette", "starsessions-redis", "scsession-cookie", "scsession-redis")
HTTP_SCENARIOS = ("read", "write")
HTTP_SESSIONS = 64  # seeded sessions per variant; wrk sends their cookies in turn
HOST = "127.0.0.1"
TARGET_RATIO, TARGET_UNTOUCHED = 0.5, 0.05
TARGET_HTTP_COOKIE = 0.85  # issue 14: cookie sessions keep this share of bare's requests/s
CHART = ROOT / "docs" / "bench.png"  # what a full run draws; the README shows it
_counter = itertools.count(1)


class BenchError(RuntimeError):
    """A variant misbehaved or could not be built: its timings would be meaningless."""


# --- endpoints ----------------------------------------------------------------------------
async def seed(request: Request) -> PlainTextResponse:
    for key, value in SEED.items():
        request.session[key] = value
    return PlainTextResponse("ok")


async def peek(request: Request) -> JSONResponse:  # verification only
    return JSONResponse(dict(request.session))


async def read(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(request.session["user_id"]))


async def write(request: Request) -> PlainTextResponse:
    n = next(_counter)
    request.session["counter"] = n
    return PlainTextResponse(str(n))


async def new(request: Request) -> PlainTextResponse:
    request.session["user_id"] = SEED["user_id"]
    return PlainTextResponse("ok")


async def untouched(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def bare_read(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(SEED["user_id"]))


async def bare_write(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(next(_counter)))


# Same paths in the same order for every variant, so routing costs the same everywhere.
PATHS = ("read", "write", "new", "untouched", "seed", "peek")
SESSION_HANDLERS = (read, write, new, untouched, seed, peek)
BARE_HANDLERS = (bare_read, bare_write, untouched, untouched, untouched, untouched)
SESSION_ROUTES = [Route(f"/{p}", f) for p, f in zip(PATHS, SESSION_HANDLERS, strict=True)]
BARE_ROUTES = [Route(f"/{p}", f) for p, f in zip(PATHS, BARE_HANDLERS, strict=True)]


def loading(handler: Any) -> Any:
    """`handler` for load="on_demand": it loads the session first, as such an app does."""

    async def loaded(request: Request) -> PlainTextResponse:
        from scsession import load_session

        await load_session(request)
        response: PlainTextResponse = await handler(request)
        return response

    return loaded


# load="on_demand": every handler that uses the session loads it; untouched does not.
ON_DEMAND_ROUTES = [
    Route(f"/{p}", f if f is untouched else loading(f))
    for p, f in zip(PATHS, SESSION_HANDLERS, strict=True)
]


def require(variant: str) -> None:
    """ImportError if a library the variant needs is missing."""
    for module in NEEDS[variant]:
        importlib.import_module(module)


def build_app(variant: str, redis_url: str | None = None) -> Starlette:
    """The app for one variant; ImportError if its library is missing.

    The starsessions-redis app keeps its redis-py client's ``aclose`` in ``app.state.aclose``:
    await it before the event loop ends.
    """
    if variant in REDIS_PREFIX and redis_url is None:
        raise ValueError(f"{variant} needs a redis_url")
    aclose = None
    if variant == "bare":
        return Starlette(routes=BARE_ROUTES)
    if variant == "starlette":
        from starlette.middleware.sessions import SessionMiddleware

        mw = [Middleware(SessionMiddleware, secret_key=SECRET)]
    elif variant in ("starsessions", "starsessions-redis"):
        import starsessions as ss

        if variant == "starsessions":
            store: Any = ss.CookieStore(secret_key=SECRET)
        else:
            from redis.asyncio import Redis
            from starsessions.stores.redis import RedisStore as StarsessionsRedisStore

            client = Redis.from_url(redis_url)
            store = StarsessionsRedisStore(connection=client, prefix=REDIS_PREFIX[variant])
            aclose = client.aclose
        mw = [
            Middleware(
                ss.SessionMiddleware,
                store=store,
                lifetime=14 * 24 * 3600,
                cookie_https_only=False,
            ),
            Middleware(ss.SessionAutoloadMiddleware),
        ]
    else:
        from scsession import MemoryStore, RedisStore, SCsessionMiddleware

        store = None
        if variant == "scsession-memory":
            store = MemoryStore()
        elif variant in ("scsession-redis", "scsession-redis-on-demand"):
            store = RedisStore(redis_url, prefix=REDIS_PREFIX[variant])
        load = "on_demand" if variant == "scsession-redis-on-demand" else "eager"
        mw = [
            Middleware(
                SCsessionMiddleware,
                secret_key=SECRET,
                store=store,
                cookie_https_only=False,
                load=load,
            )
        ]
        if load == "on_demand":
            app = Starlette(routes=ON_DEMAND_ROUTES, middleware=mw)
            app.state.aclose = aclose
            return app
    app = Starlette(routes=SESSION_ROUTES, middleware=mw)
    app.state.aclose = aclose
    return app


# --- Redis ----------------------------------------------------------------------------------
def servers_module() -> ModuleType:
    """tests/servers.py, which runs redis-server (and installs Debian packages) for the bench."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("tests.servers")


class RedisProbe:
    """Looks at a variant's records in Redis directly (blocking redis-py; verification only)."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)

    def records(self, variant: str) -> dict[bytes, bytes]:
        keys = list(self.client.scan_iter(match=REDIS_PREFIX[variant] + "*", count=1000))
        return dict(zip(keys, self.client.mget(keys), strict=True)) if keys else {}

    def close(self) -> None:
        self.client.close()


def changed(before: dict[bytes, bytes], after: dict[bytes, bytes]) -> set[bytes]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


# --- ASGI plumbing --------------------------------------------------------------------------
def scope_for(path: str, cookie: bytes | None) -> Scope:
    headers = [(b"host", b"bench.local"), (b"user-agent", b"bench/1.0"), (b"accept", b"*/*")]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("bench.local", 80),
    }


_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def receive() -> Message:
    return _REQUEST


class Capture:
    """send() that keeps the last response start (cheap enough for the timed loop)."""

    def __init__(self) -> None:
        self.start: Message = {}
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        else:
            self.body = message.get("body", b"")

    def set_cookies(self) -> list[bytes]:
        return [v for k, v in self.start.get("headers", ()) if k.lower() == b"set-cookie"]


async def call(app: Starlette, path: str, cookie: bytes | None, where: str) -> Capture:
    cap = Capture()
    try:
        await app(scope_for(path, cookie), receive, cap.send)
    except Exception as exc:
        raise BenchError(f"{where}: {path} raised {exc!r}") from exc
    if cap.start.get("status") != 200:
        raise BenchError(f"{where}: {path} answered {cap.start.get('status')}: {cap.body[:200]!r}")
    return cap


def cookie_of(cap: Capture, where: str) -> bytes:
    cookies = cap.set_cookies()
    if len(cookies) != 1:
        raise BenchError(f"{where}: expected exactly one Set-Cookie, got {cookies!r}")
    return cookies[0].split(b";", 1)[0].strip()


async def verify(
    variant: str, app: Starlette, probe: RedisProbe | None = None
) -> tuple[bytes, dict[str, bool]]:
    """Check the variant's behaviour; return its replay cookie and Set-Cookie per scenario.

    For a Redis variant `probe` looks into Redis: the seed adds one record under the variant's
    prefix, a write changes a record, and a new session whose record is deleted from Redis no
    longer reads back (so the data is read from Redis, not from the cookie or a cache).
    """
    sent: dict[str, bool] = {}
    if variant == "bare":  # a cookie of realistic size that nothing parses
        cookie = b"session=" + b"x" * 300
        for s in SCENARIOS:
            sent[s] = bool((await call(app, f"/{s}", cookie, "bare")).set_cookies())
        return cookie, sent
    w = variant
    in_redis = variant in REDIS_PREFIX
    if in_redis and probe is None:
        raise BenchError(f"{w}: no Redis probe to verify it with")

    def records() -> dict[bytes, bytes]:
        return probe.records(variant) if in_redis and probe is not None else {}

    before = records()
    cookie = cookie_of(await call(app, "/seed", None, f"{w}/seed"), f"{w}/seed")
    seeded = records()
    if in_redis and len(seeded.keys() - before.keys()) != 1:
        raise BenchError(
            f"{w}/seed: expected one new record under {REDIS_PREFIX[w]!r} in Redis, "
            f"found {len(seeded.keys() - before.keys())}"
        )
    got = json.loads((await call(app, "/peek", cookie, f"{w}/peek")).body)
    if any(got.get(k) != v for k, v in SEED.items()):
        raise BenchError(f"{w}: seeded session does not read back: {got!r}")
    cap = await call(app, "/read", cookie, f"{w}/read")
    if cap.body != str(SEED["user_id"]).encode():
        raise BenchError(f"{w}/read: body {cap.body!r}, expected the seeded user_id")
    sent["read"] = bool(cap.set_cookies())
    cap = await call(app, "/write", cookie, f"{w}/write")
    got = json.loads((await call(app, "/peek", cookie_of(cap, f"{w}/write"), f"{w}/peek")).body)
    if got.get("counter") != int(cap.body) or got.get("name") != SEED["name"]:
        raise BenchError(f"{w}/write: cookie does not read back the write: {got!r}")
    if in_redis and not changed(seeded, records()):
        raise BenchError(f"{w}/write: no record under {REDIS_PREFIX[w]!r} in Redis changed")
    sent["write"] = True
    before = records()
    cap = await call(app, "/new", None, f"{w}/new")
    new_cookie = cookie_of(cap, f"{w}/new")
    got = json.loads((await call(app, "/peek", new_cookie, f"{w}/peek")).body)
    if got != {"user_id": SEED["user_id"]}:
        raise BenchError(f"{w}/new: new session reads back as {got!r}")
    if in_redis and probe is not None:
        added = records().keys() - before.keys()
        if len(added) != 1:
            raise BenchError(f"{w}/new: expected one new record in Redis, found {len(added)}")
        probe.client.delete(*added)
        got = json.loads((await call(app, "/peek", new_cookie, f"{w}/peek")).body)
        if got:
            raise BenchError(
                f"{w}/new: the session still reads back as {got!r} after its record was "
                "deleted from Redis: it is not read from Redis"
            )
    sent["new"] = True
    cap = await call(app, "/untouched", cookie, f"{w}/untouched")
    sent["untouched"] = bool(cap.set_cookies())
    if variant in SC_VARIANTS:
        for s in ("read", "untouched"):
            if sent[s]:
                raise BenchError(
                    f"{w}/{s}: Set-Cookie sent for an unchanged session (the contract says none)"
                )
    return cookie, sent


# --- timing ---------------------------------------------------------------------------------
async def batch(app: Starlette, template: Scope, n: int, cap: Capture) -> tuple[float, float]:
    """(CPU, wall) seconds per request over n requests."""
    send = cap.send
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        await app(dict(template), receive, send)
    w1, c1 = time.perf_counter(), time.process_time()
    return (c1 - c0) / n, (w1 - w0) / n


async def bench(
    variants: list[str], rounds: int, batch_s: float, wall: bool, redis_url: str | None
) -> dict[str, Any]:
    apps = {v: build_app(v, redis_url) for v in variants}
    probe = RedisProbe(redis_url) if redis_url and set(variants) & set(REDIS_PREFIX) else None
    cells: dict[tuple[str, str], tuple[Scope, int, bool]] = {}
    observed: dict[str, dict[str, bool]] = {}
    cookie_bytes: dict[str, int] = {}
    clocks = ("cpu", "wall")
    times = {c: {s: {v: [] for v in variants} for s in SCENARIOS} for c in clocks}
    try:
        for v in variants:
            cookie, sent = await verify(v, apps[v], probe)
            observed[v] = sent
            if v != "bare":
                cookie_bytes[v] = len(cookie)
            for s in SCENARIOS:
                tpl = scope_for(f"/{s}", None if s == "new" else cookie)
                _, per = await batch(apps[v], tpl, 200, Capture())  # warm-up + calibration
                cells[v, s] = (tpl, max(50, round(batch_s / per)), sent[s])
        for r in range(rounds):
            order = variants[r % len(variants) :] + variants[: r % len(variants)]
            for s in SCENARIOS:
                for v in order:
                    tpl, n, expect_cookie = cells[v, s]
                    cap = Capture()
                    per_request = await batch(apps[v], tpl, n, cap)
                    for c, x in zip(clocks, per_request, strict=True):
                        times[c][s][v].append(x * 1e6)
                    if cap.start.get("status") != 200 or bool(cap.set_cookies()) != expect_cookie:
                        raise BenchError(
                            f"{v}/{s}: a timed response differs from the verified one: "
                            f"{cap.start!r}"
                        )
    finally:
        for app in apps.values():
            aclose = getattr(app.state, "aclose", None)
            if aclose is not None:
                await aclose()
        if probe is not None:
            probe.close()
    main_clock = "wall" if wall else "cpu"
    sizes = {f"{v}/{s}": c[1] for (v, s), c in cells.items()}
    return {
        "clock": main_clock,
        "times": times[main_clock],
        "times_by_clock": times,
        "observed": observed,
        "cookie_bytes": cookie_bytes,
        "n": sizes,
    }


# --- over HTTP ------------------------------------------------------------------------------
# wrk sends the seeded sessions' cookies in turn, one per request.
WRK_SCRIPT = """\
local cookies = {%s}
local requests = {}
local i = 0
init = function(args)
  for k, cookie in ipairs(cookies) do
    requests[k] = wrk.format("GET", nil, {["Cookie"] = cookie})
  end
end
request = function()
  i = i %% #requests + 1
  return requests[i]
end
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_COOKIE_OK = re.compile(r"[!#-\[\]-~]+")  # printable ASCII without space, quote and backslash


# How uvicorn parses HTTP and runs its event loop: "standard" is what `pip install
# uvicorn[standard]` gives and production runs (httptools' C parser, uvloop), "plain" is bare
# `pip install uvicorn` (h11, pure Python, and asyncio's loop). uvicorn picks standard by itself
# when both are installed; the bench names its choice so that the figures say what they measured.
SERVER_SETUPS = {"standard": ("httptools", "uvloop"), "plain": ("h11", "asyncio")}


def server_setup(name: str) -> str:
    """The setup as text, with versions; ImportError if its libraries are missing."""
    http, loop = SERVER_SETUPS[name]
    parts = []
    for module in (http, loop):
        if module != "asyncio":
            importlib.import_module(module)
            parts.append(f"{module} {metadata.version(module)}")
    return f"{name}: " + " + ".join(parts + (["asyncio"] if loop == "asyncio" else []))


def serve(variant: str, port: int, redis_url: str | None, setup: str) -> int:
    """Run one variant under uvicorn (the child process of ``--http``) until SIGTERM."""
    import uvicorn

    http, loop = SERVER_SETUPS[setup]
    app = build_app(variant, redis_url)
    uvicorn.run(
        app, host=HOST, port=port, workers=1, access_log=False, log_level="warning",
        http=http, loop=loop,
    )  # fmt: skip
    return 0


def http_get(port: int, path: str, cookie: str | None = None) -> tuple[int, list[str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        return resp.status, resp.headers.get_all("set-cookie") or [], resp.read()
    finally:
        conn.close()


def http_ok(port: int, path: str, cookie: str | None, where: str) -> tuple[list[str], bytes]:
    try:
        status, cookies, body = http_get(port, path, cookie)
    except OSError as exc:
        raise BenchError(f"{where}: {path} failed: {exc!r}") from exc
    if status != 200:
        raise BenchError(f"{where}: {path} answered {status}: {body[:200]!r}")
    return cookies, body


def http_cookie(cookies: list[str], where: str) -> str:
    if len(cookies) != 1:
        raise BenchError(f"{where}: expected exactly one Set-Cookie, got {cookies!r}")
    cookie = cookies[0].split(";", 1)[0].strip()
    if not _COOKIE_OK.fullmatch(cookie):
        raise BenchError(f"{where}: cookie {cookie!r} has characters the wrk script cannot take")
    return cookie


def http_verify(v: str, port: int, probe: RedisProbe | None) -> list[str]:
    """Check the served variant; return the cookies of its seeded sessions."""
    if v == "bare":
        cookie = "session=" + "x" * 300
        for s in HTTP_SCENARIOS:
            http_ok(port, f"/{s}", cookie, "bare")
        return [cookie]
    before = probe.records(v) if v in REDIS_PREFIX and probe is not None else {}
    cookies = [
        http_cookie(http_ok(port, "/seed", None, f"{v}/seed")[0], f"{v}/seed")
        for _ in range(HTTP_SESSIONS)
    ]
    if v in REDIS_PREFIX and probe is not None:
        added = len(probe.records(v).keys() - before.keys())
        if added != HTTP_SESSIONS:
            raise BenchError(f"{v}: {HTTP_SESSIONS} sessions seeded, {added} records in Redis")
    for cookie in (cookies[0], cookies[-1]):
        got = json.loads(http_ok(port, "/peek", cookie, f"{v}/peek")[1])
        if any(got.get(k) != val for k, val in SEED.items()):
            raise BenchError(f"{v}: seeded session does not read back over HTTP: {got!r}")
    set_cookies, body = http_ok(port, "/read", cookies[0], f"{v}/read")
    if body != str(SEED["user_id"]).encode() or (v in SC_VARIANTS and set_cookies):
        raise BenchError(f"{v}/read: body {body!r}, Set-Cookie {set_cookies!r}")
    set_cookies, body = http_ok(port, "/write", cookies[0], f"{v}/write")
    got = json.loads(http_ok(port, "/peek", http_cookie(set_cookies, f"{v}/write"), v)[1])
    if got.get("counter") != int(body) or got.get("name") != SEED["name"]:
        raise BenchError(f"{v}/write: the write does not read back over HTTP: {got!r}")
    return cookies


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        servers = servers_module()
        servers.ensure_installed(lambda: [] if shutil.which("wrk") else ["wrk"])
        path = shutil.which("wrk")
    if path is None:
        raise BenchError("wrk not found and could not be installed")
    return path


def wrk_run(
    wrk: str, port: int, path: str, script: Path, seconds: float, connections: int, where: str
) -> tuple[str, float, int]:
    """wrk's output, requests per second and requests of one run on `path` (failed requests are
    in the output; see run_wrk)."""
    command = [
        wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
        "-s", str(script), f"http://{HOST}:{port}{path}",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    out = done.stdout + done.stderr
    rate = re.search(r"Requests/sec:\s*([0-9.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if done.returncode != 0 or rate is None or count is None:
        raise BenchError(f"{where}: wrk failed (exit {done.returncode}):\n{out}")
    return out, float(rate.group(1)), int(count.group(1))


def run_wrk(
    wrk: str, port: int, path: str, script: Path, seconds: int, connections: int, where: str
) -> tuple[float, int]:
    """(requests per second, requests) over `seconds`; every response checked to be 2xx."""
    out, rate, count = wrk_run(wrk, port, path, script, seconds, connections, where)
    if count == 0:
        raise BenchError(f"{where}: wrk sent no request:\n{out}")
    if "Non-2xx" in out or "Socket errors" in out:
        raise BenchError(f"{where}: wrk saw failed requests:\n{out}")
    return rate, count


class Served:
    """One variant under uvicorn in a child process (stopped by close())."""

    def __init__(
        self, variant: str, port: int, redis_url: str | None, log: Path, setup: str
    ) -> None:
        self.variant, self.port, self.log = variant, port, log
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", variant]
        command += ["--port", str(port), "--uvicorn", setup]
        if redis_url is not None and variant in REDIS_PREFIX:
            command += ["--redis-url", redis_url]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server process so far, all its threads."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.variant}: uvicorn exited with code {self.proc.returncode}:\n"
                    + self.log.read_text(errors="replace")[-3000:]
                )
            with contextlib.suppress(OSError):
                if http_get(self.port, "/untouched")[0] == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"{self.variant}: uvicorn not answering after {timeout:.0f} s")
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def http_bench(
    variants: list[str],
    redis_url: str | None,
    rounds: int,
    seconds: int,
    warmup: int,
    connections: int,
    setup: str,
) -> dict[str, Any]:
    wrk = wrk_binary()
    servers = servers_module()
    probe = RedisProbe(redis_url) if redis_url and set(variants) & set(REDIS_PREFIX) else None
    rates: dict[str, dict[str, list[float]]] = {
        s: {v: [] for v in variants} for s in HTTP_SCENARIOS
    }
    cpu: dict[str, dict[str, list[float]]] = {s: {v: [] for v in variants} for s in HTTP_SCENARIOS}
    with tempfile.TemporaryDirectory(prefix="scsession-bench-") as tmp:
        served: dict[str, Served] = {}
        try:
            for v in variants:  # all up at once: an idle server costs nothing
                log = Path(tmp, f"{v}.log")
                served[v] = Served(v, servers.free_port(), redis_url, log, setup)
            scripts: dict[str, Path] = {}
            cookies: dict[str, list[str]] = {}
            for v in variants:
                served[v].wait_ready()
                cookies[v] = http_verify(v, served[v].port, probe)
                scripts[v] = Path(tmp, f"{v}.lua")
                scripts[v].write_text(WRK_SCRIPT % ", ".join(f'"{c}"' for c in cookies[v]))
                if warmup > 0:
                    for s in HTTP_SCENARIOS:
                        run_wrk(wrk, served[v].port, f"/{s}", scripts[v], warmup, connections, v)
            for r in range(rounds):
                order = variants[r % len(variants) :] + variants[: r % len(variants)]
                for s in HTTP_SCENARIOS:
                    for v in order:
                        port, where = served[v].port, f"http {v}/{s}"
                        c0 = served[v].cpu_seconds()
                        rate, n = run_wrk(
                            wrk, port, f"/{s}", scripts[v], seconds, connections, where
                        )
                        cpu[s][v].append((served[v].cpu_seconds() - c0) / n * 1e6)
                        rates[s][v].append(rate)
            for v in variants:  # every session still reads back after the load
                if v != "bare":
                    http_verify_after(v, served[v].port, cookies[v])
        finally:
            for server in served.values():
                server.close()
            if probe is not None:
                probe.close()
    return {
        "rates": rates,
        "cpu_us": cpu,
        "rounds": rounds,
        "seconds": seconds,
        "warmup": warmup,
        "connections": connections,
        "server": server_setup(setup),
        "wrk": wrk_version(wrk),
    }


def http_verify_after(v: str, port: int, cookies: list[str]) -> None:
    for cookie in cookies:
        got = json.loads(http_ok(port, "/peek", cookie, f"{v}/peek after load")[1])
        if any(got.get(k) != val for k, val in SEED.items()):
            raise BenchError(f"{v}: after the load a session reads back as {got!r}")


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (out.stdout + out.stderr).split("\n", 1)[0]
    return first.split(" [", 1)[0].strip() or "wrk"


# --- report ---------------------------------------------------------------------------------
def versions() -> str:
    parts = [
        f"Python {platform.python_version()} ({platform.python_implementation()}, "
        f"{platform.machine()})"
    ]
    for dist in ("starlette", "itsdangerous", "starsessions", "redis", "uvicorn", "scsession"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


def target(value: float, shown: str, limit: float, limit_shown: str) -> dict[str, Any]:
    return {"value": value, "shown": shown, "goal": f"<= {limit_shown}", "ok": value <= limit}


def floor_target(value: float, floor: float) -> dict[str, Any]:
    return {"value": value, "shown": f"{value:.2f}", "goal": f">= {floor}", "ok": value >= floor}


def ratio_target(over: float, base: float) -> dict[str, Any]:
    ratio = over / base if base > 0 else float("inf")
    return target(ratio, f"{ratio:.2f}", TARGET_RATIO, f"{TARGET_RATIO}")


def target_lines(targets: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| target | value | goal | result |", "|---|---|---|---|"]
    for name, x in targets.items():
        lines.append(f"| {name} | {x['shown']} | {x['goal']} | {'PASS' if x['ok'] else 'MISS'} |")
    return lines


def overheads(t: dict[str, dict[str, list[float]]], variants: list[str]) -> dict[str, Any]:
    """Median over rounds of the paired difference to bare, per scenario and variant."""
    return {
        s: {
            v: statistics.median([a - b for a, b in zip(t[s][v], t[s]["bare"], strict=True)])
            for v in variants
            if v != "bare"
        }
        for s in t
    }


def summarize(res: dict[str, Any], variants: list[str]) -> tuple[list[str], dict[str, Any]]:
    t, med = res["times"], statistics.median
    lines = [
        "| scenario | " + " | ".join(f"{v} µs" for v in variants) + " |",
        "|---" * (len(variants) + 1) + "|",
    ]
    for s in SCENARIOS:
        lines.append(f"| {s} | " + " | ".join(f"{med(t[s][v]):.1f}" for v in variants) + " |")
    others = [v for v in variants if v != "bare"]

    def paired(s: str, v: str) -> list[tuple[float, float]]:
        return list(zip(t[s][v], t[s]["bare"], strict=True))

    over = overheads(t, variants)
    lines += [
        "",
        "Overhead over bare (µs/request, median of paired per-round differences):",
        "",
        "| scenario | " + " | ".join(others) + " |",
        "|---" * (len(others) + 1) + "|",
    ]
    for s in SCENARIOS:
        lines.append(f"| {s} | " + " | ".join(f"{over[s][v]:+.1f}" for v in others) + " |")
    sent = " · ".join(
        f"{v} " + "/".join("y" if res["observed"][v][s] else "n" for s in SCENARIOS) for v in others
    )
    lines += ["", f"Set-Cookie sent (read/write/new/untouched): {sent}"]
    size = " · ".join(f"{v} {n}" for v, n in res["cookie_bytes"].items())
    lines.append(f"Seeded cookie, name=value bytes: {size}")
    spreads = sorted(
        ((max(x) - min(x)) / med(x), f"{v}/{s}") for s in SCENARIOS for v, x in t[s].items()
    )
    typical, (worst, cell) = spreads[len(spreads) // 2][0], spreads[-1]
    lines.append(
        f"Noise, (max-min)/median of a cell over rounds: typical {typical:.0%}, "
        f"worst {worst:.0%} ({cell})"
    )
    targets: dict[str, dict[str, Any]] = {}
    if {"starlette", "scsession-cookie"} <= set(variants):
        for s in ("read", "write"):
            name = f"{s}: scsession-cookie overhead / starlette overhead"
            targets[name] = ratio_target(over[s]["scsession-cookie"], over[s]["starlette"])
        rel = med([a / b - 1 for a, b in paired("untouched", "scsession-cookie")])
        name = "untouched: scsession-cookie vs bare"
        targets[name] = target(rel, f"{rel:+.1%}", TARGET_UNTOUCHED, f"{TARGET_UNTOUCHED:+.0%}")
    if set(REDIS_PAIR) <= set(variants):
        ss, sc = REDIS_PAIR
        by_clock = {c: overheads(x, variants) for c, x in res["times_by_clock"].items()}
        lines += [
            "",
            "Redis variants, overhead over bare (µs/request) in both clocks: CPU leaves out the "
            "time spent waiting for redis-server, wall includes it:",
            "",
            f"| scenario | {ss} CPU | {sc} CPU | ratio CPU | {ss} wall | {sc} wall | ratio wall |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in SCENARIOS:
            cells = []
            for c in ("cpu", "wall"):
                a, b = by_clock[c][s][ss], by_clock[c][s][sc]
                cells += [f"{a:+.1f}", f"{b:+.1f}", f"{b / a:.2f}" if a > 0 else "-"]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        for s in ("read", "write"):
            name = f"{s}: {sc} overhead / {ss} overhead"
            targets[name] = ratio_target(over[s][sc], over[s][ss])
    on_demand = "scsession-redis-on-demand"
    if {"scsession-redis", on_demand} <= set(variants):
        lines += [
            "",
            'scsession-redis, load="eager" (default) and load="on_demand", overhead over bare '
            "(µs/request, main clock):",
            "",
            "| scenario | eager | on_demand |",
            "|---|---|---|",
        ]
        for s in SCENARIOS:
            eager, lazy = over[s]["scsession-redis"], over[s][on_demand]
            lines.append(f"| {s} | {eager:+.1f} | {lazy:+.1f} |")
    if targets:
        lines += ["", *target_lines(targets)]
    return lines, targets


def summarize_http(res: dict[str, Any], variants: list[str]) -> tuple[list[str], dict[str, Any]]:
    rates, cpu, med = res["rates"], res["cpu_us"], statistics.median
    # The one uvicorn worker is the bottleneck, so its time per request is 1e6 / (req/s) µs;
    # its CPU time per request leaves out the time it was off the core (steadier, like the
    # in-process CPU clock, and likewise without redis-server's own time).
    per = {s: {v: [1e6 / x for x in rates[s][v]] for v in variants} for s in HTTP_SCENARIOS}
    over_wall, over_cpu = overheads(per, variants), overheads(cpu, variants)
    lines = [
        "| variant | read req/s | write req/s | read vs bare | write vs bare |",
        "|---|---|---|---|---|",
    ]
    for v in variants:
        cells = [f"{med(rates[s][v]):.0f}" for s in HTTP_SCENARIOS]
        cells += [f"{med(rates[s][v]) / med(rates[s]['bare']):.2f}" for s in HTTP_SCENARIOS]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Server time per request (µs): CPU of the uvicorn process (all threads) / requests, and "
        "the overhead over bare both in that CPU time and as 1/(req/s) - 1/(req/s of bare) "
        "(medians of paired per-round differences):",
        "",
        "| variant | read CPU | write CPU | read overhead CPU | write overhead CPU "
        "| read overhead 1/rps | write overhead 1/rps |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        cells = [f"{med(cpu[s][v]):.1f}" for s in HTTP_SCENARIOS]
        for over in (over_cpu, over_wall):
            cells += ["-" if v == "bare" else f"{over[s][v]:+.1f}" for s in HTTP_SCENARIOS]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines.append("")
    for what, data in (("req/s", rates), ("server CPU per request", cpu)):
        spreads = sorted(
            ((max(x) - min(x)) / med(x), f"{v}/{s}")
            for s in HTTP_SCENARIOS
            for v, x in data[s].items()
        )
        typical, (worst, cell) = spreads[len(spreads) // 2][0], spreads[-1]
        lines.append(
            f"Noise of {what}, (max-min)/median of a cell over rounds: typical {typical:.0%}, "
            f"worst {worst:.0%} ({cell})"
        )
    targets: dict[str, dict[str, Any]] = {}
    if "scsession-cookie" in variants:
        # The share of bare's throughput kept, per round (paired), then the median: in req/s,
        # and in server CPU time per request (bare's over the variant's).
        for s in HTTP_SCENARIOS:
            pairs = zip(rates[s]["scsession-cookie"], rates[s]["bare"], strict=True)
            name = f"HTTP {s} (req/s): scsession-cookie / bare"
            targets[name] = floor_target(med([a / b for a, b in pairs]), TARGET_HTTP_COOKIE)
            pairs = zip(cpu[s]["bare"], cpu[s]["scsession-cookie"], strict=True)
            name = f"HTTP {s} (server CPU): bare / scsession-cookie"
            targets[name] = floor_target(med([a / b for a, b in pairs]), TARGET_HTTP_COOKIE)
    if set(REDIS_PAIR) <= set(variants):
        ss, sc = REDIS_PAIR
        for basis, over in (("server CPU", over_cpu), ("1/rps", over_wall)):
            for s in HTTP_SCENARIOS:
                name = f"HTTP {s} ({basis}): {sc} overhead / {ss} overhead"
                targets[name] = ratio_target(over[s][sc], over[s][ss])
    if targets:
        lines += ["", *target_lines(targets)]
    return lines, targets


def draw_chart(
    path: Path, res: dict[str, Any], variants: list[str], http_res: dict[str, Any] | None
) -> None:
    """benches/chart.py draws the in-process overheads and, if measured, HTTP req/s vs bare."""
    spec = importlib.util.spec_from_file_location(
        "bench_chart", Path(__file__).with_name("chart.py")
    )
    assert spec is not None and spec.loader is not None
    chart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chart)
    ratio = cpu_ratio = None
    title = "Over HTTP"
    if http_res is not None:
        med, rates, cpu = statistics.median, http_res["rates"], http_res["cpu_us"]
        ratio = {s: {v: med(rates[s][v]) / med(rates[s]["bare"]) for v in rates[s]} for s in rates}
        cpu_ratio = {s: {v: med(cpu[s]["bare"]) / med(cpu[s][v]) for v in cpu[s]} for s in cpu}
        title = f"Over HTTP (uvicorn {http_res['server'].split(':')[0]}, wrk)"
    note = (
        f"{versions()}. In process: {res['clock']} time, median of paired per-round differences"
        + ("" if http_res is None else f"; HTTP: medians of {http_res['rounds']} rounds")
        + f"; {os.cpu_count()} cores. Compare ratios, not absolute times."
    )
    chart.draw(path, overheads(res["times"], variants), ratio, note, cpu_ratio, title)


def redis_version(servers: ModuleType, port: int) -> str:
    info = servers.redis_command(port, "INFO", "server")
    found = re.search(r"redis_version:(\S+)", info)
    return f"redis-server {found.group(1) if found else '?'}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="2 short rounds (smoke test), no HTTP")
    ap.add_argument("--rounds", type=int, help="rounds (default 7, --quick 2)")
    ap.add_argument("--batch-seconds", type=float, help="target batch time (default 0.2)")
    ap.add_argument(
        "--variants",
        help=f"comma-separated subset of {','.join(VARIANTS)} (bare is always included)",
    )
    ap.add_argument(
        "--http",
        action=argparse.BooleanOptionalAction,
        help="also measure req/s over HTTP with uvicorn and wrk (default: on, off with --quick)",
    )
    ap.add_argument("--http-rounds", type=int, help="HTTP rounds (default 5, --quick 1)")
    ap.add_argument("--http-seconds", type=int, help="s per HTTP cell (default 2, --quick 1)")
    ap.add_argument("--http-warmup", type=int, help="wrk warm-up per cell, s (default 1)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument(
        "--uvicorn",
        choices=sorted(SERVER_SETUPS),
        default="standard",
        help="uvicorn's HTTP parser and loop: standard = httptools + uvloop, as uvicorn[standard] "
        "(default), plain = h11 + asyncio",
    )
    ap.add_argument(
        "--allow-missing",
        action="store_true",
        help="skip variants whose library is not importable instead of failing",
    )
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--json", metavar="FILE", help="also write raw results as JSON")
    ap.add_argument(
        "--wall", action="store_true", help="time with the wall clock instead of CPU time"
    )
    ap.add_argument(
        "--chart",
        metavar="PNG",
        help=f"draw the tables as a PNG chart there (default: {CHART.relative_to(ROOT)} on a "
        "full run, none with --quick or --variants)",
    )
    ap.add_argument("--serve", metavar="VARIANT", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return serve(args.serve, args.port, args.redis_url, args.uvicorn)
    rounds = args.rounds or (2 if args.quick else 7)
    batch_s = args.batch_seconds or (0.02 if args.quick else 0.2)
    http = args.http if args.http is not None else not args.quick
    http_rounds = args.http_rounds or (1 if args.quick else 5)
    http_seconds = args.http_seconds or (1 if args.quick else 2)
    http_warmup = args.http_warmup if args.http_warmup is not None else 1

    wanted = list(VARIANTS)
    if args.variants:
        asked = {v.strip() for v in args.variants.split(",") if v.strip()} | {"bare"}
        unknown = asked - set(VARIANTS)
        if unknown:
            print(f"error: unknown variants {sorted(unknown)}", file=sys.stderr)
            return 2
        wanted = [v for v in VARIANTS if v in asked]
    variants, skipped = [], []
    for v in wanted:
        try:
            require(v)
            variants.append(v)
        except ImportError as exc:
            if not args.allow_missing:
                print(
                    f"error: variant {v} unavailable ({exc}); build/install it "
                    "(make build, make venv) or pass --allow-missing",
                    file=sys.stderr,
                )
                return 2
            skipped.append(f"SKIPPED {v}: {exc}")
    print(f"# Session middleware bench\n\n{versions()}\n")
    if skipped:
        print("\n".join(skipped) + "\n")
    output: dict[str, Any] = {"versions": versions()}
    with contextlib.ExitStack() as stack:
        redis_url, redis_port = None, 0
        if set(variants) & set(REDIS_PREFIX):
            servers = servers_module()
            try:
                redis = stack.enter_context(servers.RedisServer())
            except servers.ServerError as exc:
                print(f"BROKEN: cannot start redis-server: {exc}", file=sys.stderr)
                return 2
            redis_url, redis_port = redis.url, redis.port
            print(
                f"{redis_version(servers, redis.port)} on {redis_url} (started by the bench, "
                f"no persistence), shared by {', '.join(v for v in variants if v in REDIS_PREFIX)}."
                "\n"
            )
        what = "wall" if args.wall else "CPU"
        print(
            f"## In process\n\n{rounds} rounds x ~{batch_s:g} s batches per cell, interleaved; "
            f"median {what} time per request in µs (lower is better).\n"
        )
        try:
            res = asyncio.run(bench(variants, rounds, batch_s, args.wall, redis_url))
        except BenchError as exc:
            print(f"BROKEN: {exc}", file=sys.stderr)
            return 2
        lines, targets = summarize(res, variants)
        print("\n".join(lines), flush=True)
        output.update(res)
        if http:
            http_variants = [v for v in HTTP_VARIANTS if v in variants]
            if redis_url is not None:  # the in-process run left many records: start clean
                servers_module().redis_command(redis_port, "FLUSHDB")
            try:
                import uvicorn

                setup = server_setup(args.uvicorn)
            except ImportError as exc:
                print(
                    f"BROKEN: --http needs uvicorn and its setup ({exc}): make venv",
                    file=sys.stderr,
                )
                return 2
            print(
                f"\n## Over HTTP\n\nuvicorn {uvicorn.__version__} ({setup}), 1 worker on {HOST} "
                f"(no access log); wrk 1 thread, {args.connections} connections, "
                f"{HTTP_SESSIONS} sessions per variant sent in turn; {http_rounds} round(s) x "
                f"{http_seconds} s per cell after a {http_warmup} s warm-up, interleaved; "
                "median requests/s "
                "(higher is better).\n",
                flush=True,
            )
            try:
                hres = http_bench(
                    http_variants, redis_url, http_rounds, http_seconds, http_warmup,
                    args.connections, args.uvicorn,
                )  # fmt: skip
            except BenchError as exc:
                print(f"BROKEN: {exc}", file=sys.stderr)
                return 2
            hlines, htargets = summarize_http(hres, http_variants)
            print("\n".join(hlines))
            targets.update(htargets)
            output["http"] = hres
    chart_path = Path(args.chart) if args.chart else None
    if chart_path is None and not args.quick and not args.variants:
        chart_path = CHART
    if chart_path is not None:
        try:
            draw_chart(chart_path, res, variants, output.get("http"))
        except ImportError as exc:
            print(f"BROKEN: the chart needs matplotlib ({exc}): make venv", file=sys.stderr)
            return 2
        print(f"\nChart: {chart_path}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**output, "targets": targets}, f, indent=1)
    missed = [name for name, x in targets.items() if not x["ok"]]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
