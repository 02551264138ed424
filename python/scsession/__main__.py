"""``python -m scsession`` (or the ``scsession`` script): the command line.

- ``keygen``: print a new random secret key.
- ``inspect COOKIE``: open a session cookie with the app's key and print what it holds as JSON,
  or say exactly why it does not open (another key, tampered with, another cookie name, not an
  scsession cookie) or why its session has expired. A diagnostic for people holding the key:
  the app itself never tells a client why a cookie was refused.
- ``purge STORE_URL``: delete expired sessions from a SQL store (for cron).
- ``stats STORE_URL``: count the live sessions of a store (SQL: and the table's size).

Exit codes, for scripts:

- 0: done (``inspect``: the cookie opened and its session is live);
- 1: the store failed (the message names it, password masked, and the cause);
- 2: bad arguments, or no key to inspect with;
- 3: ``inspect``: the cookie does not open, or its session has expired (stderr says why).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import decimal
import json
import math
import os
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from scsession.exceptions import StoreError

if TYPE_CHECKING:
    from scsession import _core

__all__ = ["main"]

T = TypeVar("T")

EXIT_OK, EXIT_STORE, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3

EXIT_CODES = """\
exit codes:
  0  done (inspect: the cookie opened and its session is live)
  1  the store failed (the message says why)
  2  bad arguments, or no key to inspect with
  3  inspect: the cookie does not open, or its session has expired (stderr says why)"""

#: The middleware's defaults, which `inspect` assumes unless told otherwise.
DEFAULT_COOKIE_NAME = "session"
DEFAULT_MAX_AGE = 1209600
DEFAULT_TABLE = "scsession_sessions"
DEFAULT_PREFIX = "scsession:"

SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")
REDIS_SCHEMES = ("redis", "rediss")
MEMCACHED_SCHEMES = ("memcache", "memcached")
KNOWN_URLS = (
    "postgresql://, mysql:// (MariaDB too), sqlite:///path, redis://, rediss:// or memcache://"
)


class UsageError(Exception):
    """Bad arguments: exit 2 with the message."""


class Refused(Exception):
    """The cookie does not open or its session has expired: exit 3 with the message."""


def keygen() -> str:
    """A new secret key: 32 bytes from the OS CSPRNG, base64url without padding (43 chars)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


# --- stores ------------------------------------------------------------------------------------


def store_kind(url: str) -> str:
    """``"sql"``, ``"redis"`` or ``"memcached"`` for a store URL; UsageError for another one."""
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme in SQL_SCHEMES:
        return "sql"
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme in MEMCACHED_SCHEMES:
        return "memcached"
    shown = f"{scheme}:" if scheme else repr(url.split("/", 1)[0][:20])
    raise UsageError(f"{shown} is not a store URL scsession knows: use {KNOWN_URLS}")


def is_cluster(url: str, cluster: bool) -> bool:
    """A Redis URL names a cluster with --cluster, or when it lists several nodes."""
    return cluster or "," in url


def open_store(args: argparse.Namespace, url: str) -> Any:
    """The store at ``url`` with the options of ``args``; UsageError for a bad URL or option."""
    from scsession import MemcachedStore, RedisStore, SQLStore

    kind = store_kind(url)
    try:
        if kind == "sql":
            return SQLStore(url, table=args.table)
        if kind == "redis":
            return RedisStore(
                url,
                cluster=is_cluster(url, args.cluster),
                prefix=args.prefix,
                tls_ca_file=args.tls_ca_file,
            )
        return MemcachedStore(url, prefix=args.prefix)
    except (ValueError, OSError) as error:
        raise UsageError(str(error)) from error


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Runs a store coroutine to its end, then stops the store's I/O threads."""
    from scsession import _core

    async def main() -> T:
        return await work()

    try:
        return asyncio.run(main())
    finally:
        _core.shutdown_runtime()


# --- purge -------------------------------------------------------------------------------------


def purge(url: str, table: str) -> str:
    """Deletes expired sessions from the store at ``url``; returns what was done, in words."""
    from scsession import SQLStore

    kind = store_kind(url)
    if kind != "sql":
        return f"nothing to purge: {url.split(':', 1)[0]} expires sessions by itself"
    try:
        store = SQLStore(url, table=table)
    except ValueError as error:
        raise UsageError(str(error)) from error
    deleted = run(store.purge_expired)
    return f"deleted {deleted} expired session{plural(deleted)} from {table}"


# --- stats -------------------------------------------------------------------------------------


def plural(n: int, word: str = "") -> str:
    return word + ("" if n == 1 else "s")


