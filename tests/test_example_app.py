"""The demo app (`make demo`) works as a person would use it: sign in, flash once, sign out."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

APP_FILE = Path(__file__).resolve().parent.parent / "examples" / "app.py"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("SESSION_SECRET", "example-app-test-secret-0123456789abcdef")
    spec = importlib.util.spec_from_file_location("scsession_demo_app", APP_FILE)
    assert spec is not None and spec.loader is not None
    module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return TestClient(module.app, base_url="https://testserver")


def test_sign_in_regenerates_flashes_once_and_sign_out_ends_the_session(
    browser: TestClient,
) -> None:
    first = browser.get("/")
    assert "Visits in this session: 1" in first.text and "Sign in" in first.text
    id_before = browser.get("/").text.split("<code>")[1].split("</code>")[0]

    signed_in = browser.post("/login", data={"username": "Ada<b>"})
    assert signed_in.status_code == 200  # the 303 was followed
    assert "Welcome back, Ada&lt;b&gt;!" in signed_in.text  # escaped, shown once
    assert "Signed in as <b>Ada&lt;b&gt;</b>" in signed_in.text
    assert "Visits in this session: 3" in signed_in.text  # data kept through regenerate()
    assert signed_in.text.split("<code>")[1].split("</code>")[0] != id_before

    again = browser.get("/")
    assert "Welcome back" not in again.text

    signed_out = browser.post("/logout")
    assert "Signed out" in signed_out.text
    assert "Sign in" in signed_out.text
    assert "Visits in this session: 1" in signed_out.text
