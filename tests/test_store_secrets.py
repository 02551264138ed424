"""No store shows its password: not in an exception, a repr or a log line, on any error path.

Generated passwords often hold `/`, `?`, `#`, `@` and `:`, which end parts of a URL: written
into a URL as they are, they break it (and a driver may quote what it made of the pieces);
percent-encoded, they reach the server. Every built-in store is built here with such a
password, both ways, against real servers (tests/servers.py) and against nothing, with wrong
ports, wrong credentials and bad options, and everything a user could see is searched for the
password in every form.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypedDict

import pytest

from scsession import MemcachedStore, RedisStore, SQLStore, StoreError
from scsession.testing import Browser

from .servers import (
    MariaDBServer,
    MemcachedServer,
    PostgresServer,
    RedisCluster,
    RedisServer,
    redis_command,
)
from .support import NASTY_PASSWORD, NASTY_PASSWORD_ENCODED, assert_no_password

PASSWORD, ENCODED = NASTY_PASSWORD, NASTY_PASSWORD_ENCODED
#: The password a server with one is given (never what the tests send).
RIGHT_PASSWORD = "right-Pass-1"


def shown(error: BaseException) -> str:
    """Everything an exception shows: its message, repr and formatted traceback (chained
    causes included)."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


async def use(store: Any) -> list[BaseException]:
    """The errors of a request through the middleware that saves a session, of a count and of
    a per-user listing (each connects first)."""
    errors: list[BaseException] = []
    for step in (
        lambda: Browser(store).get("/set?user=ada"),
        lambda: store.count(),
        lambda: store.sessions_for_user("ada"),
    ):
        try:
            await step()
        except Exception as error:
            errors.append(error)
    return errors