def size(n: int) -> str:
    """Bytes for people: ``48 KiB``."""
    if n < 1024:
        return f"{n} bytes"
    amount = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        amount /= 1024
        if amount < 1024 or unit == "TiB":
            break
    return f"{amount:.0f} {unit}" if amount >= 10 else f"{amount:.1f} {unit}"


def stats(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Counts the sessions of the store of ``args.url``: ``(sentence, report)``."""
    store = open_store(args, args.url)
    kind = store_kind(args.url)
    if kind == "sql":
        live, expired, table_bytes = run(store.stats)
        report = {
            "store": "sql",
            "table": args.table,
            "live_sessions": live,
            "expired_rows": expired,
            "table_bytes": table_bytes,
            "approximate": False,
        }
        sentence = (
            f"{live} live {plural(live, 'session')} in {args.table} (table {size(table_bytes)}, "
            f"{expired} expired {plural(expired, 'row')} awaiting purge)"
        )
        return sentence, report
    live = run(store.count)
    if kind == "redis":
        cluster = is_cluster(args.url, args.cluster)
        where = "the Redis Cluster (every master)" if cluster else "Redis"
        report = {
            "store": "redis-cluster" if cluster else "redis",
            "prefix": args.prefix,
            "live_sessions": live,
            "approximate": False,
        }
        return f"{live} live {plural(live, 'session')} in {where} under {args.prefix}", report
    report = {
        "store": "memcached",
        "prefix": args.prefix,
        "live_sessions": live,
        "approximate": True,
    }
    sentence = (
        f"about {live} live {plural(live, 'session')} in Memcached under {args.prefix} "
        "(approximate: memcached cannot list its keys exactly; its LRU crawler counted them, "
        "and sessions written meanwhile may be missed)"
    )
    return sentence, report


# --- inspect -----------------------------------------------------------------------------------


def seconds_or_none(text: str) -> int | None:
    """An argparse type: a number of seconds (>= 0), or ``none`` for no limit."""
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (or none)")
    return value


def read_keys(secret_file: str | None) -> list[bytes]:
    """The key ring: the lines of ``secret_file``, else ``$SESSION_SECRET``. Never shown."""
    if secret_file is not None:
        try:
            text = Path(secret_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise UsageError(f"cannot read --secret-file {secret_file}: {reason}") from error
        keys = [line.strip() for line in text.splitlines() if line.strip()]
        if not keys:
            raise UsageError(
                f"--secret-file {secret_file} holds no key: write one key per line, the key "
                "that seals first"
            )
        return [key.encode() for key in keys]
    key = os.environ.get("SESSION_SECRET", "").strip()
    if not key:
        raise UsageError(
            "no key to open the cookie with: set SESSION_SECRET to the app's secret key, or "
            "pass --secret-file FILE (one key per line, the key that seals first)"
        )
    return [key.encode()]


def cookie_value(text: str, name: str, name_given: bool) -> tuple[str, str]:
    """``(cookie name, value)`` from what was pasted: the bare value, ``name=value``, or a whole
    ``Cookie:`` header (``a=1; session=...``)."""
    text = text.strip()
    for header in ("cookie:", "set-cookie:"):
        if text.lower().startswith(header):
            text = text[len(header) :].strip()
    pairs = []
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key and all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in key):
            pairs.append((key, value.strip().strip('"')))
    wanted = [value for key, value in pairs if key == name]
    if wanted:
        return name, wanted[0]
    if len(pairs) == 1 and ";" not in text and not name_given:
        # `sid=...` as copied from the browser: the cookie's own name (bound into the seal).
        key, value = pairs[0]
        if value and all(c.isalnum() or c in "-_" for c in value) and len(value) >= 43:
            return key, value
    if len(pairs) > 1 or ";" in text:
        found = ", ".join(key for key, _ in pairs) or "none"
        raise UsageError(
            f'no cookie named "{name}" in what was given (cookies found: {found}); '
            "name the session cookie with --cookie-name"
        )
    return name, text.strip('"')


def utc(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """Session data as JSON: bytes, dates, sets, UUIDs and decimals become readable strings and
    lists; dict keys become strings."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in sorted(value, key=repr)]
    if isinstance(value, bytes):
        return repr(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def expiry_reason(why: tuple[str, int | None, int], created: int) -> str:
    kind, limit, at = why
    if kind == "max_age":
        return (
            f"its maximum age of {limit} s (--max-age) from its creation at {utc(created)} ran "
            f"out at {utc(at)}"
        )
    if kind == "idle_timeout":
        return f"it was idle for {limit} s (--idle-timeout) at {utc(at)}"
    return (
        f"its timestamp {utc(at)} lies in the future: forged, or this machine's clock is behind "
        "the server's"
    )


def inspect(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """Opens the cookie of ``args``: ``(report, why it expired or None)``. Refused when it does
    not open, UsageError for bad arguments."""
    from scsession import _core

    keys = read_keys(args.secret_file)
    pasted = sys.stdin.read() if args.cookie == "-" else args.cookie
    name, value = cookie_value(
        pasted, args.cookie_name or DEFAULT_COOKIE_NAME, args.cookie_name is not None
    )
    if not value:
        raise UsageError("the cookie value is empty")
    try:
        sealer = _core.Sealer(keys, name, args.max_age, args.idle_timeout)
    except ValueError as error:
        raise UsageError(str(error)) from error
    try:
        kind, session_id, key_id, created, last_seen, data_bytes = sealer.inspect_cookie(value)
    except ValueError as error:
        raise Refused(f'the "{name}" cookie does not open: {error}') from error
    report: dict[str, Any] = {"cookie_name": name}
    if kind == "signed id":
        report |= {"kind": "server-side session id", "id": session_id, "mac": "verified"}
        if args.store is None:
            return report, None
        key_id, created, last_seen, data_bytes = load_record(args, sealer, session_id)
        report["kind"] = "server-side session"
    else:
        report |= {"kind": "cookie session", "id": session_id}
    assert created is not None and last_seen is not None and data_bytes is not None
    try:
        data = _core.loads(data_bytes)
    except ValueError as error:
        raise Refused(f"the session opens, but its data does not decode: {error}") from error
    expires_at = sealer.expires_at(created, last_seen)
    why = sealer.why_expired(created, last_seen, int(time.time()))
    report |= {
        "key_id": key_id,
        "created": created,
        "created_utc": utc(created),
        "last_seen": last_seen,
        "last_seen_utc": utc(last_seen),
        "expires_at": expires_at,
        "expires_at_utc": utc(expires_at),
        "expired": why is not None,
        "data": jsonable(data),
    }
    return report, None if why is None else expiry_reason(why, created)


def load_record(
    args: argparse.Namespace, sealer: _core.Sealer, session_id: str
) -> tuple[str, int, int, bytes]:
    """The opened record of ``session_id`` from ``args.store``."""
    store = open_store(args, args.store)
    blob = run(lambda: store.load(session_id))
    if blob is None:
        raise Refused(
            f"the store has no live session {session_id}: it expired, was signed out, or is "
            "kept in another store, table or prefix (--table, --prefix)"
        )
    try:
        return sealer.inspect_record(session_id, blob)
    except ValueError as error:
        raise Refused(f"the stored session {session_id} does not open: {error}") from error


# --- the parser --------------------------------------------------------------------------------


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

exit codes: 0 opened and live, 3 does not open or expired (stderr says why),
2 bad arguments or no key, 1 the store failed (--store)""",
    )
    inspecting.add_argument("cookie", help="the cookie: VALUE, NAME=VALUE, a Cookie header, or -")
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
        description="Delete the rows of expired sessions from a SQLStore's table. Redis and "
        "Memcached expire sessions themselves: for them this does nothing.",
        formatter_class=raw,
        epilog="""\
examples:
  python -m scsession purge postgresql://app@db/app --table sessions
  python -m scsession purge sqlite:///var/lib/app/sessions.db

exit codes: 0 done, 1 the store failed, 2 bad arguments""",
    )
    purging.add_argument("url", help="the store URL, as given to SQLStore")
    purging.add_argument("--table", default=DEFAULT_TABLE, help="the sessions table")

    counting = commands.add_parser(
        "stats",
        help="count the live sessions of a store (SQL: and the table's size)",
        description="""\
Count the live sessions of a store: SQL (and the table's size, and the expired rows that
`purge` would delete), Redis or a Redis Cluster (a SCAN of every master), Memcached (about:
memcached cannot list keys exactly, its LRU crawler lists them). Only session keys count:
the prefix and a session id.""",
        formatter_class=raw,
        epilog="""\
examples:
  python -m scsession stats postgresql://app@db/app
  python -m scsession stats redis://a:7000,b:7001,c:7002 --prefix app: --json
  python -m scsession stats memcache://127.0.0.1:11211

exit codes: 0 done, 1 the store failed, 2 bad arguments""",
    )
    counting.add_argument("url", help="the store URL, as given to the store class")
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
            print(purge(args.url, args.table))
        elif command == "stats":
            sentence, report = stats(args)
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


if __name__ == "__main__":
    sys.exit(main())
