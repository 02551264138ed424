"""One session, two languages: the FastAPI app (tests/axum_interop_app.py, on uvicorn) and the
axum example (examples/axum, built here with cargo) serve the same routes with one secret, and a
browser moves between them. Each test runs with sessions in the cookie, in Redis and in
PostgreSQL (real servers on loopback, from tests/servers.py).

The Rust binary is built by `cargo build` (incremental, in $CARGO_TARGET_DIR or ./target, the
target directory `make test` uses), so a fresh checkout needs no step before pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import pytest

from .servers import HOST, free_port, port_is_open

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-key-interop-0000000000000000"
START_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def axum_example() -> Path:
    """The example's binary, built (or found up to date) by cargo."""
    done = subprocess.run(
        ["cargo", "build", "-p", "scsession-axum-example", "--message-format=json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cargo build of examples/axum failed:\n{done.stderr[-4000:]}", pytrace=False)
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message.get("executable") and message["target"]["name"] == "scsession-axum-example":
            return Path(message["executable"])
    pytest.fail("cargo build did not name the example's executable", pytrace=False)


class Server:
    """A child process serving HTTP on a free loopback port, stopped by close()."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int) -> None:
        self.name, self.port = name, port
        self.url = f"http://{HOST}:{port}"
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not port_is_open(port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                output = self.proc.stdout.read() if self.proc.stdout else b""
                text = output.decode(errors="replace")[-4000:]
                pytest.fail(f"{name} did not start:\n{text}", pytrace=False)
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture(params=["cookie", "redis", "postgres"])
def store(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Where both apps keep sessions: (kind, url). Store servers start, never skip."""
    kind = str(request.param)
    if kind == "redis":
        return kind, request.getfixturevalue("redis_server").url
    if kind == "postgres":
        return kind, request.getfixturevalue("postgres_server").url
    return kind, ""


@pytest.fixture
def apps(store: tuple[str, str], axum_example: Path) -> Iterator[dict[str, Server]]:
    """Both apps, sharing the secret and the store: {"python": ..., "rust": ...}."""
    kind, url = store
    env = {"SESSION_SECRET": SECRET, "SCSESSION_STORE": kind, "SCSESSION_STORE_URL": url}
    py_port, rs_port = free_port(), free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "tests.axum_interop_app:app", "--host", HOST]
    uvicorn += ["--port", str(py_port), "--no-access-log", "--log-level", "warning"]
    servers: dict[str, Server] = {}
    try:
        servers["python"] = Server("uvicorn", uvicorn, env, py_port)
        servers["rust"] = Server(
            "axum example", [str(axum_example)], {**env, "ADDR": f"{HOST}:{rs_port}"}, rs_port
        )
        yield servers
    finally:
        for server in servers.values():
            server.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """An HTTP client that keeps no cookies (each Browser keeps its own), shared by threads."""
    no_cookies = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
    with httpx.Client(timeout=30, cookies=no_cookies) as client:
        yield client


class Browser:
    """Keeps the `session` cookie the way a browser does, whichever app set it."""

    def __init__(self, http: httpx.Client, cookie: str | None = None) -> None:
        self.cookie = cookie
        self.http = http

    def send(self, server: Server, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"cookie": f"session={self.cookie}"} if self.cookie else {}
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        response = self.http.request(method, server.url + path, headers=headers, **kwargs)
        assert response.status_code == 200, (server.name, path, response.text)
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            assert name == "session", header
            value = rest.split(";", 1)[0]
            self.cookie = None if "Max-Age=0" in header else value
        return response

    def session(self, server: Server) -> dict[str, Any]:
        data: dict[str, Any] = self.send(server, "GET", "/session").json()
        return data


def test_a_change_made_in_either_app_is_seen_by_the_other(
    apps: dict[str, Server], http: httpx.Client
) -> None:
    py, rs = apps["python"], apps["rust"]
    browser = Browser(http)
    browser.send(py, "POST", "/session/from_python", {"n": 1, "items": [1, "two", None]})
    assert browser.cookie is not None
    assert browser.session(rs) == {"from_python": {"n": 1, "items": [1, "two", None]}}

    browser.send(rs, "POST", "/session/from_rust", [True, 2.5, "drei", {"k": [None]}])
    browser.send(rs, "POST", "/session/big", 2**63)  # beyond i64: Python's int, both ways
    expected = {
        "from_python": {"n": 1, "items": [1, "two", None]},
        "from_rust": [True, 2.5, "drei", {"k": [None]}],
        "big": 2**63,
    }
    assert browser.session(py) == expected
    assert browser.session(rs) == expected

    # Flashes and sign-in (a new id, the user bound in store mode) cross over too.
    browser.send(rs, "POST", "/flash?category=info&message=from+rust")
    browser.send(py, "POST", "/flash?category=error&message=from+python")
    assert browser.send(py, "GET", "/flashes").json() == [
        ["info", "from rust"],
        ["error", "from python"],
    ]
    assert browser.send(rs, "GET", "/flashes").json() == []
    before = browser.cookie
    browser.send(py, "POST", "/login/alice")
    assert browser.cookie != before
    assert browser.session(rs)["user"] == "alice"
    browser.send(rs, "POST", "/login/bob")
    assert browser.session(py)["user"] == "bob"


@pytest.mark.parametrize("ends, other", [("python", "rust"), ("rust", "python")])
def test_a_sign_out_in_one_app_ends_the_session_in_the_other(
    apps: dict[str, Server], http: httpx.Client, store: tuple[str, str], ends: str, other: str
) -> None:
    browser = Browser(http)
    browser.send(apps[other], "POST", "/login/carol")
    browser.send(apps[ends], "POST", "/session/cart", ["tea"])
    old_cookie = browser.cookie
    expected: dict[str, Any] = {"user": "carol", "cart": ["tea"]}
    if store[0] != "cookie":  # bound at sign-in, by the app that signed in
        agent = "axum-interop-app" if other == "python" else "scsession-axum-example"
        expected["_bound_user"] = {"id": "carol", "user_agent": agent}
    assert browser.session(apps[other]) == expected

    browser.send(apps[ends], "POST", "/logout")
    assert browser.cookie is None  # the cookie was deleted
    assert browser.session(apps[other]) == {}
    if store[0] != "cookie":
        # A copy of the old cookie (a slow request, a stolen cookie) opens nothing anywhere:
        # the record is gone from the store.
        thief = Browser(http, old_cookie)
        assert thief.session(apps[other]) == {}
        assert thief.session(apps[ends]) == {}
        thief.send(apps[other], "POST", "/session/cart", ["coffee"])
        assert thief.cookie != old_cookie  # a new session, not the old one brought back


@pytest.mark.parametrize("store", ["redis", "postgres"], indirect=True)
def test_concurrent_writes_from_both_apps_keep_every_change(
    apps: dict[str, Server], http: httpx.Client
) -> None:
    py, rs = apps["python"], apps["rust"]
    browser = Browser(http)
    browser.send(py, "POST", "/session/seed", 0)
    cookie = browser.cookie

    def write(i: int) -> None:
        server = py if i % 2 else rs
        Browser(http, cookie).send(server, "POST", f"/session/{server.name.split()[0]}_{i}", i)

    writes = 40
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(write, range(writes)))
    data = browser.session(rs)
    expected = {f"{(py if i % 2 else rs).name.split()[0]}_{i}": i for i in range(writes)}
    assert {k: v for k, v in data.items() if k != "seed"} == expected
    assert browser.session(py) == data
