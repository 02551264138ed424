"""The shop's app: the session middleware, the store it uses, and the pages (one module each)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from scsession import MemoryStore, SCsessionMiddleware, SessionStore

from . import account, cart, prefs, settings


def make_store(kind: str, url: str) -> SessionStore | None:
    """The store for SCSESSION_STORE; None keeps the whole session in the cookie."""
    if kind == "cookie":
        return None  # the session is encrypted into the cookie itself
    if kind == "memory":
        return MemoryStore()  # in this process: one worker only, emptied by a restart
    # Imported here, so that the cookie and memory modes need nothing more.
    if kind == "redis":
        from scsession import RedisStore

        return RedisStore(url or "redis://127.0.0.1:6379/0")
    if kind == "postgres":
        from scsession import SQLStore

        return SQLStore(url or "postgresql://postgres@127.0.0.1:5432/postgres")
    raise SystemExit(f"SCSESSION_STORE must be cookie, memory, redis or postgres, not {kind!r}")


app = FastAPI(title="scsession shop")
app.add_middleware(
    SCsessionMiddleware,
    secret_key=settings.SESSION_SECRET,
    store=make_store(settings.STORE, settings.STORE_URL),
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
