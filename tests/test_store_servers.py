"""Every built-in store against a real server (started by the test run, never mocked or skipped):
the conformance suite, overlapping requests, sign-outs racing slow writes, and outages."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest

from scsession import (
    MemcachedStore,
    MemoryStore,
    RedisStore,
    SQLStore,
    StoreError,
)
from scsession._outage import PROBE_EVERY
from scsession.testing import Browser, StoreConformance, UserIndexConformance

from .support import DictStore, ReplaceStore

KINDS = ["memory", "sqlite", "redis", "cluster", "memcached", "postgres", "mysql"]
#: The races below run on every built-in store, on a store written in Python with `replace`
#: (tests/support.ReplaceStore), and on one with only load, save and delete (DictStore, whose
#: `replace` the middleware stands in for: within one process, the same guarantees).
RACE_KINDS = [*KINDS, "custom", "plain"]
#: The server fixture (tests/servers.py) of each networked kind.
SERVERS = {
    "redis": "redis_server",
    "cluster": "redis_cluster",
    "memcached": "memcached_server",
    "postgres": "postgres_server",
    "mysql": "mariadb_server",
}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Any]:
    """`make_store(**options)`: a new, empty store of this kind (its own key prefix or table)."""
    server = request.getfixturevalue(SERVERS[kind]) if kind in SERVERS else None
    unique = uuid.uuid4().hex[:12]

    def make(**options: Any) -> Any:
        if kind == "memory":
            return MemoryStore()
        if kind == "custom":
            return ReplaceStore()
        if kind == "plain":
            return DictStore()
        if kind == "sqlite":
            return SQLStore(f"sqlite:///{tmp_path}/sessions.db", table=f"t_{unique}", **options)
        assert server is not None, f"{kind} runs on a server"
        if kind in ("redis", "cluster"):
            return RedisStore(server.url, cluster=kind == "cluster", prefix=f"{unique}:", **options)
        if kind == "memcached":
            return MemcachedStore(server.url, prefix=f"{unique}:", **options)
        return SQLStore(server.url, table=f"t_{unique}", **options)

    return make


@pytest.fixture
def store(make_store: Callable[..., Any]) -> Any:
    return make_store()


class TestConformance(StoreConformance, UserIndexConformance):
    """scsession.testing's suites, on every built-in store."""


# -- overlapping requests ----------------------------------------------------------------------


