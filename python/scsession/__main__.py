"""``python -m scsession``: the command line (``keygen`` for now)."""

from __future__ import annotations

import argparse
import base64
import secrets
import sys

__all__ = ["main"]


def keygen() -> str:
    """A new secret key: 32 bytes from the OS CSPRNG, base64url without padding (43 chars)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scsession",
        description="Tools for scsession sessions.",
        epilog="example: SESSION_SECRET=$(python -m scsession keygen)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "keygen",
        help="print a new random secret key",
        description="Print a new random secret key (32 bytes, base64url).",
        epilog="example: export SESSION_SECRET=$(python -m scsession keygen)",
    )
    args = parser.parse_args(argv)
    if args.command == "keygen":
        print(keygen())
    return 0


if __name__ == "__main__":
    sys.exit(main())
