"""``purge`` and ``stats``: store URLs on the command line."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
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