def failure(build: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> str:
    """What a user sees of a store built by `build` that fails: the construction error, or the
    store's repr and the errors of using it. Asserts that there is an error, and that nothing
    shown, nor any log line, holds the password."""
    caplog.set_level(logging.DEBUG)
    try:
        store = build()
    except (ValueError, OSError, StoreError) as error:
        text = shown(error)
    else:
        errors = asyncio.run(use(store))
        assert errors, f"{store!r} worked"
        assert all(isinstance(e, StoreError) for e in errors), errors
        text = "\n".join([repr(store), *map(shown, errors)])
    assert_no_password(text)
    assert_no_password(caplog.text)
    return text


def url_forms() -> list[str]:
    return ["raw", "encoded"]


@pytest.fixture(params=url_forms())
def password(request: pytest.FixtureRequest) -> str:
    """The password as it goes into the URL: as it is, or percent-encoded."""
    return PASSWORD if request.param == "raw" else ENCODED


def says(text: str, *parts: str) -> None:
    """The message names the store (its URL, password masked) and the cause."""
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


class Timeouts(TypedDict):
    connect_timeout: float
    timeout: float


FAST: Timeouts = {"connect_timeout": 1.0, "timeout": 2.0}


# --- Redis ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_with_password() -> Iterator[RedisServer]:
    """A redis-server of its own that wants RIGHT_PASSWORD."""
    with RedisServer() as server:
        redis_command(server.port, "CONFIG", "SET", "requirepass", RIGHT_PASSWORD)
        yield server


def test_redis_with_a_password_nobody_asked_for(
    redis_server: RedisServer, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://:{password}@127.0.0.1:{redis_server.port}/0"
    text = failure(lambda: RedisStore(url, **FAST), caplog)
    says(text, f"redis://:***@127.0.0.1:{redis_server.port}/0")
    if password == PASSWORD:
        says(text, "is not a Redis URL", "percent-encode")
    else:
        says(text, "Password authentication failed")


def test_redis_with_the_wrong_password(
    redis_with_password: RedisServer, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = redis_with_password.port
    for user in ("", "default", "someone"):
        url = f"redis://{user}:{password}@127.0.0.1:{port}/0"
        text = failure(partial(RedisStore, url, **FAST), caplog)
        says(text, f"redis://{user}:***@127.0.0.1:{port}/0")
    # The right password works (the server really checks).
    right = RedisStore(f"redis://:{RIGHT_PASSWORD}@127.0.0.1:{port}/0")
    assert asyncio.run(use(right)) == []


def test_redis_on_a_port_where_nothing_listens(
    password: str, caplog: pytest.LogCaptureFixture
) -> None:
    for url in (f"redis://:{password}@127.0.0.1:1/0", f"rediss://u:{password}@127.0.0.1:1/0"):
        text = failure(partial(RedisStore, url, **FAST), caplog)
        says(text, ":***@127.0.0.1:1/0")


def test_redis_tls_to_a_plain_server(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"rediss://:{ENCODED}@127.0.0.1:{redis_server.port}/0"
    text = failure(lambda: RedisStore(url, **FAST), caplog)
    says(text, f"rediss://:***@127.0.0.1:{redis_server.port}/0", "is unavailable")


def test_redis_bad_urls_and_options(password: str, caplog: pytest.LogCaptureFixture) -> None:
    for build in (
        lambda: RedisStore(f"http://:{password}@127.0.0.1:6379/0"),
        lambda: RedisStore(f"redis://:{password}@127.0.0.1:notaport/0"),
        lambda: RedisStore(f"redis://:{password}@127.0.0.1:6379/0", tls_ca_file=__file__),
        lambda: RedisStore(f"redis://:{password}@127.0.0.1:6379/0", connect_timeout=0),
        lambda: RedisStore(f"redis://:{password}@127.0.0.1:6379/0", timeout=-1),
        lambda: RedisStore(f"redis://:{password}@127.0.0.1:6379/0", tls_ca_file="/nonexistent"),
        lambda: RedisStore(f"redis://127.0.0.1:6379/0?password={password}&db=x"),
    ):
        failure(build, caplog)


def test_redis_cluster(
    redis_cluster: RedisCluster, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    nodes = ",".join(f"127.0.0.1:{port}" for port in redis_cluster.ports)
    text = failure(lambda: RedisStore(f"redis://:{password}@{nodes}", cluster=True, **FAST), caplog)
    says(text, "redis://:***@127.0.0.1:")
    for url in (
        f"redis://:{password}@127.0.0.1:1,127.0.0.1:2",  # nothing listens there
        f"redis://user:{password}@{nodes}/0",
        f"redis://:{password}@,",
    ):
        failure(partial(RedisStore, url, cluster=True, **FAST), caplog)


# --- Memcached --------------------------------------------------------------------------------


def test_memcached(
    memcached_server: MemcachedServer, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = memcached_server.port
    for url in (
        f"memcache://u:{password}@127.0.0.1:{port}",  # memcached has no passwords
        f"memcache://127.0.0.1:{port}?password={password}",
        f"memcached://:{password}@127.0.0.1:1",
    ):
        text = failure(partial(MemcachedStore, url, **FAST), caplog)
        says(text, "is not a Memcached URL", "***")
    failure(lambda: MemcachedStore(f"memcache://u:{password}@h:1", prefix="bad prefix"), caplog)
    # Nothing listens on port 1: an outage, named.
    text = failure(lambda: MemcachedStore("memcache://127.0.0.1:1", **FAST), caplog)
    says(text, "memcache://127.0.0.1:1 is unavailable")


# --- SQL --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_role(postgres_server: PostgresServer) -> str:
    """A role that must log in with RIGHT_PASSWORD (the server trusts everyone else)."""
    role = f"pw_{uuid.uuid4().hex[:8]}"
    postgres_server.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{RIGHT_PASSWORD}'")
    postgres_server.psql(f"GRANT ALL ON DATABASE scsession TO {role}")
    postgres_server.psql(f"GRANT ALL ON SCHEMA public TO {role}")
    hba = postgres_server.data_dir / "pg_hba.conf"
    rule = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
    hba.write_text(rule + hba.read_text())  # first match wins: before the trust lines
    postgres_server.psql("SELECT pg_reload_conf()")
    return role


def test_postgres(
    postgres_server: PostgresServer,
    postgres_role: str,
    password: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = postgres_server.port
    base = f"127.0.0.1:{port}/scsession"
    text = failure(lambda: SQLStore(f"postgresql://{postgres_role}:{password}@{base}"), caplog)
    says(text, f"postgresql://{postgres_role}:***@{base}")
    if password == ENCODED:
        says(text, "password authentication failed")
    for url in (
        f"postgres://{postgres_role}:{password}@127.0.0.1:1/scsession",  # nothing listens
        f"postgresql://nobody:{password}@{base}",  # no such role
        f"postgresql://{postgres_role}:{password}@{base}?sslmode=bogus",
        f"postgresql://{postgres_role}:{password}@{base}?sslmode=require",  # no TLS there
        f"postgresql://{postgres_role}@{base}?password={password}&sslmode=bogus",
        f"postgresql://{postgres_role}@{base}?sslmode=disable&password={password}",
    ):
        failure(partial(SQLStore, url, **FAST), caplog)
    failure(lambda: SQLStore(f"postgresql://u:{password}@{base}", table="no;"), caplog)
    # The right password works (the server really checks).
    right = SQLStore(f"postgresql://{postgres_role}:{RIGHT_PASSWORD}@{base}", table="t_secrets")
    assert asyncio.run(use(right)) == []


def test_mysql(
    mariadb_server: MariaDBServer, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    base = f"127.0.0.1:{mariadb_server.port}/scsession"
    text = failure(lambda: SQLStore(f"mysql://scsession:{password}@{base}", **FAST), caplog)
    says(text, f"mysql://scsession:***@{base}")
    if password == ENCODED:
        says(text, "Access denied")
    for url in (
        f"mariadb://scsession:{password}@127.0.0.1:1/scsession",  # nothing listens
        f"mysql://scsession:{password}@{base}?ssl-mode=bogus",
        f"mysql://scsession:{password}@{base}?ssl-mode=required",  # no TLS there
        f"mysql://scsession@{base}?password={password}",
        f"oracle://scsession:{password}@{base}",
    ):
        failure(partial(SQLStore, url, **FAST), caplog)


def test_sqlite(tmp_path: Path, password: str, caplog: pytest.LogCaptureFixture) -> None:
    for url in (
        f"sqlite://u:{password}@/{tmp_path}/s.db",
        f"sqlite:///{tmp_path}/s.db?password={password}",
        f"sqlite:///nonexistent/dir/s.db?mode=rwc&password={password}",
        f"sqlite:///{tmp_path}/s.db?mode=bogus&password={password}",
    ):
        failure(partial(SQLStore, url, **FAST), caplog)
