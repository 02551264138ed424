"""``python -m scsession``: the command line: ``keygen`` and ``purge``.

Exit codes: 0 done, 1 the store failed (the message says why), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import sys

from scsession.exceptions import StoreError

__all__ = ["main"]


def keygen() -> str:
    """A new secret key: 32 bytes from the OS CSPRNG, base64url without padding (43 chars)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


#: URL schemes whose stores forget expired sessions by themselves.
_SELF_EXPIRING = ("redis", "rediss", "memcache", "memcached")
_SQL = ("postgres", "postgresql", "mysql", "mariadb", "sqlite")


def purge(url: str, table: str) -> str:
    """Deletes expired sessions from the store at ``url``; returns what was done, in words."""
    from scsession import SQLStore, _core  # the extension only when a store is needed

    scheme = url.split(":", 1)[0].lower()
    if scheme in _SELF_EXPIRING:
        return f"nothing to purge: {scheme} expires sessions by itself"
    if scheme not in _SQL:
        raise ValueError(
            f"{scheme}: is not a store URL scsession knows (postgresql://, mysql://, "
            "sqlite:///path, redis://, memcache://)"
        )
    store = SQLStore(url, table=table)

    async def run() -> int:
        return await store.purge_expired()

    try:
        deleted = asyncio.run(run())
    finally:
        _core.shutdown_runtime()
    return f"deleted {deleted} expired session{'s' if deleted != 1 else ''} from {table}"


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
    purging = commands.add_parser(
        "purge",
        help="delete expired sessions from a SQL store (for cron)",
        description="Delete the rows of expired sessions from a SQLStore's table. Redis and "
        "Memcached expire sessions themselves: for them this does nothing.",
        epilog="example: python -m scsession purge postgresql://app@db/app --table sessions",
    )
    purging.add_argument("url", help="the store URL, as given to SQLStore")
    purging.add_argument("--table", default="scsession_sessions", help="the sessions table")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        print(keygen())
    elif args.command == "purge":
        try:
            print(purge(args.url, args.table))
        except ValueError as error:
            parser.error(str(error))
        except StoreError as error:
            print(f"scsession purge: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
