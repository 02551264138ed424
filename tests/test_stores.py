"""Stores: MemoryStore keeps the store contract, and any object with async load/save/delete is a
store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.testclient import TestClient

from scsession import MemoryStore

from .support import HTTPS, KEY, DictStore, cookie_header, make_app, the_set_cookie

# Session ids as the middleware makes them: 16 bytes, 22 base64url characters.
ID1, ID2, ID3 = "a" * 21 + "A", "b" * 21 + "A", "c" * 21 + "A"


def run(step: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(step())  # type: ignore[arg-type]


def test_memory_store_save_load_delete() -> None:
    store = MemoryStore()

    async def story() -> None:
        assert await store.load(ID3) is None
        await store.save(ID1, b"first", 60)
        assert await store.load(ID1) == b"first"
        await store.save(ID1, b"third", 60)
        assert await store.load(ID1) == b"third"

        await store.delete(ID1)
        assert await store.load(ID1) is None
        await store.delete(ID1)  # deleting twice is fine
        assert await store.load(ID1) is None

    run(story)


def test_memory_store_entries_expire_after_their_ttl() -> None:
    store = MemoryStore()

    async def save() -> None:
        await store.save(ID1, b"x", 1)
        await store.save(ID2, b"y", 60)

    run(save)
    time.sleep(1.1)

    async def load() -> tuple[Any, Any]:
        return await store.load(ID1), await store.load(ID2)

    assert run(load) == (None, b"y")


def test_a_minimal_custom_store_runs_the_story() -> None:
    store = DictStore()
    client = TestClient(make_app(store=store), base_url=HTTPS)
    client.post("/update", json={"user": "alice"})
    assert len(store.records) == 1
    assert b"alice" not in next(iter(store.records.values())), "records are encrypted"
    assert client.get("/view").json() == {"session": {"user": "alice"}}

    client.post("/update", json={"user": "bob"})
    assert client.get("/view").json() == {"session": {"user": "bob"}}

    old = client.cookies["session"]
    client.post("/regenerate")
    assert len(store.records) == 1, "the old id's record is gone"
    assert client.get("/view", headers=cookie_header(old)).json() == {"session": {}}
    assert client.get("/view").json() == {"session": {"user": "bob"}}

    client.post("/invalidate")
    assert store.records == {}


def test_records_cannot_be_swapped_between_ids() -> None:
    store = DictStore()
    alice = TestClient(make_app(store=store, secret_key=KEY), base_url=HTTPS)
    mallory = TestClient(make_app(store=store, secret_key=KEY), base_url=HTTPS)
    alice.post("/update", json={"user": "alice", "admin": True})
    mallory_cookie = the_set_cookie(mallory.post("/update", json={"user": "mallory"})).value
    alice_id, mallory_id = store.records  # saved in that order

    # Someone with write access to the store copies alice's record over mallory's.
    store.records[mallory_id] = store.records[alice_id]
    response = mallory.get("/view", headers=cookie_header(mallory_cookie))
    assert response.json() == {"session": {}}
