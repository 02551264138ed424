"""The shop's settings, read from the environment once, at start."""

from __future__ import annotations

import os

# Whoever has the secret can forge sessions: it comes from the environment, never the source.
SESSION_SECRET = os.environ["SESSION_SECRET"]
# Where sessions live: "cookie" (no server needed), "memory", "redis" or "postgres".
STORE = os.environ.get("SCSESSION_STORE", "cookie")
# The store's server; empty: the one `make demo STORE=...` starts on this machine.
STORE_URL = os.environ.get("SCSESSION_STORE_URL", "")

MAX_AGE = 8 * 3600  # a session ends 8 hours after it started, however active
IDLE_TIMEOUT = 30 * 60  # ... or after 30 minutes without a visit
