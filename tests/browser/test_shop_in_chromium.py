"""The example shop in a real, headless Chromium: what a person sees, clicks and keeps.

The full visit runs against the shop with cookie sessions, with a MemoryStore in the server
process and with a RedisStore (the `redis_server` of tests/servers.py); see conftest.py for the
browser and the uvicorn servers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

NewPage = Callable[[str], Page]
OpenShop = Callable[[str], str]
LIGHT_BACKGROUND = "rgb(247, 245, 240)"  # --bg of .theme-light in shop.css
DARK_BACKGROUND = "rgb(23, 25, 29)"  # --bg of .theme-dark


@pytest.fixture
def open_shop(serve: Callable[[str, str], str], request: pytest.FixtureRequest) -> OpenShop:
    """`open_shop(store)`: the base URL of the shop with that SCSESSION_STORE, served once.

    For "redis", the session's `redis_server` is started first (only by the tests that use it).
    """

    def open_(store: str) -> str:
        store_url = request.getfixturevalue("redis_server").url if store == "redis" else ""
        return serve(store, store_url)

    return open_


def sign_in(page: Page, password: str = "wonderland") -> None:
    page.get_by_label("Name").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("store", ["cookie", "memory", "redis"])
def test_a_visit_from_sign_in_to_sign_out(
    store: str, open_shop: OpenShop, new_page: NewPage
) -> None:
    shop = open_shop(store)
    page = new_page(shop)
    flash = page.get_by_role("status")

    page.goto("/")
    assert page.context.cookies() == []  # nothing stored yet, so no cookie

    # The members' page is closed: it sends us to sign in, then back.
    page.goto("/members")
    expect(page).to_have_url(f"{shop}/signin")
    expect(flash).to_have_text("The members' page is for signed-in users: please sign in.")
    sign_in(page)
    expect(page).to_have_url(f"{shop}/members")
    expect(page.get_by_role("heading", name="Members only")).to_be_visible()
    expect(flash).to_have_text(re.compile(r"^Welcome, alice! New session id: \S+… → \S+…$"))
    new_id = page.locator("#session-id").inner_text()
    assert flash.inner_text().endswith(f"→ {new_id}")  # the panel shows the new id

    # The cookie: Secure and HttpOnly, kept by Chromium over plain http on 127.0.0.1.
    (cookie,) = page.context.cookies()
    assert (cookie["name"], cookie["secure"], cookie["httpOnly"]) == ("session", True, True)
    assert cookie["sameSite"] == "Lax"

    page.reload()
    expect(flash).to_have_count(0)  # a flash shows once

    # The cart, counted in the header, survives a reload.
    page.goto("/")
    page.locator("#add-tea").click()
    expect(flash).to_have_text("Added to your cart: Green tea, 100 g.")
    expect(page.locator("#cart-count")).to_have_text("1")
    page.reload()
    expect(page.locator("#cart-count")).to_have_text("1")
    page.goto("/cart")
    expect(page.locator("table.cart tbody tr")).to_have_text(re.compile(r"Green tea, 100 g\s*1"))

    # The theme changes the page's class and colours, on every page.
    expect(page.locator("body")).to_have_css("background-color", LIGHT_BACKGROUND)
    page.goto("/prefs")
    page.get_by_label("dark").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("html")).to_have_class("theme-dark")
    page.goto("/cart")
    expect(page.locator("body")).to_have_css("background-color", DARK_BACKGROUND)

    # Signing out closes the members' page again; the theme stays.
    (signed_in_cookie,) = page.context.cookies()
    page.get_by_role("button", name="Sign out").click()
    expect(flash).to_have_text(f"Signed out: session {new_id} has ended.")
    expect(page.locator("html")).to_have_class("theme-dark")
    page.goto("/members")
    expect(page).to_have_url(f"{shop}/signin")

    # Someone kept a copy of the signed-in cookie and puts it back.
    page.context.clear_cookies()
    kept = signed_in_cookie["value"]
    page.context.add_cookies([{"name": "session", "value": kept, "url": shop}])
    assert [c["value"] for c in page.context.cookies()] == [kept]
    page.goto("/members")
    if store != "cookie":
        # invalidate() deleted the record in the store: the copy opens nothing.
        expect(page).to_have_url(f"{shop}/signin")
    else:
        # A cookie session is a bearer token until it expires (the README's security model):
        # this is why sign-out that must hold everywhere needs a store.
        expect(page).to_have_url(f"{shop}/members")


def test_five_wrong_passwords_close_the_sign_in_form(
    open_shop: OpenShop, new_page: NewPage
) -> None:
    page = new_page(open_shop("cookie"))
    page.goto("/signin")
    for left in (4, 3, 2, 1, 0):
        sign_in(page, password="not-the-password")
        expect(page.get_by_role("status")).to_have_text(
            f"Wrong name or password. Tries left: {left}."
        )
    expect(page.locator("#locked")).to_contain_text("the form opens again in 10 minutes")
    expect(page.get_by_role("button", name="Sign in")).to_be_disabled()
    expect(page.get_by_label("Name")).to_be_disabled()


def test_screenshot_of_the_cart(
    open_shop: OpenShop, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    page = new_page(open_shop("redis"))  # the cart as kept in Redis
    page.goto("/signin")
    sign_in(page)
    page.goto("/")
    for sku in ("tea", "tea", "pot", "honey"):
        page.locator(f"#add-{sku}").click()
        expect(page.get_by_role("status")).to_contain_text("Added to your cart")
    page.goto("/cart")
    expect(page.locator("#cart-count")).to_have_text("4")
    expect(page.locator("#cart-total")).to_have_text("€56.10")
    path = screenshot(page, "cart")
    assert path.stat().st_size > 10_000

    page.goto("/prefs")
    page.get_by_label("dark").check()
    page.get_by_role("button", name="Save").click()
    page.goto("/cart")
    screenshot(page, "cart-dark")


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_sign_out_other_devices(
    store: str,
    open_shop: OpenShop,
    new_page: NewPage,
    screenshot: Callable[[Page, str], Path],
) -> None:
    shop = open_shop(store)
    laptop, phone = new_page(shop), new_page(shop)  # two browser contexts: two devices
    for device in (phone, laptop):
        device.goto("/signin")
        sign_in(device)
        expect(device).to_have_url(f"{shop}/members")
    devices = laptop.locator("#devices tr:has(td)")
    expect(devices.filter(has_text="(this device)")).to_have_count(1)
    assert devices.count() >= 2  # the phone too (and any earlier test's sessions of alice)
    screenshot(laptop, f"devices-{store}")

    laptop.get_by_role("button", name="Sign out other devices").click()
    expect(laptop.get_by_role("status")).to_have_text(re.compile(r"^Signed out \d+ other device"))
    expect(devices).to_have_count(1)
    expect(devices).to_contain_text("(this device)")

    # The phone finds itself signed out at its next request.
    phone.goto("/members")
    expect(phone).to_have_url(f"{shop}/signin")
    laptop.reload()
    expect(laptop).to_have_url(f"{shop}/members")
