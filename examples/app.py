"""scsession demo: sign in, count visits, flash messages, sign out.

`make demo` runs it. By hand:
    SESSION_SECRET=$(python -m scsession keygen) uvicorn --app-dir examples app:app
and open http://127.0.0.1:8000/.
"""

import os
from html import escape
from typing import Annotated

from fastapi import FastAPI, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from scsession import SCsessionMiddleware
from scsession.fastapi import SessionDep

app = FastAPI()
# The secret comes from the environment, never from the source: whoever has it can forge sessions.
# The cookie keeps its defaults, Secure included, even over plain http here: Chromium and Firefox
# treat 127.0.0.1 and localhost as secure contexts and keep Secure cookies there (a made-up host
# name over http would lose the cookie). SameSite=Lax keeps it off other sites' POSTs, so another
# site cannot submit the logout form for you; a real app would add CSRF tokens as well.
app.add_middleware(SCsessionMiddleware, secret_key=os.environ["SESSION_SECRET"])

LOGIN_FORM = """<form method="post" action="/login">
  <input name="username" placeholder="any name" required maxlength="40" autofocus>
  <button>Sign in</button>
</form>"""
LOGOUT_FORM = """<form method="post" action="/logout"><button>Sign out</button></form>"""


@app.get("/", response_class=HTMLResponse)
async def home(session: SessionDep) -> str:
    # Every visit changes the session, so every response carries a freshly sealed cookie.
    session["visits"] = session.get("visits", 0) + 1
    # flashes() returns the pending messages and removes them: each one shows exactly once.
    flashes = "".join(f"<p><b>{escape(f.message)}</b></p>" for f in session.flashes())
    user = session.get("user")
    # The id is None until the response that first saves the session has been sent.
    sid = f"{session.id[:8]}…" if session.id else "(not saved yet)"
    # User input goes through escape(): a name like <script> must show as text.
    who = f"Signed in as <b>{escape(user)}</b>. {LOGOUT_FORM}" if user else LOGIN_FORM
    return f"""<!doctype html><title>scsession demo</title>
<h1>scsession demo</h1>
{flashes}<p>{who}</p>
<p>Visits in this session: {session["visits"]}. Session id: <code>{sid}</code></p>"""


@app.post("/login")
async def login(
    session: SessionDep, username: Annotated[str, Form(min_length=1, max_length=40)]
) -> RedirectResponse:
    # A new id at sign-in: an id that someone planted or saw before the login is worth nothing
    # after it (session fixation). The data, visit count included, is kept.
    session.regenerate()
    session["user"] = username
    session.flash("info", f"Welcome back, {username}!")
    # 303: the browser follows with a GET, so reloading the page does not post the form again.
    return RedirectResponse("/", status_code=303)


@app.post("/logout")
async def logout(session: SessionDep) -> RedirectResponse:
    # invalidate() drops everything; what is written after it (the flash) starts a new session
    # under a new id, so nothing from the signed-in session survives.
    session.invalidate()
    session.flash("info", "Signed out")
    return RedirectResponse("/", status_code=303)
