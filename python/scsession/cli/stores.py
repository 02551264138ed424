"""``purge`` and ``stats``: store URLs from the command line, a file or the environment."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from scsession.cli.errors import UsageError

T = TypeVar("T")

DEFAULT_TABLE = "scsession_sessions"
DEFAULT_PREFIX = "scsession:"

SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")
REDIS_SCHEMES = ("redis", "rediss")
MEMCACHED_SCHEMES = ("memcache", "memcached")
KNOWN_URLS = (
    "postgresql://, mysql:// (MariaDB too), sqlite:///path, redis://, rediss:// or memcache://"
)
#: Where ``purge`` and ``stats`` find the store URL when none is given.
STORE_URL_ENV = "SCSESSION_STORE_URL"
SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,19}")


def scheme_of(url: str) -> str | None:
    """The scheme of ``url`` (``"redis"``), or ``None`` when it has none."""
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator and SCHEME.fullmatch(scheme.lower()) else None


def store_kind(url: str) -> str:
    """``"sql"``, ``"redis"`` or ``"memcached"`` for a store URL; UsageError for another one.
    The message shows the scheme and nothing else of the URL: the rest may hold a password."""
    scheme = scheme_of(url)
    if scheme in SQL_SCHEMES:
        return "sql"
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme in MEMCACHED_SCHEMES:
        return "memcached"
    if scheme is None:
        raise UsageError(
            f"the store URL has no scheme (such as postgresql:// or redis://): use {KNOWN_URLS}"
        )
    raise UsageError(f"{scheme}: is not a store URL scsession knows: use {KNOWN_URLS}")


def store_url(args: argparse.Namespace) -> str:
    """The store URL of ``purge`` or ``stats``: the argument, else the first line of
    ``--store-url-file``, else ``$SCSESSION_STORE_URL``. UsageError when there is none, or
    two; no message shows any of the URL."""
    given: str | None = args.url
    path: str | None = args.store_url_file
    if given is not None and path is not None:
        raise UsageError("give the store URL once: as STORE_URL or with --store-url-file")
    if given is not None:
        return given
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot read --store-url-file {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--store-url-file {path} is not UTF-8 text") from None
        lines = text.splitlines()
        url = lines[0].strip() if lines else ""
        if not url:
            raise UsageError(f"the first line of --store-url-file {path} is empty")
        return url
    url = os.environ.get(STORE_URL_ENV, "").strip()
    if not url:
        raise UsageError(
            f"no store URL: give STORE_URL, --store-url-file PATH, or set {STORE_URL_ENV}"
        )
    return url


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
        return f"nothing to purge: {scheme_of(url)} expires sessions by itself"
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


def stats(args: argparse.Namespace, url: str) -> tuple[str, dict[str, Any]]:
    """Counts the sessions of the store at ``url``: ``(sentence, report)``."""
    store = open_store(args, url)
    kind = store_kind(url)
    if kind == "sql":
        found = run(store.stats)
        live, expired, table_bytes = found.live, found.expired, found.table_bytes
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
        cluster = is_cluster(url, args.cluster)
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
