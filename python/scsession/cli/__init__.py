"""``python -m scsession`` (or the ``scsession`` script): the command line.

- ``keygen``: print a new random secret key.
- ``inspect COOKIE``: open a session cookie with the app's key and print what it holds as JSON,
  or say exactly why it does not open (another key, tampered with, another cookie name, not an
  scsession cookie) or why its session has expired. A diagnostic for people holding the key:
  the app itself never tells a client why a cookie was refused.
- ``purge STORE_URL``: delete expired sessions from a SQL store (for cron).
- ``stats STORE_URL``: count the live sessions of a store (SQL: and the table's size).

``purge`` and ``stats`` read the store URL from ``--store-url-file PATH`` (its first line) or
``$SCSESSION_STORE_URL`` when it is not on the command line, where any user could read it (and
its password) in ``ps``.

Exit codes, for scripts:

- 0: done (``inspect``: the cookie opened and its session is live);
- 1: the store failed (the message names it, password masked, and the cause);
- 2: bad arguments, or no key to inspect with;
- 3: ``inspect``: the cookie does not open, or its session has expired (stderr says why).
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys

from scsession.cli.cookie import DEFAULT_COOKIE_NAME, DEFAULT_MAX_AGE, inspect, seconds_or_none
from scsession.cli.errors import (
    EXIT_CODES,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_STORE,
    Refused,
    UsageError,
)
from scsession.cli.stores import (
    DEFAULT_PREFIX,
    DEFAULT_TABLE,
    STORE_URL_ENV,
    purge,
    stats,
    store_url,
)
from scsession.exceptions import StoreError

__all__ = ["keygen", "main"]


def keygen() -> str:
    """A new secret key: 32 bytes from the OS CSPRNG, base64url without padding (43 chars)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table", default=DEFAULT_TABLE, help=f"SQL: the sessions table (default {DEFAULT_TABLE})"
    )
    parser.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"Redis, Memcached: the key prefix (default {DEFAULT_PREFIX})",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="Redis: the URL is a node of a Redis Cluster (implied when it lists several nodes)",
    )
    parser.add_argument(
        "--tls-ca-file",
        metavar="PEM",
        help="rediss://: the CA that signed the server's certificate",
    )


URL_HELP = f"""\
the store URL. On the command line it is visible to every user of the machine (ps,
/proc/PID/cmdline), password and all: prefer --store-url-file or ${STORE_URL_ENV}"""

WHERE_THE_URL_COMES_FROM = f"""\
The store URL is STORE_URL, else the first line of --store-url-file PATH, else
${STORE_URL_ENV}. A URL on the command line, password included, is visible to every
user of the machine in `ps`: put one with a password in a file only you can read, or in
the environment."""


