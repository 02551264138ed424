"""What every page shows: flashes, the cart count, the preferences, and the session panel."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from scsession import Session

from . import settings

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

THEMES = ("light", "dark")
LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch"}
DEFAULT_PREFS = {"theme": "light", "lang": "en"}
# The menu in each language (the pages themselves stay in English, to keep the demo short).
MENU = {
    "en": {"shop": "Shop", "cart": "Cart", "members": "Members", "prefs": "Preferences",
           "sign_in": "Sign in", "sign_out": "Sign out"},
    "fr": {"shop": "Boutique", "cart": "Panier", "members": "Membres", "prefs": "Préférences",
           "sign_in": "Connexion", "sign_out": "Déconnexion"},
    "de": {"shop": "Laden", "cart": "Warenkorb", "members": "Mitglieder", "prefs": "Einstellungen",
           "sign_in": "Anmelden", "sign_out": "Abmelden"},
}  # fmt: skip
WHERE = {
    "cookie": "in the cookie, encrypted: the server keeps nothing",
    "memory": "in a MemoryStore in the server process; the cookie holds only the id and a MAC",
    "redis": "in Redis, encrypted; the cookie holds only the id and a MAC",
    "postgres": "in PostgreSQL, encrypted; the cookie holds only the id and a MAC",
}


def see_other(url: str) -> RedirectResponse:
    """After a form: 303 makes the browser follow with a GET, so a reload does not post again."""
    return RedirectResponse(url, status_code=303)


def render(request: Request, session: Session, template: str, **context: Any) -> HTMLResponse:
    """The page `template`, with what the layout (templates/base.html) shows on every page."""
    prefs = session.get("prefs", DEFAULT_PREFS)
    return templates.TemplateResponse(
        request,
        template,
        {
            "flashes": session.flashes(),  # returns the pending messages and removes them
            "user": session.get("user"),
            "cart_count": sum(line["qty"] for line in session.get("cart", [])),
            "prefs": prefs,
            "menu": MENU[prefs["lang"]],
            "panel": panel(session),
            **context,
        },
    )


def panel(session: Session) -> dict[str, Any] | None:
    """The "your session" panel, for learning; None while there is no session."""
    if not session:
        return None  # nothing stored: no cookie, and no record in a store
    # scsession keeps the session's creation time sealed inside, with no public way to read it,
    # so the shop notes the time itself: on the first page after the first write, and at sign-in
    # (regenerate() starts the session's lifetime anew). Both are within a second of the real one.
    if "started_at" not in session:
        session["started_at"] = int(time.time())
    started = session.get("signed_in_at", session["started_at"])
    return {
        "id": short(session.id),
        "where": WHERE[settings.STORE],
        "started": clock(started),
        "ends": clock(started + settings.MAX_AGE),
        "idle_minutes": settings.IDLE_TIMEOUT // 60,
        "stored": {key: json.dumps(value, ensure_ascii=False) for key, value in session.items()},
    }


def short(session_id: str | None) -> str:
    """The first characters of a session id: enough to tell two apart, too few to be one."""
    return f"{session_id[:8]}…" if session_id else "(none yet)"


def clock(unix: int) -> str:
    return datetime.fromtimestamp(unix).astimezone().strftime("%H:%M:%S %Z")


templates.env.globals["clock"] = clock  # for the members' list of devices
