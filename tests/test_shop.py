"""The example shop (`make demo`), in the TestClient: each page used as a person would.

Each test runs three times (SCSESSION_STORE): with cookie sessions, with a MemoryStore and with a
RedisStore on the session's `redis_server` (tests/servers.py).
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import re
import sys
import time
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from .servers import RedisServer, redis_command

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HTTPS = "https://testserver"


@pytest.fixture(params=["cookie", "memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shop(store: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Any:
    """The shop's FastAPI app, imported afresh under this test's environment."""
    monkeypatch.setenv("SESSION_SECRET", "shop-test-secret-0123456789abcdef0123456789")
    monkeypatch.setenv("SCSESSION_STORE", store)
    # Only the redis runs start the server (once for the whole test session).
    store_url = request.getfixturevalue("redis_server").url if store == "redis" else ""
    monkeypatch.setenv("SCSESSION_STORE_URL", store_url)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module("shop.app").app


@pytest.fixture
def browser(shop: Any) -> TestClient:
    return TestClient(shop, base_url=HTTPS)


def flashes(page: Any) -> list[str]:
    return [
        unescape(m) for m in re.findall(r'<p class="flash \w+" role="status">(.*?)</p>', page.text)
    ]


def cart_count(page: Any) -> int:
    return int(re.findall(r'id="cart-count">(\d+)<', page.text)[0])


def session_id(page: Any) -> str:
    """The id prefix the session panel shows."""
    return unescape(re.findall(r'id="session-id">(.*?)</code>', page.text)[0])


def stored(page: Any) -> dict[str, str]:
    """What the session panel says is stored: key -> the value as JSON."""
    (panel,) = re.findall(r'<dl id="session-data">(.*?)</dl>', page.text, re.DOTALL)
    return {k: unescape(v) for k, v in re.findall(r"<dt>(.*?)</dt><dd><code>(.*?)</code>", panel)}


def in_redis(redis: RedisServer, cookie: str) -> bool:
    """Whether Redis holds the record of a store-mode cookie.

    The cookie is base64url(id (16 bytes) | MAC (16)) and the key "scsession:" + base64url(id),
    both unpadded (docs/design.md).
    """
    raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
    key = "scsession:" + base64.urlsafe_b64encode(raw[:16]).rstrip(b"=").decode()
    return redis_command(redis.port, "EXISTS", key) == "1"


def sign_in(browser: TestClient, password: str = "wonderland") -> Any:
    return browser.post("/signin", data={"username": "alice", "password": password})


def test_a_first_visit_stores_nothing_and_says_so(browser: TestClient) -> None:
    page = browser.get("/")
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    assert cart_count(page) == 0
    assert "None yet: nothing is stored, so there is no cookie." in page.text


def test_the_members_page_sends_visitors_to_sign_in_and_back(browser: TestClient) -> None:
    page = browser.get("/members")
    assert page.url.path == "/signin"
    assert flashes(page) == ["The members' page is for signed-in users: please sign in."]

    page = sign_in(browser)
    assert page.url.path == "/members"
    assert "<h1>Members only</h1>" in page.text
    assert "after_sign_in" not in stored(page)  # used once, then gone from the session


def test_sign_in_gives_a_new_id_keeps_the_cart_and_flashes_once(browser: TestClient) -> None:
    page = browser.post("/cart/add", data={"sku": "tea"})
    anonymous_id = session_id(page)

    page = sign_in(browser)
    signed_in_id = session_id(page)
    assert signed_in_id != anonymous_id
    assert flashes(page) == [f"Welcome, alice! New session id: {anonymous_id} → {signed_in_id}"]
    assert cart_count(page) == 1  # regenerate() keeps the data
    assert "<span>alice</span> <button>Sign out</button>" in page.text

    page = browser.get("/members")
    assert flashes(page) == []  # shown once
    assert session_id(page) == signed_in_id


def test_five_wrong_passwords_close_the_form_for_ten_minutes(
    browser: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = sign_in(browser, password="guess")
    assert flashes(page) == ["Wrong name or password. Tries left: 4."]
    for _ in range(4):
        page = sign_in(browser, password="guess")
    assert "Too many failed sign-ins from this browser" in page.text
    assert "<fieldset disabled>" in page.text
    assert len(json.loads(stored(page)["failed_sign_ins"])) == 5

    page = sign_in(browser)  # the right password, but the form is closed
    assert flashes(page) == ["Too many failed sign-ins: this form is closed for a while."]
    assert "Sign out" not in page.text

    later = time.time() + 10 * 60 + 1  # the oldest failure has left the window
    monkeypatch.setattr(time, "time", lambda: later)
    page = sign_in(browser)
    assert page.url.path == "/members"
    assert "failed_sign_ins" not in stored(page)  # a sign-in clears the record


def test_the_cart_changes_in_place_and_counts_on_every_page(browser: TestClient) -> None:
    for sku in ("tea", "mug", "tea"):
        page = browser.post("/cart/add", data={"sku": sku})
    assert flashes(page) == ["Added to your cart: Green tea, 100 g."]
    assert cart_count(page) == 3
    assert stored(page)["cart"] == '[{"sku": "tea", "qty": 2}, {"sku": "mug", "qty": 1}]'
    assert cart_count(browser.get("/prefs")) == 3

    page = browser.get("/cart")
    assert flashes(page) == []
    assert re.search(r"Green tea, 100 g</td>\s*<td class=\"qty\">2<", page.text)
    assert 'id="cart-total">€21.00<' in page.text

    page = browser.post("/cart/remove", data={"sku": "tea"})
    assert flashes(page) == ["Removed one from your cart: Green tea, 100 g."]
    assert cart_count(page) == 2
    browser.post("/cart/remove", data={"sku": "tea"})
    page = browser.post("/cart/remove", data={"sku": "mug"})
    assert "Your cart is empty." in page.text
    assert "cart" not in stored(page)

    assert browser.post("/cart/add", data={"sku": "caviar"}).status_code == 404


def test_preferences_apply_on_every_page(browser: TestClient) -> None:
    page = browser.post("/prefs", data={"theme": "dark", "lang": "de"})
    assert flashes(page) == ["Preferences saved: every page uses them now."]
    for path in ("/", "/cart", "/signin"):
        page = browser.get(path)
        assert '<html lang="de" class="theme-dark">' in page.text
        assert ">Warenkorb <span" in page.text

    assert browser.post("/prefs", data={"theme": "pink", "lang": "de"}).status_code == 422


def test_sign_out_ends_the_session_but_keeps_the_preferences(
    browser: TestClient, shop: Any, store: str, request: pytest.FixtureRequest
) -> None:
    browser.post("/prefs", data={"theme": "dark", "lang": "en"})
    page = sign_in(browser)
    old_cookie = browser.cookies["session"]
    old_id = session_id(page)
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        assert in_redis(redis, old_cookie)

    page = browser.post("/signout")
    if store == "redis":
        assert not in_redis(redis, old_cookie)  # invalidate() deleted the record
        assert in_redis(redis, browser.cookies["session"])  # the new one, with the preferences
    assert flashes(page) == [f"Signed out: session {old_id} has ended."]
    assert ">Sign in</a>" in page.text
    assert 'class="theme-dark"' in page.text  # kept, in a new session
    assert session_id(page) != old_id
    assert browser.get("/members").url.path == "/signin"

    # A copy of the signed-in cookie, taken before the sign-out: with a store, invalidate()
    # deleted the record, so it opens nothing. A cookie session cannot be revoked: the copy still
    # opens until it expires (see the README's security model).
    replayed = TestClient(shop, base_url=HTTPS, cookies={"session": old_cookie})
    expected = "/members" if store == "cookie" else "/signin"
    assert replayed.get("/members").url.path == expected


def test_sign_out_other_devices_ends_every_other_session(shop: Any, store: str) -> None:
    if store == "redis":  # one server for the whole run: end alice's sessions of earlier tests
        # Before the app's first request the store has no secret for its index yet.
        shop.state.session_store.use_secret_key(os.environ["SESSION_SECRET"])
        asyncio.run(shop.state.session_store.invalidate_user("alice"))
    laptop, phone = TestClient(shop, base_url=HTTPS), TestClient(shop, base_url=HTTPS)
    sign_in(laptop)
    laptop.headers["user-agent"] = "Laptop Firefox"  # after sign-in: the binding keeps the first
    phone.headers["user-agent"] = "Phone Safari"
    sign_in(phone)
    phone.post("/cart/add", data={"sku": "tea"})
    members = laptop.get("/members")
    if store == "cookie":
        assert "cannot sign other devices" in members.text
        assert "sign-out-others" not in members.text
        return
    devices = re.findall(
        r"<tr>\s*<td><code>([\w-]+)…</code>( \(this device\))?</td>\s*<td>(.*?)</td>", members.text
    )
    assert sorted(agent for _, _, agent in devices) == ["Phone Safari", "testclient"]
    assert [mine for _, mine, _ in devices].count(" (this device)") == 1

    page = laptop.post("/signout-others", follow_redirects=True)
    assert flashes(page) == ["Signed out 1 other device."]
    assert len(re.findall(r"<td><code>", page.text)) == 1, "only this device is left"
    # The phone is signed out at its next request, its cart gone with its session.
    page = phone.get("/members", follow_redirects=True)
    assert "please sign in" in page.text
    assert cart_count(phone.get("/")) == 0
    assert laptop.get("/members").status_code == 200
