"""What the command line's failures are, and the exit code of each."""

from __future__ import annotations

EXIT_OK, EXIT_STORE, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3

EXIT_CODES = """\
exit codes:
  0  done (inspect: the cookie opened and its session is live)
  1  the store failed (the message says why)
  2  bad arguments, or no key to inspect with
  3  inspect: the cookie does not open, or its session has expired (stderr says why)"""


class UsageError(Exception):
    """Bad arguments: exit 2 with the message."""


class Refused(Exception):
    """The cookie does not open or its session has expired: exit 3 with the message."""
