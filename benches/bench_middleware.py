"""Per-request cost of session middlewares, measured in process.

Each variant is the same Starlette app (Route endpoints) with a different session middleware:

    bare               no session middleware (the baseline)
    starlette          starlette.middleware.sessions.SessionMiddleware (itsdangerous + JSON)
    starsessions       starsessions SessionMiddleware + SessionAutoloadMiddleware, CookieStore
    scsession-cookie   SCsessionMiddleware, whole session sealed into the cookie
    scsession-memory   SCsessionMiddleware with MemoryStore (cookie holds id + MAC)

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
rotates per round). A batch is timed in CPU time of this process (``time.process_time``; the
bench is single-threaded and does no I/O, so on an idle machine it equals wall time), which leaves
out the time other processes hold the core; ``--wall`` times with ``perf_counter`` instead.
A cell's figure is the median over rounds of the per-request time; overhead over bare and the
untouched ratio are medians of per-round paired differences/ratios, which cancels slow drift.

Usage: ``python benches/bench_middleware.py [--quick] [--allow-missing] [--strict] [--wall]
[--json FILE]``.
``--quick`` (2 short rounds, ~3 s) is for smoke tests: run it as a subprocess, or load this file
with ``importlib.util.spec_from_file_location`` and call ``main(["--quick"])``, which returns the
exit code (0 ok, 1 a target missed under ``--strict``, 2 a broken variant or missing library).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Scope

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
VARIANTS = ("bare", "starlette", "starsessions", "scsession-cookie", "scsession-memory")
SC_VARIANTS = ("scsession-cookie", "scsession-memory")
TARGET_RATIO, TARGET_UNTOUCHED = 0.5, 0.05
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


def build_app(variant: str) -> Starlette:
    """The app for one variant; ImportError if its library is missing."""
    if variant == "bare":
        return Starlette(routes=BARE_ROUTES)
    if variant == "starlette":
        from starlette.middleware.sessions import SessionMiddleware

        mw = [Middleware(SessionMiddleware, secret_key=SECRET)]
    elif variant == "starsessions":
        import starsessions as ss

        mw = [
            Middleware(
                ss.SessionMiddleware,
                store=ss.CookieStore(secret_key=SECRET),
                lifetime=14 * 24 * 3600,
                cookie_https_only=False,
            ),
            Middleware(ss.SessionAutoloadMiddleware),
        ]
    else:
        from scsession import MemoryStore, SCsessionMiddleware

        store = MemoryStore() if variant == "scsession-memory" else None
        mw = [
            Middleware(SCsessionMiddleware, secret_key=SECRET, store=store, cookie_https_only=False)
        ]
    return Starlette(routes=SESSION_ROUTES, middleware=mw)


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


async def verify(variant: str, app: Starlette) -> tuple[bytes, dict[str, bool]]:
    """Check the variant's behaviour; return its replay cookie and Set-Cookie per scenario."""
    sent: dict[str, bool] = {}
    if variant == "bare":  # a cookie of realistic size that nothing parses
        cookie = b"session=" + b"x" * 300
        for s in SCENARIOS:
            sent[s] = bool((await call(app, f"/{s}", cookie, "bare")).set_cookies())
        return cookie, sent
    w = variant
    cookie = cookie_of(await call(app, "/seed", None, f"{w}/seed"), f"{w}/seed")
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
    sent["write"] = True
    cap = await call(app, "/new", None, f"{w}/new")
    got = json.loads((await call(app, "/peek", cookie_of(cap, f"{w}/new"), f"{w}/peek")).body)
    if got != {"user_id": SEED["user_id"]}:
        raise BenchError(f"{w}/new: new session reads back as {got!r}")
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
async def batch(
    app: Starlette, template: Scope, n: int, cap: Capture, clock: Callable[[], float]
) -> float:
    """Seconds per request over n requests."""
    send = cap.send
    gc.collect()
    t0 = clock()
    for _ in range(n):
        await app(dict(template), receive, send)
    return (clock() - t0) / n


