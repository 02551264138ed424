"""Writes to the same sessions from many connections at once, over HTTP: none may fail.

The load of the contention issue: uvicorn (one worker per process, 127.0.0.1), a Redis store
(a redis-server the bench starts itself, tests/servers.py), 64 seeded sessions, and wrk with 16
keep-alive connections requesting ``/write``, which increments a counter in the session, with
the 64 cookies sent in turn (bench_middleware's Lua script). Two scenarios:

    one process    one uvicorn process, wrk -t1 -c16: overlapping saves of a session within a
                   process (serialized per session id, then merged)
    two processes  two uvicorn processes on the same Redis and key prefix, one wrk -t1 -c8 on
                   each at the same time, both sending the same 64 cookies: saves of a session
                   race across processes (compare-and-swap, backoff with jitter)

Reported per scenario: requests/s (summed over the wrk runs), failed requests (wrk's "Non-2xx
or 3xx responses" plus socket errors), how often a save had to try again (compare-and-swap
attempts beyond the first, counted by redis-server), and whether every successful write was
kept. The write increments a counter named after the uvicorn process and the client's
connection (``counter-PID-PORT``): one connection's requests follow each other, so no two
requests ever increment the same counter at once, while the session they share is written from
up to 16 connections and two processes at a time. Changes to different keys of a session merge,
so every increment must survive: after the load the 64 sessions are read back and the sum of
their counters must equal the count of 2xx answers the servers sent to /write, exactly. (wrk
counts only the responses it read before its time was up: the servers' count may exceed wrk's
by at most the connections, the requests still in flight when wrk stopped.) ``overlapped``
counts requests that arrived while another request of the same session was running in the same
process.

The code under test runs in the uvicorn processes, started with ``--python`` (default: this
interpreter), so the same bench measures another checkout, e.g. the code before a fix:

    git worktree add /work/wt-before d6bf41b
    (cd /work/wt-before && CARGO_TARGET_DIR=$PWD/../main/target make build)
    python benches/bench_contention.py --python before=/work/wt-before/.venv/bin/python \\
        --python after=.venv/bin/python

Each ``--python [LABEL=]PATH`` gets its rows in the table; their runs are interleaved round by
round, so the machine's noise hits them alike. ``--connections N`` (default 16) is the total,
split between the two processes in the second scenario. ``--pythonpath DIR`` puts DIR first on the
servers' PYTHONPATH. Exit status: 0 when no request failed and no write was lost (or with
``--allow-failures``, which only reports), 1 otherwise, 2 when the bench itself broke. ``--quick``
(one round of 1 s, no warm-up) is the smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_middleware as bm  # beside this file

SECRET = bm.SECRET
SESSIONS = 64
SCENARIOS = ("one process", "two processes")
_FAILED_SAVE = re.compile(r"changed by \d+ other requests")


# --- the served app (runs under the --python being measured) -------------------------------
def build_app(redis_url: str, prefix: str) -> Any:
    """/seed, /write (a counter += 1), /peek, /untouched and /stats (what this process saw).

    An outer ASGI wrapper counts the answers to /write by status class, and the requests that
    arrived while another request of the same session was running in this process.
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from scsession import RedisStore, SCsessionMiddleware

    stats = {"2xx": 0, "other": 0, "overlapped": 0}
    in_flight: dict[str, int] = {}

    pid = os.getpid()

    async def seed(request: Request) -> PlainTextResponse:
        request.session["name"] = "Ada Lovelace"
        return PlainTextResponse("ok")

    async def write(request: Request) -> PlainTextResponse:
        # A counter per process and connection: no two requests increment one at once (a
        # connection's requests follow each other), so merging must keep every increment.
        assert request.client is not None
        key = f"counter-{pid}-{request.client.port}"
        counter = request.session.get(key, 0) + 1
        request.session[key] = counter
        return PlainTextResponse(str(counter))

    async def peek(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.session))

    async def untouched(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def stats_route(request: Request) -> JSONResponse:
        return JSONResponse({**stats, "pid": os.getpid(), "scsession": scsession_origin()})

    routes = [
        Route("/seed", seed),
        Route("/write", write),
        Route("/peek", peek),
        Route("/untouched", untouched),
        Route("/stats", stats_route),
    ]
    store = RedisStore(redis_url, prefix=prefix)
    middleware = [
        Middleware(SCsessionMiddleware, secret_key=SECRET, store=store, cookie_https_only=False)
    ]
    app = Starlette(routes=routes, middleware=middleware)

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/write":
            await app(scope, receive, send)
            return
        cookie = next((v for k, v in scope["headers"] if k == b"cookie"), b"").decode()
        if in_flight.get(cookie, 0):
            stats["overlapped"] += 1
        in_flight[cookie] = in_flight.get(cookie, 0) + 1

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                stats["2xx" if 200 <= message["status"] < 300 else "other"] += 1
            await send(message)

        try:
            await app(scope, receive, counting_send)
        finally:
            in_flight[cookie] -= 1
            if not in_flight[cookie]:
                del in_flight[cookie]

    return counted


def scsession_origin() -> str:
    import scsession

    return str(Path(scsession.__file__).resolve().parent)


def serve(port: int, redis_url: str, prefix: str) -> int:
    """The child process: the app under uvicorn until SIGTERM (errors logged to stderr)."""
    import uvicorn

    app = build_app(redis_url, prefix)
    uvicorn.run(app, host=bm.HOST, port=port, workers=1, access_log=False, log_level="warning")
    return 0


# --- the bench (runs under this interpreter) -------------------------------------------------
class Code:
    """A version of the code under test: the interpreter that runs it, and its servers."""

    def __init__(self, label: str, python: str, pythonpath: str | None) -> None:
        self.label, self.python, self.pythonpath = label, python, pythonpath
        self.origin = ""  # where its scsession package is, as its servers report it
        self.servers: list[Server] = []


class Server(bm.Served):
    """The app under `code`'s interpreter, in a uvicorn process of its own."""

    def __init__(self, code: Code, port: int, redis_url: str, prefix: str, log: Path) -> None:
        self.variant, self.port, self.log = code.label, port, log
        command = [code.python, str(Path(__file__).resolve()), "--serve", "--port", str(port)]
        command += ["--redis-url", redis_url, "--prefix", prefix]
        env = dict(os.environ)
        if code.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (code.pythonpath, env.get("PYTHONPATH")) if p
            )
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
            )

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads(bm.http_ok(self.port, "/stats", None, self.variant)[1])
        return stats

    def failed_saves(self) -> int:
        """Lines in the server's log that report a save given up under contention."""
        return len(_FAILED_SAVE.findall(self.log.read_text(errors="replace")))


