"""`make demo STORE=redis|postgres` stops the store server it started, and only that one.

Each test runs the real `make demo` on free ports (never the default 6379 / 5432, where a
server of someone else's may listen), waits until the shop answers, ends make the way a person
does (Ctrl-C: SIGINT to its process group; `kill`: SIGTERM to make alone) and looks at the
store's port. `-o build` keeps make from rebuilding: the extension this test run imports is
the one the demo serves (`VENV_PY` is this interpreter).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import RedisServer, free_port, port_is_open, redis_command

ROOT = Path(__file__).resolve().parent.parent
SECRET = "demo-test-secret-0123456789abcdef0123"


class Demo:
    """`make demo` running in a process group of its own."""

    def __init__(self, store: str, store_port: int) -> None:
        self.port = free_port()
        port_variable = {"redis": "DEMO_REDIS_PORT", "postgres": "DEMO_POSTGRES_PORT"}[store]
        command = ["make", "--no-print-directory", "-o", "build", "demo", f"STORE={store}"]
        command += [f"DEMO_PORT={self.port}", f"{port_variable}={store_port}"]
        command += [f"VENV_PY={sys.executable}"]
        env = {**os.environ, "SESSION_SECRET": SECRET}
        env.pop("SCSESSION_STORE_URL", None)
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        """Everything make printed (once it has ended)."""
        out, _ = self.proc.communicate()
        return (out or b"").decode(errors="replace")

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"make demo exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2) as page:
                    if page.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.kill()
        pytest.fail(f"the shop did not answer on port {self.port}:\n{self.output()}")

    def end(self, how: str) -> str:
        """Ctrl-C (SIGINT to the group) or `kill` (SIGTERM to make); returns make's output."""
        if how == "ctrl-c":
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"make demo did not end after {how}:\n{self.output()}")
        return self.output()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def wait_closed(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not port_is_open(port):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def redis_port() -> Iterator[int]:
    port = free_port()
    yield port
    # Only if the test failed and left the demo's server behind: its pid file says which.
    pidfile = Path(f"/tmp/scsession-demo-redis-{port}.pid")
    if port_is_open(port) and pidfile.exists():
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
    for leftover in (pidfile, Path(f"/tmp/scsession-demo-redis-{port}.log")):
        leftover.unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_demo_stops_the_redis_it_started(redis_port: int, how: str) -> None:
    demo = Demo("redis", redis_port)
    demo.wait_until_serving()
    assert redis_command(redis_port, "PING") == "PONG"
    pid = int(Path(f"/tmp/scsession-demo-redis-{redis_port}.pid").read_text())
    output = demo.end(how)
    assert wait_closed(redis_port), f"redis still listens after {how}:\n{output}"
    assert not Path(f"/proc/{pid}").exists()
    assert "redis: stopped" in output


def test_demo_leaves_a_running_redis_alone() -> None:
    with RedisServer() as redis:
        redis.start()
        demo = Demo("redis", redis.port)
        demo.wait_until_serving()
        output = demo.end("ctrl-c")
        assert "using it (and leaving it running)" in output
        assert redis.running and redis_command(redis.port, "PING") == "PONG", output


def test_demo_stops_the_postgres_it_started() -> None:
    port = free_port()
    data = Path(f"/tmp/scsession-demo-postgres-{port}")
    try:
        demo = Demo("postgres", port)
        demo.wait_until_serving()
        assert port_is_open(port)
        output = demo.end("kill")
        assert wait_closed(port), f"postgres still listens:\n{output}"
        assert "postgres: stopped" in output
    finally:
        postmaster = data / "postmaster.pid"
        if port_is_open(port) and postmaster.exists():  # the test failed, the server still up
            os.kill(int(postmaster.read_text().split()[0]), signal.SIGQUIT)
        shutil.rmtree(data, ignore_errors=True)
