"""A cookie whose name=value would pass 4096 bytes is refused loudly, never dropped silently."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from scsession import MemoryStore, SessionError, SessionTooLargeError

from .support import HTTPS, make_app, the_set_cookie

LIMIT = 4096


def cookie_client(**options: Any) -> TestClient:
    return TestClient(make_app(**options), base_url=HTTPS)


def numbers_in(text: str) -> list[int]:
    return [int(n.replace(",", "").replace("_", "")) for n in re.findall(r"\d[\d,_]*", text)]


def test_too_large_cookie_raises_naming_the_size_and_a_store() -> None:
    client = cookie_client()
    with pytest.raises(SessionTooLargeError) as info:
        client.post("/update", json={"blob": os.urandom(2500).hex()})
    assert isinstance(info.value, SessionError)
    message = str(info.value)
    assert "store" in message.lower(), message
    assert any(LIMIT < n < 20_000 for n in numbers_in(message)), message


def test_the_same_data_is_fine_in_a_memory_store() -> None:
    client = TestClient(make_app(store=MemoryStore()), base_url=HTTPS)
    blob = os.urandom(2500).hex()
    response = client.post("/update", json={"blob": blob})
    assert len(the_set_cookie(response).raw) < 300
    assert client.get("/view").json() == {"session": {"blob": blob}}

    bigger = os.urandom(100_000).hex()
    client.post("/update", json={"blob": bigger})
    assert client.get("/view").json() == {"session": {"blob": bigger}}


def fits(length: int, cookie_name: str = "session") -> int | None:
    """The length of name=value for a session {"x": "a" * length}, or None when refused."""
    client = cookie_client(cookie_name=cookie_name)
    try:
        response = client.post("/update", json={"x": "a" * length})
    except SessionTooLargeError:
        return None
    cookie = the_set_cookie(response, cookie_name)
    return len(f"{cookie.name}={cookie.value}".encode())


def test_limit_is_4096_bytes_of_name_and_value() -> None:
    low, high = 0, LIMIT  # fits(low) holds, fits(high) does not
    assert fits(low) is not None
    assert fits(high) is None
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle) is None:
            high = middle
        else:
            low = middle
    largest = fits(low)
    assert largest is not None
    assert LIMIT - 8 <= largest <= LIMIT, "everything up to 4096 bytes is allowed, no more"
    # The cookie name counts too.
    assert fits(low, cookie_name="s" * 64) is None


def test_a_large_session_below_the_limit_works() -> None:
    client = cookie_client()
    blob = os.urandom(1000).hex()
    client.post("/update", json={"blob": blob})
    assert client.get("/view").json() == {"session": {"blob": blob}}


def test_a_refused_write_keeps_the_previous_session() -> None:
    client = cookie_client()
    client.post("/update", json={"user": "alice"})
    with pytest.raises(SessionTooLargeError):
        client.post("/update", json={"blob": os.urandom(3000).hex()})
    assert client.get("/view").json() == {"session": {"user": "alice"}}