class WrkRun(NamedTuple):
    requests: int
    rate: float
    non_2xx: int
    socket_errors: int


def run_wrk(wrk: str, port: int, script: Path, seconds: float, connections: int) -> WrkRun:
    """One wrk run on /write; failed requests are counted, not raised (bench_middleware's
    run_wrk refuses them)."""
    out, rate, count = bm.wrk_run(wrk, port, "/write", script, seconds, connections, "wrk")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return WrkRun(
        requests=count,
        rate=rate,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, sockets.groups())) if sockets else 0,
    )


def seed(server: Server, tmp: Path, name: str) -> tuple[list[str], Path]:
    """64 new sessions (counter 0) and a wrk script sending their cookies in turn."""
    cookies = [
        bm.http_cookie(bm.http_ok(server.port, "/seed", None, "seed")[0], "seed")
        for _ in range(SESSIONS)
    ]
    script = tmp / f"{name}.lua"
    script.write_text(bm.WRK_SCRIPT % ", ".join(f'"{c}"' for c in cookies))
    return cookies, script


def counters(server: Server, cookies: list[str]) -> int:
    total = 0
    for cookie in cookies:
        got = json.loads(bm.http_ok(server.port, "/peek", cookie, "peek")[1])
        if got.get("name") != "Ada Lovelace":
            raise bm.BenchError(f"{server.variant}: a session reads back as {got!r}")
        total += sum(int(n) for k, n in got.items() if k.startswith("counter-"))
    return total


def script_calls(redis_port: int) -> int:
    """Lua scripts redis-server has run so far: each compare-and-swap attempt is one (a call
    that failed, as the first EVALSHA of a process does before the script is loaded, is not)."""
    info = bm.servers_module().redis_command(redis_port, "INFO", "commandstats")
    found = re.findall(r"cmdstat_(?:eval|evalsha):calls=(\d+),.*failed_calls=(\d+)", info)
    return sum(int(calls) - int(failed) for calls, failed in found)


