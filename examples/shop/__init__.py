"""The scsession example shop: what people use sessions for, in real pages.

Sign-in and sign-out, a members-only page, a cart, preferences, flash messages, a limit on
failed sign-ins and a panel that shows the session itself. `make demo` serves it on
http://127.0.0.1:8000/ with cookie sessions; `make demo STORE=memory` (or redis, postgres) keeps
them on the server. By hand, from the repository root:

    SESSION_SECRET=$(python -m scsession keygen) uvicorn --app-dir examples shop.app:app

Files: app.py (the middleware and the store), account.py (sign-in, sign-out, members),
cart.py (the products and the cart), prefs.py (theme and language), pages.py (what every page
shows, the session panel included).
"""
