"""The README's code runs as written: each Python block is executed and its app exercised."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from scsession.testing import Browser, StoreConformance

from .servers import RedisServer
from .support import the_set_cookie
from .test_migrate import (
    OLD_KEY,
    browser_on,
    sign_in_under_starsessions,
    signed_in_under_starlette,
)

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def run_block(marker: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Executes the README block containing `marker` and returns its namespace."""
    (code,) = [block for block in BLOCKS if marker in block]
    monkeypatch.setenv("SESSION_SECRET", "readme-test-secret-0123456789abcdef")
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("marker", ["async def counter(request)", "async def counter(session"])
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


def test_audit_log_example_logs_sign_ins_and_sign_outs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = run_block("def audit_sessions", monkeypatch)["app"]
    browser = TestClient(app, base_url="https://testserver")
    with caplog.at_level("INFO", logger="myapp.audit"):
        browser.post("/sign-in")  # a first visit: the session is created at sign-in
        browser.get("/sign-out")
        browser.post("/sign-in")
        browser.post("/sign-in")  # signed in already: a new id for the same session
    lines = [r.getMessage() for r in caplog.records if r.name == "myapp.audit"]
    assert [line.split(":")[0] for line in lines] == [
        "sign-in from testclient",
        "sign-out from testclient",
        "sign-in from testclient",
        "session " + lines[3].split()[1] + " is now " + lines[3].split()[-1],
    ]


def test_log_out_everywhere_example(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = run_block("async def change_password", monkeypatch)
    app, store = namespace["app"], namespace["store"]
    laptop = TestClient(app, base_url="https://testserver", headers={"user-agent": "Laptop"})
    phone = TestClient(app, base_url="https://testserver", headers={"user-agent": "Phone"})
    laptop.post("/sign-in")
    phone.post("/sign-in")
    devices = laptop.get("/devices").json()
    assert sorted(d["browser"] for d in devices) == ["Laptop", "Phone"]
    assert [d["this one"] for d in devices].count(True) == 1
    assert len(store) == 2
    assert laptop.post("/password").json() == {"signed out": 1}
    assert [d["browser"] for d in laptop.get("/devices").json()] == ["Laptop"]
    assert len(store) == 1, "the phone's session is gone: it is signed out"


def test_readme_on_demand_example_reads_the_store_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = run_block('load="on_demand"', monkeypatch)["app"]
    browser = TestClient(app, base_url="https://testserver")
    assert browser.post("/cart/socks").json() == ["socks"]
    assert browser.post("/cart/hat").json() == ["socks", "hat"]
    assert browser.get("/cart").json() == ["socks", "hat"]
    assert browser.get("/health").json() == "ok"


def test_testing_helpers_example(monkeypatch: pytest.MonkeyPatch) -> None:
    run_block("def test_a_signed_in_user_adds_to_the_wishlist", monkeypatch)[
        "test_a_signed_in_user_adds_to_the_wishlist"
    ]()


def test_session_model_example(monkeypatch: pytest.MonkeyPatch) -> None:
    app = run_block("Cart = Annotated[CartModel", monkeypatch)["app"]
    browser = TestClient(app, base_url="https://testserver")
    assert browser.get("/cart").json() == {"items": [], "coupon": None}
    browser.post("/cart/items", params={"item": "socks"})
    browser.post("/cart/items", params={"item": "hat"})
    shown = browser.get("/cart")
    assert shown.json() == {"items": ["socks", "hat"], "coupon": None}
    assert "set-cookie" not in shown.headers, "read, not changed: no write"


def test_migration_guide_keeps_a_starlette_user_signed_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLD_SESSION_SECRET", OLD_KEY)
    app = run_block("migrate_from=StarletteCookie(", monkeypatch)["app"]
    old_browser = signed_in_under_starlette({"user": "ada"})
    browser = TestClient(app, base_url="https://testserver", cookies=old_browser.cookies)
    assert browser.get("/").json() == {"user": "ada"}
    assert browser.get("/").json() == {"user": "ada"}


def test_migration_guide_moves_a_starsessions_user_into_redis_store(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    app = run_block("migrate_from=StarsessionsRedis(", monkeypatch)["app"]
    old = redis.Redis.from_url(redis_server.url)

    async def story() -> None:
        jar = await sign_in_under_starsessions(redis_server.url, "starsessions.", {"user": "ada"})
        old_id = jar["session"]
        assert old.exists(f"starsessions.{old_id}") == 1
        async with browser_on(app, jar) as browser:
            response = await browser.get("/")  # the example has no routes: any request migrates
            assert response.status_code == 404
            assert not the_set_cookie(response).deletes
        assert old.exists(f"starsessions.{old_id}") == 0

    asyncio.run(story())
    old.close()
