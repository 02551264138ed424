"""The README's code runs as written: each Python block is executed and its app exercised."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from scsession.testing import Browser, StoreConformance

from .servers import RedisServer

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def run_block(marker: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Executes the README block containing `marker` and returns its namespace."""
    (code,) = [block for block in BLOCKS if marker in block]
    monkeypatch.setenv("SESSION_SECRET", "readme-test-secret-0123456789abcdef")
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("marker", ["app = Starlette(", "app = FastAPI()"])
def test_quick_start_counter_counts_per_browser(
    marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_block(marker, monkeypatch)["app"]
    browser = TestClient(app, base_url="https://testserver")
    assert [browser.get("/").json()["count"] for _ in range(3)] == [1, 2, 3]
    other_browser = TestClient(app, base_url="https://testserver")
    assert other_browser.get("/").json() == {"count": 1}


class TestReadmeStoreExample(StoreConformance):
    """The README's own store, on a real redis-server, passes the conformance suite."""

    @pytest.fixture
    def store(self, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Any:
        return run_block("class MyRedisStore", monkeypatch)["MyRedisStore"](redis_server.url)


def test_readme_store_example_keeps_records_encrypted_under_its_keys(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = run_block("class MyRedisStore", monkeypatch)["MyRedisStore"](redis_server.url)

    async def story() -> bytes:
        browser = Browser(store)
        assert await browser.get("/set?cart=socks") == {"cart": "socks"}
        assert await Browser(store, browser.cookie).get("/") == {"cart": "socks"}
        record: bytes = await store.redis.get(f"session:{browser.session_id()}")
        await store.aclose()
        return record

    record = asyncio.run(story())
    assert record and b"socks" not in record


def test_every_python_block_compiles() -> None:
    for block in BLOCKS:
        compile(block, str(README), "exec")
