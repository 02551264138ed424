"""Real-browser fixtures: Debian's Chromium, driven by Playwright, against the shop on uvicorn.

Nothing is downloaded for the browser but Debian's chromium package, installed with apt-get on
a machine that lacks it (under a file lock, so concurrent runs install it once). Playwright's
own browser builds are never used: do not run `playwright install`.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
#: Screenshots and server logs; test-output/ is gitignored.
OUTPUT = REPO / "test-output" / "browser"
SAVED = pytest.StashKey[list[Path]]()


def install_chromium() -> None:
    """apt-get installs Debian's chromium unless it is there (needs root, as CI has)."""
    if CHROMIUM.exists():
        return
    lock_path = Path(tempfile.gettempdir()) / "scsession-chromium-install.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():  # another run installed it while we waited
            return
        if shutil.which("apt-get") is None:
            pytest.fail(f"{CHROMIUM} is missing and there is no apt-get to install it")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # Waits for the dpkg lock rather than failing when another install holds it.
        install = ["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=600"]
        install += ["--no-install-recommends", "chromium", "fonts-dejavu-core"]
        if subprocess.run(install, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
    assert CHROMIUM.exists(), f"apt-get installed chromium, but {CHROMIUM} is missing"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    install_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def serve() -> Iterator[Callable[[str, str], str]]:
    """`serve(store, store_url)`: the base URL of the shop run by uvicorn with that store.

    One server per store for the whole package, each in its own process on a free loopback
    port (127.0.0.1: Chromium keeps the Secure cookie there over plain http). `store_url` is
    the SCSESSION_STORE_URL of a server-side store ("" for cookie and memory).
    """
    servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}

    def start(store: str, store_url: str = "") -> str:
        if store not in servers:
            servers[store] = start_shop(store, store_url)
        return servers[store][0]

    yield start
    for _, process in servers.values():
        process.terminate()
    for _, process in servers.values():
        process.wait(timeout=10)


def start_shop(store: str, store_url: str) -> tuple[str, subprocess.Popen[bytes]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "SESSION_SECRET": secrets.token_urlsafe(32),
        "SCSESSION_STORE": store,
        "SCSESSION_STORE_URL": store_url,
    }
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(REPO / "examples")]
    command += ["shop.app:app", "--host", "127.0.0.1", "--port", str(port)]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / f"uvicorn-{store}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the shop exited with {process.returncode}:\n{log.read_text()}")
        try:
            with no_proxy.open(f"{url}/static/shop.css", timeout=1) as response:
                if response.status == 200:
                    return url, process
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    pytest.fail(f"the shop did not answer on {url} within 20 s:\n{log.read_text()}")


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[str], Page]]:
    """`new_page(base_url)`: a page in a fresh browser context (no cookies), closed after."""
    contexts = []

    def make(base_url: str) -> Page:
        context = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 760})
        context.set_default_timeout(5_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """`screenshot(page, "name")` saves test-output/browser/name.png; the run lists the files."""

    def save(page: Page, name: str) -> Path:
        path = OUTPUT / f"{name}.png"
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=path, full_page=True)
        request.config.stash.setdefault(SAVED, []).append(path)
        return path

    return save


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for path in config.stash.get(SAVED, []):
        terminalreporter.write_line(f"browser screenshot: {path.relative_to(REPO)}")
