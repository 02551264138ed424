"""The one place scsession reads the time, so tests can move it.

The middleware calls ``_clock.now()`` through the module at each use, so
``monkeypatch.setattr("scsession._clock.now", lambda: t)`` travels in time.
"""

from __future__ import annotations

import time


def now() -> int:
    """Unix time in whole seconds."""
    return int(time.time())
