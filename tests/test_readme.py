"""The README's code runs as written: each Python block is executed and its app exercised."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from .support import make_app

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


def test_custom_store_example_round_trips_through_a_redis_like_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class FakeRedis:
        """The four redis.asyncio calls the example makes, on a dict."""

        def __init__(self) -> None:
            self.data: dict[str, bytes] = {}

        async def get(self, key: str) -> bytes | None:
            return self.data.get(key)

        async def set(self, key: str, value: bytes, ex: int, xx: bool = False) -> bool:
            assert ex > 0
            if xx and key not in self.data:
                return False
            self.data[key] = value
            return True

        async def delete(self, key: str) -> None:
            self.data.pop(key, None)

    store_class = run_block("class MyRedisStore", monkeypatch)["MyRedisStore"]
    redis = FakeRedis()
    browser = TestClient(make_app(store=store_class(redis)), base_url="https://testserver")
    browser.post("/update", json={"cart": [1, 2]})
    assert browser.get("/view").json() == {"session": {"cart": [1, 2]}}
    (key,) = redis.data
    assert key.startswith("session:")
    assert b"cart" not in redis.data[key]  # stored encrypted
    browser.post("/clear")
    assert redis.data == {}
