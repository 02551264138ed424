"""`python -m scsession keygen`, and a process that used scsession exits cleanly, every time."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import textwrap

from starlette.testclient import TestClient

from .support import HTTPS, make_app


def keygen() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "scsession", "keygen"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_keygen_prints_32_random_bytes_in_base64url() -> None:
    out = keygen()
    key = out.strip()
    assert out == key + "\n"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key), key
    assert len(base64.urlsafe_b64decode(key + "=")) == 32


def test_two_keygen_runs_differ() -> None:
    assert keygen() != keygen()


def test_a_generated_key_is_a_valid_secret() -> None:
    client = TestClient(make_app(secret_key=keygen().strip()), base_url=HTTPS)
    client.post("/update", json={"a": 1})
    assert client.get("/view").json() == {"session": {"a": 1}}


ROUND_TRIP_SCRIPT = textwrap.dedent(
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from scsession import MemoryStore, SCsessionMiddleware

    async def update(request):
        request.session.update(await request.json())
        return JSONResponse(dict(request.session))

    async def view(request):
        return JSONResponse(dict(request.session))

    for store in (None, MemoryStore()):
        app = Starlette(
            routes=[Route("/update", update, methods=["POST"]), Route("/view", view)],
            middleware=[Middleware(SCsessionMiddleware, secret_key="k" * 32, store=store)],
        )
        client = TestClient(app, base_url="https://testserver")
        client.post("/update", json={"n": 1})
        assert client.get("/view").json() == {"n": 1}
    print("ok")
    """
)


def spawn_round_trip() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ROUND_TRIP_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_short_script_exits_cleanly_many_times_in_a_row() -> None:
    """Guards against aborts at interpreter exit (a known hazard of Rust extensions that run
    background threads): 20 runs, at most 4 at a time."""
    runs, parallel = 20, 4
    running = [spawn_round_trip() for _ in range(parallel)]
    started = parallel
    outcomes: list[tuple[int, str, str]] = []
    while running:
        process = running.pop(0)
        out, err = process.communicate(timeout=60)
        outcomes.append((process.returncode, out, err))
        if started < runs:
            running.append(spawn_round_trip())
            started += 1
    assert len(outcomes) == runs
    failures = [(code, err[-500:]) for code, out, err in outcomes if code != 0 or out != "ok\n"]
    assert failures == [], f"{len(failures)} of {runs} runs failed: {failures[:3]}"
