"""The shop's app: the session middleware, the store it uses, and the pages (one module each)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from scsession import MemoryStore, RedisStore, SCsessionMiddleware, SessionStore, SQLStore

from . import account, cart, prefs, settings


def make_store(kind: str, url: str) -> SessionStore | None:
    """The store for SCSESSION_STORE; None keeps the whole session in the cookie.

    An empty url means the server `make demo STORE=...` starts on this machine
    (examples/shop/start_store.sh).
    """
    if kind == "cookie":
        return None  # the session is encrypted into the cookie itself
    if kind == "memory":
        return MemoryStore()  # in this process: one worker only, emptied by a restart
    if kind == "redis":
        # Shared by every worker and every server of the app; Redis expires old sessions itself.
        return RedisStore(url or "redis://127.0.0.1:6379/0")
    if kind == "postgres":
        # Its table (scsession_sessions) is created on first use. Expired rows stay until
        # deleted: run `python -m scsession purge URL` from cron (or SQLStore.purge_expired()).
        return SQLStore(url or "postgresql://postgres@127.0.0.1:5432/postgres")
    raise SystemExit(f"SCSESSION_STORE must be cookie, memory, redis or postgres, not {kind!r}")


app = FastAPI(title="scsession shop")
# Kept on the app too, for the members' page: it lists a user's sessions and ends the others.
app.state.session_store = make_store(settings.STORE, settings.STORE_URL)
app.add_middleware(
    SCsessionMiddleware,
    secret_key=settings.SESSION_SECRET,
    store=app.state.session_store,
    max_age=settings.MAX_AGE,
    idle_timeout=settings.IDLE_TIMEOUT,
    # cookie_https_only stays True (Secure) although the demo serves plain http: browsers treat
    # 127.0.0.1 and localhost as secure and keep Secure cookies there (tests/browser/ checks it).
    # False would let the cookie travel unencrypted, for anyone on the network to copy: only
    # ever for local development under another host name, never in production.
)
app.include_router(cart.router)
app.include_router(account.router)
app.include_router(prefs.router)
app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
