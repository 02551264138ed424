"""``python -m scsession``: the command line (see :mod:`scsession.cli`)."""

from __future__ import annotations

import sys

from scsession.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
