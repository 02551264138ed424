"""Bad cookies open a fresh empty session; keys rotate; every seal is different."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from .support import (
    KEY,
    KEY_A,
    KEY_B,
    Clock,
    SpyStore,
    cookie_header,
    make_app,
    no_set_cookie,
    starlette_itsdangerous_cookie,
    the_set_cookie,
)

MakeClient = Callable[..., TestClient]


@dataclass
class Bakery:
    """A valid cookie for the app under test, and ways to spoil it."""

    make_client: MakeClient
    store: Any
    clock: Clock
    client: TestClient
    valid: str

    def written_by(self, **options: Any) -> str:
        """A genuine cookie from another configuration (sharing the same store)."""
        other = self.make_client(store=self.store, **options)
        response = other.post("/update", json={"user": "alice"})
        return the_set_cookie(response, options.get("cookie_name", "session")).value

    def expired(self) -> str:
        self.clock.advance(101)
        return self.valid


def flip(value: str, index: int) -> str:
    replacement = "A" if value[index] != "A" else "B"
    index %= len(value)
    return value[:index] + replacement + value[index + 1 :]


BAD_COOKIES: dict[str, Callable[[Bakery], str | bytes]] = {
    "tampered first byte": lambda b: flip(b.valid, 0),
    "tampered middle byte": lambda b: flip(b.valid, len(b.valid) // 2),
    "tampered byte near the end": lambda b: flip(b.valid, -3),
    "truncated by one character": lambda b: b.valid[:-1],
    "truncated to half": lambda b: b.valid[: len(b.valid) // 2],
    "doubled": lambda b: b.valid + b.valid,
    "empty": lambda b: "",
    "not base64": lambda b: "!!not*base64~~",
    "base64 of garbage": lambda b: base64.urlsafe_b64encode(b"\x01" + b"\x00" * 60).decode(),
    "non-ASCII": lambda b: "sésame ✓".encode(),
    "valid then non-ASCII": lambda b: b.valid.encode() + "é".encode(),
    "8 KB+": lambda b: "A" * 8200,
    "valid padded past 4096 bytes": lambda b: b.valid + "A" * (4097 - len(b.valid)),
    "1 MB": lambda b: "A" * 1_000_000,
    "expired": lambda b: b.expired(),
    "sealed by another key": lambda b: b.written_by(secret_key=KEY_B, max_age=100),
    "another cookie name": lambda b: b.written_by(cookie_name="other", max_age=100),
    "Starlette's own itsdangerous cookie": lambda b: starlette_itsdangerous_cookie(
        {"user": "alice"}, KEY
    ),
    "Starlette's cleared cookie": lambda b: "null",
}


@pytest.fixture
def bakery(make_client: MakeClient, new_store: Callable[[], Any], clock: Clock) -> Bakery:
    store = new_store()
    client = make_client(store=store, max_age=100)
    valid = the_set_cookie(client.post("/update", json={"user": "alice"})).value
    assert client.get("/view", headers=cookie_header(valid)).json() == {
        "session": {"user": "alice"}
    }
    return Bakery(make_client, store, clock, client, valid)


@pytest.mark.parametrize("spoil", BAD_COOKIES.values(), ids=BAD_COOKIES.keys())
def test_bad_cookie_opens_a_fresh_empty_session(
    bakery: Bakery, spoil: Callable[[Bakery], str | bytes]
) -> None:
    bad = spoil(bakery)
    response = bakery.client.get("/view", headers=cookie_header(bad))
    assert response.status_code == 200
    assert response.json() == {"session": {}}
    assert no_set_cookie(response)
    assert bakery.client.get("/id", headers=cookie_header(bad)).json() == {"id": None}


@pytest.mark.parametrize("spoil", BAD_COOKIES.values(), ids=BAD_COOKIES.keys())
def test_bad_cookie_is_replaced_when_the_handler_writes(
    bakery: Bakery, spoil: Callable[[Bakery], str | bytes]
) -> None:
    bad = spoil(bakery)
    response = bakery.client.post("/update", json={"fresh": 1}, headers=cookie_header(bad))
    assert response.status_code == 200
    assert response.json() == {"session": {"fresh": 1}}
    new = the_set_cookie(response)
    assert not new.deletes
    assert bakery.client.get("/view", headers=cookie_header(new.value)).json() == {
        "session": {"fresh": 1}
    }


# --- key rotation ----------------------------------------------------------------------------


def test_key_rotation_old_cookie_opens_and_is_resealed_under_the_new_key(
    new_store: Callable[[], Any],
) -> None:
    store = new_store()

    def client(secret_key: Any) -> TestClient:
        return TestClient(
            make_app(store=store, secret_key=secret_key), base_url="https://testserver"
        )

    old_key_only, rotated, new_key_only = client(KEY_A), client([KEY_B, KEY_A]), client([KEY_B])

    under_a = the_set_cookie(old_key_only.post("/update", json={"user": "alice"})).value

    # Every key of the ring opens; reading alone re-sends nothing.
    response = rotated.get("/view", headers=cookie_header(under_a))
    assert response.json() == {"session": {"user": "alice"}}
    assert no_set_cookie(response)

    # A key that was dropped from the ring no longer opens.
    assert new_key_only.get("/view", headers=cookie_header(under_a)).json() == {"session": {}}

    # When written, the session is sealed under the first key.
    response = rotated.post("/update", json={"step": 2}, headers=cookie_header(under_a))
    under_b = the_set_cookie(response).value
    assert new_key_only.get("/view", headers=cookie_header(under_b)).json() == {
        "session": {"user": "alice", "step": 2}
    }
    assert old_key_only.get("/view", headers=cookie_header(under_b)).json() == {"session": {}}


def test_key_list_of_one_behaves_like_the_key(new_store: Callable[[], Any]) -> None:
    store = new_store()
    single = TestClient(make_app(store=store, secret_key=KEY), base_url="https://testserver")
    listed = TestClient(make_app(store=store, secret_key=[KEY]), base_url="https://testserver")
    value = the_set_cookie(single.post("/update", json={"a": 1})).value
    assert listed.get("/view", headers=cookie_header(value)).json() == {"session": {"a": 1}}


# --- sealing -----------------------------------------------------------------------------------


def decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_two_seals_of_the_same_session_differ(clock: Clock) -> None:
    """Random nonces: the very same record (same id, times and data) never seals the same."""
    client = TestClient(make_app(), base_url="https://testserver")
    first = the_set_cookie(client.post("/update", json={"a": 1})).value
    the_set_cookie(client.post("/update", json={"a": 2}))
    third = the_set_cookie(client.post("/update", json={"a": 1})).value
    assert client.get("/view").json() == {"session": {"a": 1}}
    assert len(first) == len(third)
    assert first != third
    assert sum(x != y for x, y in zip(decode(first), decode(third), strict=True)) > 16


def test_two_store_seals_of_the_same_session_differ(clock: Clock) -> None:
    spy = SpyStore()
    client = TestClient(make_app(store=spy), base_url="https://testserver")
    for value in (1, 2, 1):
        client.post("/update", json={"a": value})
    assert len(spy.saved) == 3
    (id1, first, _), _, (id3, third, _) = spy.saved
    assert id1 == id3
    assert first != third


def test_cookie_does_not_reveal_the_data() -> None:
    client = TestClient(make_app(), base_url="https://testserver")
    secret = "correct horse battery staple"
    value = the_set_cookie(client.post("/update", json={"password": secret})).value
    assert secret not in value
    assert secret.encode() not in decode(value)
    assert b"password" not in decode(value)


def test_cookie_value_is_base64url() -> None:
    client = TestClient(make_app(), base_url="https://testserver")
    value = the_set_cookie(client.post("/update", json={"a": 1})).value
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def test_store_cookie_stays_small_whatever_the_data() -> None:
    from scsession import MemoryStore

    client = TestClient(make_app(store=MemoryStore()), base_url="https://testserver")
    small = the_set_cookie(client.post("/update", json={"a": 1})).value
    big = the_set_cookie(client.post("/update", json={"b": "x" * 10_000})).value
    assert len(small) == len(big) < 100
