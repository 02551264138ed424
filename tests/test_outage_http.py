"""Store outages over real HTTP: tests/outage_app.py under a uvicorn process of its own, on a real
Redis and a real PostgreSQL that the test stops and starts again.

While the store is down, ``on_store_error="fail"`` answers 503 with Retry-After to requests that
use the session and lets public pages run; ``"anonymous"`` runs every request with an empty
session that is never written, and a sign-out still deletes the cookie. Either way the uvicorn
log has one line for the outage (not one per request) and no traceback, and once the server is
back the same uvicorn process serves sessions again, without a restart.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scsession._outage import PROBE_EVERY

from .servers import HOST, free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-key-outage-000000000000000000"
#: The server fixture (tests/servers.py) of each store.
SERVERS = {"redis": "redis_server", "postgres": "postgres_server"}
OUTAGE_LINE = "is unavailable"
BACK_LINE = "answers again"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def set_cookies(self) -> list[str]:
        return self.headers.get_all("set-cookie") or []

    @property
    def session(self) -> dict[str, Any]:
        assert self.status == 200, (self.status, self.body)
        shown: dict[str, Any] = json.loads(self.body)["session"]
        return shown

    def cookie(self) -> str:
        """The `name=value` of the one Set-Cookie, as a browser would send it back."""
        (header,) = self.set_cookies
        return header.split(";", 1)[0]


class Uvicorn:
    """tests/outage_app.py served by `python -m uvicorn` (one worker, 127.0.0.1, a free port);
    its stderr, where the app's log goes, is kept in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log_path = log
        command = [sys.executable, "-m", "uvicorn", "tests.outage_app:app", "--host", HOST]
        command += ["--port", str(self.port), "--workers", "1", "--no-access-log"]
        with log.open("wb") as stderr:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"uvicorn exited:\n{self.log()}"
            with contextlib.suppress(OSError):
                if self.get("/public").status == 200:
                    return
            assert time.monotonic() < deadline, f"uvicorn not answering:\n{self.log()}"
            time.sleep(0.05)

    def get(self, path: str, cookie: str | None = None) -> Reply:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str, Any, str], Uvicorn]]:
    """`serve(kind, server, policy)`: the app on that store (a key prefix or table of its own),
    ready; every process it started is stopped when the test ends, however it ends."""
    started: list[Uvicorn] = []

    def start(kind: str, server: Any, policy: str) -> Uvicorn:
        env = {
            "OUTAGE_APP_STORE": kind,
            "OUTAGE_APP_STORE_URL": server.url,
            "OUTAGE_APP_NAMESPACE": f"outage_{policy}_{uuid.uuid4().hex[:12]}",
            "OUTAGE_APP_POLICY": policy,
            "OUTAGE_APP_SECRET": SECRET,
        }
        app = Uvicorn(env, tmp_path / f"uvicorn-{len(started)}.log")
        started.append(app)
        app.wait_ready()
        return app

    try:
        yield start
    finally:
        for app in started:
            app.close()


def signed_in(app: Uvicorn) -> str:
    """Signs in as ada (the session is saved); returns the session cookie."""
    reply = app.get("/signin?user=ada")
    assert reply.status == 200 and reply.session == {"user": "ada"}
    cookie = reply.cookie()
    assert app.get("/read", cookie).session == {"user": "ada"}
    return cookie


def assert_logged_once_without_traceback(app: Uvicorn) -> None:
    log = app.log()
    outage_lines = [line for line in log.splitlines() if OUTAGE_LINE in line]
    assert len(outage_lines) == 1, f"one line per outage, not one per request:\n{log}"
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log


def assert_back_in_the_same_process(app: Uvicorn, kind: str, cookie: str) -> None:
    """After the server started again: the next request works, served by the same uvicorn
    process; the log says the store answers again; PostgreSQL kept the signed-in session (a
    Redis without persistence lost it: a fresh, empty one)."""
    pid = app.proc.pid
    if kind == "postgres":
        # Its failures waited connect_timeout, so while it was down only one request a second
        # tried it (the others failed at once): the first try after the restart comes within
        # PROBE_EVERY.
        time.sleep(PROBE_EVERY)
    back = app.get("/read", cookie)
    assert back.status == 200, back.body
    assert back.session == ({"user": "ada"} if kind == "postgres" else {})
    assert app.proc.poll() is None and app.proc.pid == pid, "uvicorn was not restarted"
    log = app.log()
    assert BACK_LINE in log, log
    assert_logged_once_without_traceback(app)  # still one line: the outage is over
    written = app.get("/write?after=1", cookie)
    assert written.status == 200 and written.set_cookies, "writes are saved again"
    assert app.get("/read", written.cookie()).session["after"] == "1"


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_fail_answers_503_to_requests_that_use_the_session_and_serves_public_pages(
    kind: str, serve: Callable[[str, Any, str], Uvicorn], request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(SERVERS[kind])
    app = serve(kind, server, "fail")
    cookie = signed_in(app)
    server.stop()
    try:
        public = app.get("/public", cookie)
        read = app.get("/read", cookie)
        write = app.get("/write?cart=3", cookie)
        new_visitor = app.get("/write?cart=1")  # no cookie: nothing to read, the save fails
        signout = app.get("/signout", cookie)
        again = app.get("/read", cookie)
        assert_logged_once_without_traceback(app)
    finally:
        server.start()
    assert public.status == 200 and public.body == b"public page" and not public.set_cookies
    for reply in (read, write, new_visitor, signout, again):
        assert reply.status == 503, reply.body
        assert re.fullmatch(r"[1-9][0-9]*", reply.headers.get("retry-after", "")), reply.headers
        assert not reply.set_cookies
    assert_back_in_the_same_process(app, kind, cookie)


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_anonymous_runs_requests_with_an_empty_session_that_is_never_written(
    kind: str, serve: Callable[[str, Any, str], Uvicorn], request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(SERVERS[kind])
    app = serve(kind, server, "anonymous")
    cookie = signed_in(app)
    server.stop()
    try:
        public = app.get("/public", cookie)
        read = app.get("/read", cookie)
        write = app.get("/write?cart=3", cookie)
        new_visitor = app.get("/write?cart=1")
        signout = app.get("/signout", cookie)
        assert_logged_once_without_traceback(app)
    finally:
        server.start()
    assert public.status == 200 and public.body == b"public page" and not public.set_cookies
    assert read.status == 200 and read.session == {}, "an empty session, not ada's"
    assert not read.set_cookies
    # The handler ran with its change, but nothing was saved and no cookie was sent.
    for reply in (write, new_visitor):
        assert reply.status == 200 and "cart" in reply.session
        assert not reply.set_cookies
    # A sign-out is not lost with the outage: the browser is told to drop its cookie.
    assert signout.status == 200 and signout.session == {}
    (deletion,) = signout.set_cookies
    assert deletion.startswith("session=;") and "Max-Age=0" in deletion, deletion
    # Back up. The write made during the outage was not saved (PostgreSQL kept the record as it
    # was at sign-in). The store could not be told about the sign-out either: a copy of the old
    # cookie still opens the record; the browser that signed out no longer has it.
    assert_back_in_the_same_process(app, kind, cookie)