def measure(
    code: Code,
    scenario: str,
    wrk: str,
    tmp: Path,
    seconds: float,
    connections: int,
    redis_port: int,
) -> dict[str, Any]:
    """One cell: fresh sessions, the load, then the counters against the counts."""
    servers = code.servers[: 1 if scenario == "one process" else 2]
    cookies, script = seed(servers[0], tmp, f"{code.label}-{uuid.uuid4().hex[:8]}")
    before = [s.stats() for s in servers]
    failed_before = sum(s.failed_saves() for s in servers)
    scripts_before = script_calls(redis_port)
    share = [connections // len(servers)] * len(servers)
    share[0] += connections - sum(share)
    runs: list[WrkRun | BaseException] = [ValueError("not run")] * len(servers)

    def load(i: int) -> None:
        try:
            runs[i] = run_wrk(wrk, servers[i].port, script, seconds, share[i])
        except BaseException as exc:
            runs[i] = exc

    threads = [threading.Thread(target=load, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done: list[WrkRun] = []
    for run in runs:
        if isinstance(run, BaseException):
            raise bm.BenchError(f"{code.label}/{scenario}: {run}") from run
        done.append(run)
    time.sleep(0.2)  # let requests wrk left in flight finish on the servers
    after = [s.stats() for s in servers]
    scripts = script_calls(redis_port) - scripts_before
    served = {
        k: sum(a[k] - b[k] for a, b in zip(after, before, strict=True))
        for k in ("2xx", "other", "overlapped")
    }
    total = counters(servers[0], cookies)
    wrk_requests = sum(r.requests for r in done)
    wrk_ok = wrk_requests - sum(r.non_2xx for r in done)
    return {
        "rate": sum(r.rate for r in done),
        "requests": wrk_requests,
        "non_2xx": sum(r.non_2xx for r in done),
        "socket_errors": sum(r.socket_errors for r in done),
        "wrk_2xx": wrk_ok,
        "served_2xx": served["2xx"],
        "served_other": served["other"],
        "overlapped": served["overlapped"],
        "counters": total,
        # Attempts beyond the first of each save (the seed's saves are new: no script).
        "cas_retries": scripts - served["2xx"] - served["other"],
        "failed_saves_logged": sum(s.failed_saves() for s in servers) - failed_before,
    }


def lost(cell: dict[str, Any]) -> int:
    """Successful writes whose increment is not in the stored counters."""
    missing: int = cell["served_2xx"] - cell["counters"]
    return missing


def checks(cell: dict[str, Any], connections: int) -> list[str]:
    """What is wrong with a cell: failed requests, lost writes, counts that do not add up."""
    problems = []
    if cell["non_2xx"] or cell["socket_errors"] or cell["served_other"]:
        problems.append(
            f"{cell['non_2xx']} non-2xx, {cell['socket_errors']} socket errors "
            f"({cell['served_other']} non-2xx sent by the servers)"
        )
    if lost(cell) > 0:
        problems.append(f"{lost(cell)} successful writes lost")
    elif lost(cell) < 0:
        problems.append(f"counters sum {cell['counters']} > {cell['served_2xx']} writes served")
    if not 0 <= cell["served_2xx"] - cell["wrk_2xx"] <= connections:
        problems.append(
            f"the servers sent {cell['served_2xx']} 2xx to /write, wrk read {cell['wrk_2xx']}"
        )
    return problems


def parse_python(value: str, default_label: str) -> tuple[str, str]:
    label, sep, path = value.partition("=")
    return (label, path) if sep and label and "/" not in label else (default_label, value)


COLUMNS = (
    "scenario", "code", "req/s", "requests", "non-2xx", "socket errors", "overlapped",
    "counters sum", "2xx writes (served / wrk)", "lost", "CAS retries", "gave up (log)",
)  # fmt: skip


def report(
    results: dict[str, dict[str, list[dict[str, Any]]]], codes: list[Code], connections: int
) -> tuple[list[str], bool]:
    """The table (req/s: median over rounds; other columns: totals), then any problem."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---" * len(COLUMNS) + "|"]
    problems: list[str] = []
    for scenario in SCENARIOS:
        for code in codes:
            cells = results[scenario][code.label]
            for i, cell in enumerate(cells):
                problems += [
                    f"{scenario}, {code.label}, round {i + 1}: {p}"
                    for p in checks(cell, connections)
                ]
            total = {key: sum(c[key] for c in cells) for key in cells[0]}
            row = [
                scenario,
                code.label,
                f"{statistics.median(c['rate'] for c in cells):.0f}",
                *(str(total[k]) for k in ("requests", "non_2xx", "socket_errors", "overlapped")),
                str(total["counters"]),
                f"{total['served_2xx']} / {total['wrk_2xx']}",
                str(sum(lost(c) for c in cells)),
                str(total["cas_retries"]),
                str(total["failed_saves_logged"]),
            ]
            lines.append("| " + " | ".join(row) + " |")
    if problems:
        return [*lines, "", "Problems:", *(f"- {p}" for p in problems)], False
    return [*lines, "", "No failed request, no lost write."], True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument(
        "--python",
        action="append",
        metavar="[LABEL=]PATH",
        help="interpreter of the code under test (repeat to compare; default: this one)",
    )
    ap.add_argument("--pythonpath", help="prepended to the servers' PYTHONPATH")
    ap.add_argument("--quick", action="store_true", help="one round of 1 s, no warm-up")
    ap.add_argument("--rounds", type=int, help="rounds per cell (default 3, --quick 1)")
    ap.add_argument("--seconds", type=float, help="s of wrk per cell (default 5, --quick 1)")
    ap.add_argument("--warmup", type=float, help="s of wrk before timing (default 1, --quick 0)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections in all")
    ap.add_argument("--allow-failures", action="store_true", help="exit 0 even with failures")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--redis-url", help=argparse.SUPPRESS)
    ap.add_argument("--prefix", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return serve(args.port, args.redis_url, args.prefix)
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (1.0 if args.quick else 5.0)
    warmup = args.warmup if args.warmup is not None else (0.0 if args.quick else 1.0)
    codes = []
    for i, value in enumerate(args.python or [sys.executable]):
        label, path = parse_python(value, "this" if not args.python else f"code {i + 1}")
        codes.append(Code(label, path, args.pythonpath))
    if len({c.label for c in codes}) != len(codes):
        print("error: two --python share a label", file=sys.stderr)
        return 2
    try:
        wrk = bm.wrk_binary()
        results = run(codes, wrk, rounds, seconds, warmup, args.connections)
    except bm.BenchError as exc:
        print(f"BROKEN: {exc}", file=sys.stderr)
        return 2
    lines, ok = report(results, codes, args.connections)
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            origins = {c.label: c.origin for c in codes}
            json.dump({"codes": origins, "results": results}, f, indent=1)
    return 0 if ok or args.allow_failures else 1


def run(
    codes: list[Code], wrk: str, rounds: int, seconds: float, warmup: float, connections: int
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    servers_mod = bm.servers_module()
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        s: {c.label: [] for c in codes} for s in SCENARIOS
    }
    with (
        servers_mod.RedisServer() as redis,
        tempfile.TemporaryDirectory(prefix="scsession-bench-") as tmp_name,
    ):
        tmp = Path(tmp_name)
        try:
            for code in codes:  # two processes per code, each code under a prefix of its own
                prefix = f"bench-contention-{code.label}:"
                for n in range(2):
                    log = tmp / f"{code.label}-{n}.log"
                    code.servers.append(
                        Server(code, servers_mod.free_port(), redis.url, prefix, log)
                    )
            for code in codes:
                for server in code.servers:
                    server.wait_ready()
                code.origin = code.servers[0].stats()["scsession"]
            print(
                f"# Contention: concurrent writes to {SESSIONS} sessions over HTTP\n\n"
                f"{bm.redis_version(servers_mod, redis.port)} on {redis.url} (started by the "
                f"bench); uvicorn, 1 worker per process on {bm.HOST}; {bm.wrk_version(wrk)} "
                f"with {connections} connections in all, /write (counter += 1) with the "
                f"{SESSIONS} cookies in turn; {rounds} round(s) x {seconds:g} s per cell"
                f"{f' after a {warmup:g} s warm-up' if warmup else ''}, interleaved; req/s is "
                "the median over rounds, the other columns are totals.\n",
                flush=True,
            )
            for code in codes:
                print(f"- {code.label}: {code.python} (scsession from {code.origin})")
            print(flush=True)
            if warmup > 0:
                for code in codes:
                    for scenario in SCENARIOS:
                        measure(code, scenario, wrk, tmp, warmup, connections, redis.port)
            for r in range(rounds):
                order = codes[r % len(codes) :] + codes[: r % len(codes)]
                for scenario in SCENARIOS:
                    for code in order:
                        cell = measure(code, scenario, wrk, tmp, seconds, connections, redis.port)
                        results[scenario][code.label].append(cell)
        finally:
            for code in codes:
                for server in code.servers:
                    server.close()
                code.servers.clear()
    return results


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