class Gates:
    """An app whose requests can be held at a gate after changing the session: `/set?k=v&hold=g`
    sets k, says it arrived at gate g, and waits until the test opens g."""

    def __init__(self) -> None:
        self.arrived: dict[str, asyncio.Event] = {}
        self.open: dict[str, asyncio.Event] = {}

    def _events(self, gate: str) -> tuple[asyncio.Event, asyncio.Event]:
        return (
            self.arrived.setdefault(gate, asyncio.Event()),
            self.open.setdefault(gate, asyncio.Event()),
        )

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        session = scope["session"]
        query = dict(parse_qsl(scope["query_string"].decode()))
        gate = query.pop("hold", None)
        if scope["path"] == "/invalidate":
            session.invalidate()
        elif scope["path"] == "/regenerate":
            session.regenerate()
        elif scope["path"] == "/sign-in":  # as an app does it: a new id, then bind the user
            session.regenerate()
            session.bind_user(query.pop("user"))
        for key, value in query.items():
            session[key] = value
        if gate is not None:
            arrived, opened = self._events(gate)
            arrived.set()
            await opened.wait()
        body = json.dumps(dict(session)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async def held(self, browser: Browser, target: str, gate: str) -> asyncio.Task[Any]:
        """Starts `target` in the background and returns once it is waiting at `gate`."""
        task = asyncio.create_task(browser.get(f"{target}&hold={gate}"))
        await asyncio.wait_for(self._events(gate)[0].wait(), 10)
        return task

    def release(self, gate: str) -> None:
        self._events(gate)[1].set()


@pytest.mark.parametrize("kind", RACE_KINDS)
def test_overlapping_requests_that_change_different_keys_both_keep_their_changes(
    store: Any,
) -> None:
    async def story() -> None:
        gates = Gates()
        first = Browser(store, app=gates.app)
        await first.get("/set?cart=1&theme=light")
        second = Browser(store, first.cookie, app=gates.app)  # the same session, another tab
        slow = await gates.held(first, "/set?cart=2", "g")
        assert await second.get("/set?theme=dark") == {"cart": "1", "theme": "dark"}
        gates.release("g")
        await slow
        assert await Browser(store, first.cookie).get("/") == {"cart": "2", "theme": "dark"}

    asyncio.run(story())


@pytest.mark.parametrize("kind", RACE_KINDS)
def test_many_concurrent_writers_all_keep_their_changes(store: Any) -> None:
    async def story() -> None:
        gates = Gates()
        browser = Browser(store, app=gates.app)
        await browser.get("/set?start=1")
        tabs = [Browser(store, browser.cookie, app=gates.app) for _ in range(8)]
        held = [await gates.held(tab, f"/set?k{i}={i}", f"g{i}") for i, tab in enumerate(tabs)]
        for i in range(len(tabs)):
            gates.release(f"g{i}")
        await asyncio.gather(*held)
        expected = {"start": "1", **{f"k{i}": str(i) for i in range(len(tabs))}}
        assert await Browser(store, browser.cookie).get("/") == expected

    asyncio.run(story())


@pytest.mark.parametrize("kind", RACE_KINDS)
def test_a_sign_out_wins_over_a_slower_request(store: Any) -> None:
    async def story() -> None:
        gates = Gates()
        browser = Browser(store, app=gates.app)
        await browser.get("/set?user=ada")
        cookie, session_id = browser.cookie, browser.session_id()
        slow = await gates.held(Browser(store, cookie, app=gates.app), "/set?cart=9", "g")
        await Browser(store, cookie, app=gates.app).get("/invalidate?")
        gates.release("g")
        await slow
        assert await store.load(session_id) is None, "the slow write did not bring it back"
        assert await Browser(store, cookie).get("/") == {}

    asyncio.run(story())


@pytest.mark.parametrize("kind", RACE_KINDS)
def test_a_slow_request_does_not_revive_an_id_that_regenerate_retired(store: Any) -> None:
    async def story() -> None:
        gates = Gates()
        browser = Browser(store, app=gates.app)
        await browser.get("/set?cart=1")
        old_cookie, old_id = browser.cookie, browser.session_id()
        slow = await gates.held(Browser(store, old_cookie, app=gates.app), "/set?x=1", "g")
        assert await browser.get("/regenerate?user=ada") == {"cart": "1", "user": "ada"}
        gates.release("g")
        await slow
        assert await store.load(old_id) is None
        assert await Browser(store, browser.cookie).get("/") == {"cart": "1", "user": "ada"}

    asyncio.run(story())


@pytest.mark.parametrize("kind", RACE_KINDS)
def test_a_regenerate_in_flight_does_not_undo_a_sign_out(store: Any) -> None:
    async def story() -> None:
        gates = Gates()
        browser = Browser(store, app=gates.app)
        await browser.get("/set?cart=1")
        cookie, old_id = browser.cookie, browser.session_id()
        signing_in = Browser(store, cookie, app=gates.app)
        slow = await gates.held(signing_in, "/regenerate?user=ada", "g")
        await Browser(store, cookie, app=gates.app).get("/invalidate?")  # signed out meanwhile
        gates.release("g")
        await slow
        assert signing_in.cookie == cookie, "no new cookie: the sign-in did not happen"
        assert await store.load(old_id) is None
        assert await Browser(store, cookie).get("/") == {}
        assert await live_sessions(store) == 0, "nothing of the regenerated session was kept"

    asyncio.run(story())


@pytest.mark.parametrize("kind", KINDS)  # the per-user index: built-in stores
def test_a_sign_in_in_flight_does_not_undo_a_log_out_everywhere(store: Any) -> None:
    async def story() -> None:
        gates = Gates()
        browser = Browser(store, app=gates.app)
        await browser.get("/sign-in?user=ada")
        cookie = browser.cookie
        again = Browser(store, cookie, app=gates.app)
        slow = await gates.held(again, "/sign-in?user=ada&step=2", "g")
        assert await store.invalidate_user("ada") == 1  # "sign out everywhere"
        gates.release("g")
        await slow
        assert again.cookie == cookie, "no new cookie"
        assert await store.sessions_for_user("ada") == []
        assert await live_sessions(store) == 0

    asyncio.run(story())


@pytest.mark.parametrize("kind", RACE_KINDS)
def test_a_request_that_began_before_sign_in_does_not_sign_the_user_out(store: Any) -> None:
    async def story() -> None:
        gates = Gates()
        browser = Browser(store, app=gates.app)
        await browser.get("/set?theme=dark")
        before = browser.cookie
        slow_tab = Browser(store, before, app=gates.app)
        slow = await gates.held(slow_tab, "/set?seen=1", "g")  # began before the sign-in
        await browser.get("/regenerate?user=ada")  # sign-in: a new cookie, the old id ends
        signed_in = browser.cookie
        gates.release("g")
        await slow
        # The slow request found its session ended: it sent no Set-Cookie at all. A deletion
        # cookie would make the browser drop the cookie the sign-in had just set.
        assert slow_tab.cookie == before
        assert signed_in != before
        assert await Browser(store, signed_in).get("/") == {"theme": "dark", "user": "ada"}

    asyncio.run(story())


@pytest.mark.parametrize("kind", RACE_KINDS)
def test_more_parallel_writes_of_one_session_than_save_attempts_all_succeed(store: Any) -> None:
    """24 requests of one page, in one process, each changing the session at once: saves of one
    session are serialized in the process, so none runs out of compare-and-swap attempts (16)."""

    async def story() -> None:
        gates = Gates()
        browser = Browser(store, app=gates.app)
        await browser.get("/set?start=1")
        tabs = [Browser(store, browser.cookie) for _ in range(24)]
        for tab in tabs:
            tab.app = browser.app  # one app, one middleware: one process
        held = [await gates.held(tab, f"/set?k{i}={i}", f"g{i}") for i, tab in enumerate(tabs)]
        for i in range(len(tabs)):
            gates.release(f"g{i}")
        answers = await asyncio.gather(*held)
        assert all("status" not in answer for answer in answers)
        expected = {"start": "1", **{f"k{i}": str(i) for i in range(len(tabs))}}
        assert await Browser(store, browser.cookie).get("/") == expected
        saver = browser.app._saver
        assert saver is not None and len(saver._locks) == 0, "the locks are gone once done"

    asyncio.run(story())


async def live_sessions(store: Any) -> int:
    """How many session records the store holds."""
    if isinstance(store, MemoryStore):
        return len(store)
    if isinstance(store, DictStore):
        return len(store.records)
    count: int = await store.count()
    return count


def test_records_are_encrypted_at_rest(store: Any) -> None:
    async def story() -> None:
        browser = Browser(store)
        await browser.get("/set?card=4111-1111-1111-1111")
        record = await store.load(browser.session_id())
        assert record is not None and b"4111" not in record and b"card" not in record

    asyncio.run(story())


# -- outages -----------------------------------------------------------------------------------

NETWORKED = [kind for kind in KINDS if kind in SERVERS]


@pytest.mark.parametrize("kind", NETWORKED)
def test_an_outage_is_a_503_logged_once_and_the_next_request_after_it_works(
    kind: str,
    make_store: Callable[..., Any],
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = request.getfixturevalue(SERVERS[kind])
    store = make_store(connect_timeout=1.0, timeout=2.0)

    async def use(browser: Browser, target: str) -> dict[str, Any]:
        return await browser.get(target)

    browser = Browser(store)
    assert asyncio.run(use(browser, "/set?user=ada")) == {"user": "ada"}
    server.stop()
    try:
        started = time.monotonic()
        seen = [asyncio.run(use(browser, "/")) for _ in range(3)]
        waited = (time.monotonic() - started) / 3
    finally:
        server.start()
    assert [answer["status"] for answer in seen] == [503, 503, 503]
    outage_lines = [r.getMessage() for r in caplog.records if "is unavailable" in r.getMessage()]
    assert len(outage_lines) == 1, "one line per outage, not one per request"
    assert "reconnects by itself" in outage_lines[0]
    if kind == "mysql":  # the MariaDB URL carries a password: shown masked
        assert ":***@" in outage_lines[0] and ":scsession@" not in caplog.text
    assert waited < 3.5, f"an outage took {waited:.1f} s to report"
    if kind in ("postgres", "mysql"):
        # A database pool waits connect_timeout before it gives up on a refused connection:
        # after the first such wait, requests fail at once, and one a second tries the store.
        assert waited * 3 < 1.0 + 1.5, "only the first request waited for the timeout"
        time.sleep(PROBE_EVERY)
    # Back up: the very next request works (for a database, the next one that tries it), on the
    # same store object (no restart). Servers that keep data in memory only lost the session:
    # it is a fresh one.
    seen_after = asyncio.run(use(browser, "/"))
    expected = {"user": "ada"} if kind in ("postgres", "mysql") else {}
    assert seen_after == expected
    assert asyncio.run(use(Browser(store), "/set?after=1")) == {"after": "1"}
    assert any("answers again" in r.getMessage() for r in caplog.records)


# -- SQL: expiry in the table ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mysql"])
def test_sql_purge_expired_deletes_dead_rows_only(make_store: Callable[..., Any]) -> None:
    store = make_store()

    async def story() -> None:
        await store.save("a" * 21 + "A", b"short", 1)
        await store.save("b" * 21 + "A", b"long", 3600)
        assert await store.count() == 2
        await asyncio.sleep(2.1)  # a row lives at least its ttl, to the next whole second
        assert await store.count() == 1, "an expired row is not a live session"
        assert await store.purge_expired() == 1
        assert await store.load("b" * 21 + "A") == b"long"

    asyncio.run(story())


def test_bad_store_options_fail_at_startup_without_showing_passwords() -> None:
    with pytest.raises(ValueError, match="not a Redis URL") as caught:
        RedisStore("http://user:hunter2@cache:6379")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ValueError, match="plain SQL identifier"):
        SQLStore("sqlite:///tmp/x.db", table="sessions; DROP TABLE users")
    with pytest.raises(ValueError, match="not a Memcached URL"):
        MemcachedStore("redis://127.0.0.1:11211")
    with pytest.raises(ValueError, match="connect_timeout"):
        RedisStore("redis://127.0.0.1:6379/0", connect_timeout=0)
    assert repr(RedisStore("redis://:pw@h:1/0")) == "RedisStore('redis://:***@h:1/0')"


@pytest.mark.parametrize("kind", ["memcached"])
def test_a_record_too_large_for_memcached_says_what_to_do(make_store: Callable[..., Any]) -> None:
    store = make_store()

    async def story() -> None:
        with pytest.raises(StoreError, match="Store less in the session") as caught:
            await Browser(store).get("/set?big=" + "x" * 1_200_000)
        assert "more than memcached keeps in one item" in str(caught.value)

    asyncio.run(story())


def test_a_users_memcached_index_stays_bounded_through_thousands_of_sign_ins(
    memcached_server: Any,  # tests.servers.MemcachedServer
) -> None:
    """Each sign-in added ~570 bytes (a long user agent) to the user's one index item: sign-in
    number ~1,800 failed with "object too large". The index keeps the 100 most recently seen
    sessions and ends the others."""
    prefix = f"{uuid.uuid4().hex[:12]}:"
    store = MemcachedStore(memcached_server.url, prefix=prefix)
    agent = "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 480
    cap = 100  # MAX_SESSIONS_PER_USER in store/memcached.rs

    async def sign_in(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["session"]["user"] = "ada"
        scope["session"].bind_user("ada", user_agent=agent)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def story() -> list[str]:
        ids = []
        for _ in range(2000):
            browser = Browser(store, app=sign_in)
            await browser.get("/sign-in")
            ids.append(browser.session_id())
        return ids

    ids = asyncio.run(story())

    async def check() -> None:
        listed = await store.sessions_for_user("ada")
        assert len(listed) == cap
        newest = ids[-cap:]
        assert all(any(s.is_session(i) for s in listed) for i in newest), "the newest are listed"
        assert all(s.user_agent == agent for s in listed)
        # The sessions dropped from the index were ended, not left running unlisted.
        for gone in (ids[0], ids[1000], ids[-cap - 1]):
            assert await store.load(gone) is None
        assert await store.load(newest[0]) is not None
        # And the one that remains can still be ended all at once.
        assert await store.invalidate_user("ada") == cap
        assert [i for i in newest if await store.load(i) is not None] == []

    item = memcached_index_item(memcached_server.port, prefix)
    assert 0 < len(item) <= cap * 600, f"the index item is {len(item)} bytes"
    asyncio.run(check())


def memcached_index_item(port: int, prefix: str) -> bytes:
    """The one per-user index item under `prefix` (`{prefix}user:{user key}`; the user key is
    whatever the store derives), found with memcached's LRU crawler and read raw."""

    def ask(sock: socket.socket, command: bytes, end: bytes) -> bytes:
        sock.sendall(command)
        reply = b""
        while not reply.endswith(end):
            chunk = sock.recv(1 << 16)
            assert chunk, "memcached closed the connection"
            reply += chunk
        return reply

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for _ in range(50):  # the crawler serves one request at a time
            dump = ask(sock, b"lru_crawler metadump all\r\n", b"\r\n")
            if not dump.startswith(b"BUSY"):
                if not dump.endswith(b"END\r\n"):
                    dump += ask(sock, b"", b"END\r\n")
                break
            time.sleep(0.1)
        keys = [
            unquote(line.split()[0].removeprefix(b"key=").decode())
            for line in dump.splitlines()
            if line.startswith(b"key=")
        ]
        (key,) = [k for k in keys if k.startswith(f"{prefix}user:")]
        reply = ask(sock, f"get {key}\r\n".encode(), b"END\r\n")
    header, _, rest = reply.partition(b"\r\n")
    assert header.startswith(b"VALUE "), reply[:100]
    return rest[: int(header.split()[3])]
