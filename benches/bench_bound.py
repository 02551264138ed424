"""What `Session.bind_user` costs a write: plain and bound sessions, side by side, per store.

A bound session's save also writes its entry in the user's index. Built-in stores send both
writes together (`users::commit_bound`), so a bound write should cost about what a plain one
does. Each round writes both sessions in turn (interleaved, so the machine's noise hits both),
in process through `scsession.testing.Browser`: the middleware, the store load before the
handler, and the save. Redis runs on a redis-server of its own (tests/servers.py).

    python benches/bench_bound.py [--rounds N] [--writes N]

Exit status 0 whatever the figures (targets are reported, not enforced), 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import RedisServer

from scsession import MemoryStore, RedisStore
from scsession.testing import Browser

#: Goal: a bound write costs at most this much more than a plain one (wall clock, medians).
TARGET = 1.15


async def per_write(browser: Browser, writes: int, start: int) -> float:
    """Microseconds per request that changes the session (load, handler, save)."""
    began = time.perf_counter()
    for i in range(start, start + writes):
        await browser.get(f"/set?n={i}")
    return (time.perf_counter() - began) / writes * 1e6


async def measure(store: Any, rounds: int, writes: int) -> tuple[float, float]:
    plain, bound = Browser(store), Browser(store)
    await plain.get("/set?n=0")
    await bound.get("/bind?user=ada&agent=bench&n=0")
    (entry,) = await store.sessions_for_user("ada")  # the check: it really is bound
    assert entry.is_session(bound.session_id()) and entry.user_agent == "bench"
    times: dict[str, list[float]] = {"plain": [], "bound": []}
    await per_write(plain, writes, 0)  # warm-up
    await per_write(bound, writes, 0)
    for r in range(rounds):
        times["plain"].append(await per_write(plain, writes, (r + 1) * writes))
        times["bound"].append(await per_write(bound, writes, (r + 1) * writes))
    (after,) = await store.sessions_for_user("ada")
    assert after.is_session(bound.session_id()), "still bound after all those writes"
    return statistics.median(times["plain"]), statistics.median(times["bound"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--writes", type=int, default=400, help="writes per session per round")
    args = parser.parse_args(argv)
    rows = []
    with RedisServer() as redis:
        for name, store in (
            ("memory", MemoryStore()),
            ("redis", RedisStore(redis.url, prefix="bench-bound:")),
        ):
            plain, bound = asyncio.run(measure(store, args.rounds, args.writes))
            rows.append((name, plain, bound))
    print("\n## Bound sessions (Session.bind_user): µs per write, wall clock, in process\n")
    print("| store | plain | bound | bound / plain | goal | result |")
    print("|---|---|---|---|---|---|")
    for name, plain, bound in rows:
        ratio = bound / plain
        result = "PASS" if ratio <= TARGET else "MISS"
        print(f"| {name} | {plain:.1f} | {bound:.1f} | {ratio:.2f} | <= {TARGET} | {result} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
