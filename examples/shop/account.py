"""Signing in and out, the members-only page, and a limit on failed sign-ins."""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from scsession import Session
from scsession.fastapi import SessionDep

from .pages import render, see_other, short

router = APIRouter()

# DEMO ONLY: made-up users with plain-text passwords. A real app keeps password hashes (argon2,
# bcrypt) in its database.
USERS = {"alice": "wonderland", "bob": "builder"}

MAX_FAILURES = 5  # failed sign-ins allowed ...
FAILURE_WINDOW = 10 * 60  # ... within 10 minutes; then the form refuses until the oldest expires


def password_ok(username: str, password: str) -> bool:
    expected = USERS.get(username)
    return expected is not None and hmac.compare_digest(expected.encode(), password.encode())


def recent_failures(session: Session) -> list[int]:
    """When this browser's failed sign-ins of the last 10 minutes happened."""
    since = time.time() - FAILURE_WINDOW
    return [t for t in session.get("failed_sign_ins", []) if t > since]


def locked_for(session: Session) -> int:
    """Seconds until the sign-in form opens again (0: open now)."""
    failures = recent_failures(session)
    if len(failures) < MAX_FAILURES:
        return 0
    return max(1, int(failures[-MAX_FAILURES] + FAILURE_WINDOW - time.time()))


@router.get("/signin", response_class=HTMLResponse)
async def sign_in_page(request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, session, "signin.html", locked_for=locked_for(session), users=USERS)


@router.post("/signin")
async def sign_in(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=100)],
) -> RedirectResponse:
    # The attempts are kept in the session: this slows down a person at this browser. A script
    # that drops its cookie starts afresh, so a real app also counts per account on the server.
    if locked_for(session):
        session.flash("error", "Too many failed sign-ins: this form is closed for a while.")
        return see_other("/signin")
    if not password_ok(username, password):
        session["failed_sign_ins"] = [*recent_failures(session), int(time.time())]
        left = MAX_FAILURES - len(session["failed_sign_ins"])
        session.flash("error", f"Wrong name or password. Tries left: {left}.")
        return see_other("/signin")

    old_id = session.id
    # A new id at sign-in, data kept: an id that someone planted or saw before the sign-in is
    # worthless after it (session fixation).
    session.regenerate()
    session.pop("failed_sign_ins", None)
    session["user"] = username
    if request.app.state.session_store is not None:
        # Listed on the members' page, and ended by "sign out other devices" (or by a
        # password change in a real app). Cookie sessions have no server record to end.
        session.bind_user(username, user_agent=request.headers.get("user-agent"))
    session["signed_in_at"] = int(time.time())
    new_id = short(session.id)
    session.flash("success", f"Welcome, {username}! New session id: {short(old_id)} → {new_id}")
    # Back to the page that sent the user here. Kept in the session, not in the URL, so that
    # nobody can send a link that signs in and then redirects to their own site.
    return see_other(session.pop("after_sign_in", "/members"))


@router.post("/signout")
async def sign_out(session: SessionDep) -> RedirectResponse:
    prefs = session.get("prefs")
    old_id = session.id
    # invalidate() deletes everything (and the store record, with a store) and the cookie.
    # What is written after it starts a new session under a new id: the kept preferences and the
    # flash, but nothing of the signed-in session.
    session.invalidate()
    if prefs:
        session["prefs"] = prefs
    session.flash("info", f"Signed out: session {short(old_id)} has ended.")
    return see_other("/")


@router.get("/members", response_model=None)
async def members(request: Request, session: SessionDep) -> HTMLResponse | RedirectResponse:
    if "user" not in session:
        session["after_sign_in"] = "/members"
        session.flash("info", "The members' page is for signed-in users: please sign in.")
        return see_other("/signin")
    store = request.app.state.session_store
    devices = None if store is None else await store.sessions_for_user(session["user"])
    return render(request, session, "members.html", devices=devices, current=session.id)


@router.post("/signout-others")
async def sign_out_others(request: Request, session: SessionDep) -> RedirectResponse:
    store = request.app.state.session_store
    if "user" not in session or store is None:
        return see_other("/members")
    # Every other session of this user ends now: each browser is signed out at its next request.
    # A real app does this after a password change too.
    ended = await store.invalidate_user(session["user"], except_id=session.id)
    session.flash("success", f"Signed out {ended} other device{'s' if ended != 1 else ''}.")
    return see_other("/members")