async def bench(
    variants: list[str], rounds: int, batch_s: float, clock: Callable[[], float]
) -> dict[str, Any]:
    apps = {v: build_app(v) for v in variants}
    cells: dict[tuple[str, str], tuple[Scope, int, bool]] = {}
    observed: dict[str, dict[str, bool]] = {}
    cookie_bytes: dict[str, int] = {}
    for v in variants:
        cookie, sent = await verify(v, apps[v])
        observed[v] = sent
        if v != "bare":
            cookie_bytes[v] = len(cookie)
        for s in SCENARIOS:
            tpl = scope_for(f"/{s}", None if s == "new" else cookie)
            per = await batch(apps[v], tpl, 200, Capture(), clock)  # warm-up + calibration
            cells[v, s] = (tpl, max(50, round(batch_s / per)), sent[s])
    times: dict[str, dict[str, list[float]]] = {s: {v: [] for v in variants} for s in SCENARIOS}
    for r in range(rounds):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for s in SCENARIOS:
            for v in order:
                tpl, n, expect_cookie = cells[v, s]
                cap = Capture()
                times[s][v].append(await batch(apps[v], tpl, n, cap, clock) * 1e6)
                if cap.start.get("status") != 200 or bool(cap.set_cookies()) != expect_cookie:
                    raise BenchError(
                        f"{v}/{s}: a timed response differs from the verified one: {cap.start!r}"
                    )
    sizes = {f"{v}/{s}": c[1] for (v, s), c in cells.items()}
    return {"times": times, "observed": observed, "cookie_bytes": cookie_bytes, "n": sizes}


# --- report ---------------------------------------------------------------------------------
def versions() -> str:
    parts = [
        f"Python {platform.python_version()} ({platform.python_implementation()}, "
        f"{platform.machine()})"
    ]
    for dist in ("starlette", "itsdangerous", "starsessions", "scsession"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


def target(value: float, shown: str, limit: float, limit_shown: str) -> dict[str, Any]:
    return {"value": value, "shown": shown, "goal": f"<= {limit_shown}", "ok": value <= limit}


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

    over = {s: {v: med([a - b for a, b in paired(s, v)]) for v in others} for s in SCENARIOS}
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
            base = over[s]["starlette"]
            ratio = over[s]["scsession-cookie"] / base if base > 0 else float("inf")
            name = f"{s}: scsession-cookie overhead / starlette overhead"
            targets[name] = target(ratio, f"{ratio:.2f}", TARGET_RATIO, f"{TARGET_RATIO}")
        rel = med([a / b - 1 for a, b in paired("untouched", "scsession-cookie")])
        name = "untouched: scsession-cookie vs bare"
        targets[name] = target(rel, f"{rel:+.1%}", TARGET_UNTOUCHED, f"{TARGET_UNTOUCHED:+.0%}")
        lines += ["", "| target | value | goal | result |", "|---|---|---|---|"]
        for name, x in targets.items():
            result = "PASS" if x["ok"] else "MISS"
            lines.append(f"| {name} | {x['shown']} | {x['goal']} | {result} |")
    return lines, targets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="2 short rounds (smoke test)")
    ap.add_argument("--rounds", type=int, help="rounds (default 7, --quick 2)")
    ap.add_argument("--batch-seconds", type=float, help="target batch time (default 0.2)")
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
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 7)
    batch_s = args.batch_seconds or (0.02 if args.quick else 0.2)

    variants, skipped = [], []
    for v in VARIANTS:
        try:
            build_app(v)
            variants.append(v)
        except ImportError as exc:
            if not args.allow_missing:
                print(
                    f"error: variant {v} unavailable ({exc}); build/install it "
                    "(make build) or pass --allow-missing",
                    file=sys.stderr,
                )
                return 2
            skipped.append(f"SKIPPED {v}: {exc}")
    print(f"# Session middleware bench\n\n{versions()}\n")
    if skipped:
        print("\n".join(skipped) + "\n")
    clock, what = (time.perf_counter, "wall") if args.wall else (time.process_time, "CPU")
    print(
        f"{rounds} rounds x ~{batch_s:g} s batches per cell, interleaved; "
        f"median {what} time per request in µs (lower is better).\n"
    )
    try:
        res = asyncio.run(bench(variants, rounds, batch_s, clock))
    except BenchError as exc:
        print(f"BROKEN: {exc}", file=sys.stderr)
        return 2
    lines, targets = summarize(res, variants)
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"versions": versions(), "targets": targets, **res}, f, indent=1)
    missed = [name for name, x in targets.items() if not x["ok"]]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