def add_url_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", metavar="STORE_URL", help=URL_HELP)
    parser.add_argument(
        "--store-url-file",
        metavar="PATH",
        help=f"read the store URL from the first line of PATH (instead of STORE_URL or "
        f"${STORE_URL_ENV})",
    )


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="scsession",
        description="Tools for scsession sessions (also: python -m scsession).",
        formatter_class=raw,
        epilog=f"""\
examples:
  export SESSION_SECRET=$(python -m scsession keygen)
  python -m scsession inspect 'session=AQzE3f...'
  python -m scsession purge postgresql://app@db/app
  python -m scsession stats redis://cache:6379/0

{EXIT_CODES}""",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "keygen",
        help="print a new random secret key",
        description="Print a new random secret key (32 bytes from the OS, base64url).",
        formatter_class=raw,
        epilog="example:\n  export SESSION_SECRET=$(python -m scsession keygen)",
    )

    inspecting = commands.add_parser(
        "inspect",
        help="open a session cookie and print what it holds, or why it does not open",
        description="""\
Open a session cookie with the app's key (SESSION_SECRET, or --secret-file) and print its
session as JSON: id, timestamps (unix seconds and UTC), whether it has expired, and its data.
If it does not open, say exactly why: sealed under a key not given (its key id is shown),
tampered with or sealed for another cookie name, not an scsession cookie. A store-mode cookie
(the signed session id) is recognised; with --store its session is loaded and opened.

The cookie may be given bare, as name=value, or as a whole Cookie header, as copied from the
browser's developer tools; '-' reads it from stdin (keeps it out of the process list).
This is a tool for people who hold the key: the app never tells a client why a cookie failed.""",
        formatter_class=raw,
        epilog="""\
examples:
  SESSION_SECRET=... python -m scsession inspect 'session=AQzE3f...'
  python -m scsession inspect --secret-file keys.txt --cookie-name sid --max-age none - < cookie.txt
  python -m scsession inspect --store redis://cache:6379/0 'session=Yq3w...'
  python -m scsession inspect --store redis://cache:6379/0 -- '-Yq3w...'  # leading -

exit codes: 0 opened and live, 3 does not open or expired (stderr says why),
2 bad arguments or no key, 1 the store failed (--store)""",
    )
    inspecting.add_argument(
        "cookie",
        help="the cookie: VALUE, NAME=VALUE, a Cookie header, or - (a server-side session's "
        "VALUE may start with '-': pass NAME=VALUE, or -- before it)",
    )
    inspecting.add_argument(
        "--cookie-name",
        help=f"the cookie's name, bound into the seal (default {DEFAULT_COOKIE_NAME}, or the "
        "NAME of NAME=VALUE)",
    )
    inspecting.add_argument(
        "--secret-file",
        metavar="FILE",
        help="the keys, one per line, the key that seals first (default: $SESSION_SECRET)",
    )
    inspecting.add_argument(
        "--max-age",
        type=seconds_or_none,
        default=DEFAULT_MAX_AGE,
        metavar="SECONDS",
        help=f"the app's max_age, or none (default {DEFAULT_MAX_AGE}, the middleware's)",
    )
    inspecting.add_argument(
        "--idle-timeout",
        type=seconds_or_none,
        default=None,
        metavar="SECONDS",
        help="the app's idle_timeout, or none (default none)",
    )
    inspecting.add_argument(
        "--store", metavar="URL", help="load a store-mode cookie's session from this store"
    )
    add_store_options(inspecting)

    purging = commands.add_parser(
        "purge",
        help="delete expired sessions from a SQL store (for cron)",
        description=f"""\
Delete the rows of expired sessions from a SQLStore's table. Redis and Memcached expire
sessions themselves: for them this does nothing.

{WHERE_THE_URL_COMES_FROM}""",
        formatter_class=raw,
        epilog=f"""\
examples:
  python -m scsession purge postgresql://app@db/app --table sessions
  python -m scsession purge sqlite:///var/lib/app/sessions.db
  python -m scsession purge --store-url-file /etc/app/store-url     # URL with a password
  {STORE_URL_ENV}=postgresql://app:secret@db/app python -m scsession purge

exit codes: 0 done, 1 the store failed, 2 bad arguments""",
    )
    add_url_options(purging)
    purging.add_argument("--table", default=DEFAULT_TABLE, help="the sessions table")

    counting = commands.add_parser(
        "stats",
        help="count the live sessions of a store (SQL: and the table's size)",
        description=f"""\
Count the live sessions of a store: SQL (and the table's size, and the expired rows that
`purge` would delete), Redis or a Redis Cluster (a SCAN of every master), Memcached (about:
memcached cannot list keys exactly, its LRU crawler lists them). Only session keys count:
the prefix and a session id.

{WHERE_THE_URL_COMES_FROM}""",
        formatter_class=raw,
        epilog="""\
examples:
  python -m scsession stats postgresql://app@db/app
  python -m scsession stats redis://a:7000,b:7001,c:7002 --prefix app: --json
  python -m scsession stats memcache://127.0.0.1:11211
  python -m scsession stats --store-url-file /etc/app/store-url      # URL with a password

exit codes: 0 done, 1 the store failed, 2 bad arguments""",
    )
    add_url_options(counting)
    add_store_options(counting)
    counting.add_argument("--json", action="store_true", help="print a JSON object for scripts")
    return parser, {
        "inspect": inspecting,
        "purge": purging,
        "stats": counting,
    }


def main(argv: list[str] | None = None) -> int:
    parser, subparsers = build_parser()
    args = parser.parse_args(argv)
    command = args.command
    try:
        if command == "keygen":
            print(keygen())
        elif command == "purge":
            print(purge(store_url(args), args.table))
        elif command == "stats":
            sentence, report = stats(args, store_url(args))
            print(json.dumps(report) if args.json else sentence)
        elif command == "inspect":
            report, expired = inspect(args)
            print(json.dumps(report, indent=2, ensure_ascii=False))
            if expired is not None:
                print(f"scsession inspect: the session has expired: {expired}", file=sys.stderr)
                return EXIT_REFUSED
            if report["kind"] == "server-side session id":
                print(
                    "scsession inspect: a server-side session's cookie; its data is in the "
                    "store: add --store URL to load it",
                    file=sys.stderr,
                )
    except UsageError as error:
        subparsers[command].error(str(error))  # exits with 2
    except Refused as error:
        print(f"scsession {command}: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except StoreError as error:
        print(f"scsession {command}: {error}", file=sys.stderr)
        return EXIT_STORE
    return EXIT_OK
