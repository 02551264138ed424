"""Preferences: a theme and a language, kept in the session and applied on every page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from scsession.fastapi import SessionDep

from .pages import LANGUAGES, THEMES, render, see_other

router = APIRouter()


@router.get("/prefs", response_class=HTMLResponse)
async def prefs_page(request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, session, "prefs.html", themes=THEMES, languages=LANGUAGES)


@router.post("/prefs")
async def save_prefs(
    session: SessionDep, theme: Annotated[str, Form()], lang: Annotated[str, Form()]
) -> RedirectResponse:
    # The session takes what the form sends: check it against the choices offered.
    if theme not in THEMES or lang not in LANGUAGES:
        raise HTTPException(422, "unknown theme or language")
    session["prefs"] = {"theme": theme, "lang": lang}
    session.flash("success", "Preferences saved: every page uses them now.")
    return see_other("/prefs")
