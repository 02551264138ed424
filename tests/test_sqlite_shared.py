"""SQLStore and Python's `sqlite3` on the same file, in the same process.

Two copies of SQLite in one process (one built into the extension, one that `sqlite3` links)
each keep their own table of POSIX locks; closing a file in one drops the locks of the other,
and each believes it is the last connection to the database (SQLite's "How To Corrupt An SQLite
Database File", section 2.2.1). Seen before the fix: rows SQLStore wrote went missing for
`sqlite3`, then "disk I/O error (522)". scsession links the same libsqlite3 that Python's
`sqlite3` module does, so the process has one SQLite; these tests hold it to that.
"""

from __future__ import annotations

import asyncio
import sqlite3
import struct
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from starlette.testclient import TestClient

import scsession._core
from scsession import SQLStore, _core

from .support import HTTPS, KEY, make_app

ROUNDS = 200
#: The first bytes of a sealed record: its version, compared by the store's compare-and-swap.
RECORD_VERSION_LEN = 29
TABLE = "scsession_sessions"


def count_rows(db: Path) -> int:
    """Rows of the sessions table, counted by Python's sqlite3 on a connection of its own."""
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        (count,) = conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()
    assert isinstance(count, int)
    return count


def test_sqlstore_writes_while_python_sqlite3_reads_the_same_file(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    store = SQLStore(f"sqlite:///{db}")
    with TestClient(make_app(store=store), base_url=HTTPS) as client:
        for n in range(1, ROUNDS + 1):
            client.cookies.clear()
            response = client.post("/update", json={"n": n})
            assert response.status_code == 200, response.text
            # A connection opened and closed by the other library after every write: with
            # two copies of SQLite, each close dropped the locks of the store's connections.
            assert count_rows(db) == n, f"round {n}: a row SQLStore wrote is not seen"
            # The session reads back through the store too.
            assert client.get("/view").json() == {"session": {"n": n}}

    async def fresh_store_count() -> int:
        return await SQLStore(f"sqlite:///{db}").count()

    assert asyncio.run(fresh_store_count()) == ROUNDS


def test_python_sqlite3_writes_while_sqlstore_reads_the_same_file(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    store = SQLStore(f"sqlite:///{db}")
    sealer = _core.Sealer([KEY.encode()], "session", 1209600, None)
    with TestClient(make_app(store=store), base_url=HTTPS) as client:
        client.post("/update", json={"first": True})  # the store creates its table
        for n in range(ROUNDS):
            session_id, now = _core.new_session_id(), int(time.time())
            blob = sealer.seal_record(session_id, now, now, _core.dumps({"n": n}))
            with closing(sqlite3.connect(db, timeout=10)) as conn, conn:
                conn.execute(
                    f"INSERT INTO {TABLE} (id, data, version, expires_at) VALUES (?, ?, ?, ?)",
                    (session_id, blob, blob[:RECORD_VERSION_LEN], now + 3600),
                )
            client.cookies.clear()
            client.cookies.set("session", sealer.sign_id(session_id))
            assert client.get("/view").json() == {"session": {"n": n}}, f"round {n}"
            # And the store's compare-and-swap on a row that sqlite3 wrote.
            updated = client.post("/update", json={"seen": True}).json()
            assert updated == {"session": {"n": n, "seen": True}}
            with closing(sqlite3.connect(db, timeout=10)) as conn:
                (stored,) = conn.execute(
                    f"SELECT data FROM {TABLE} WHERE id = ?", (session_id,)
                ).fetchone()
            opened = sealer.open_record(session_id, stored, int(time.time()))
            assert opened == {"n": n, "seen": True}
    assert count_rows(db) == ROUNDS + 1


# --- the guard: one SQLite in the process ---------------------------------------------------


def elf_sections(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """`(type, offset, size, link, entsize)` of each section of a 64-bit little-endian ELF."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit LE ELF"
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        _, kind, _, _, offset, size, link, _, _, entsize = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize
        )
        sections.append((kind, offset, size, link, entsize))
    return sections


def c_string(data: bytes, at: int) -> str:
    return data[at : data.index(b"\0", at)].decode()


def elf_needed_and_defined(path: Path) -> tuple[list[str], set[str]]:
    """The libraries `path` needs (DT_NEEDED) and every symbol it defines, in both the dynamic
    and the full symbol table (SQLite built in is hidden from the dynamic one)."""
    data = path.read_bytes()
    sections = elf_sections(data)
    needed: list[str] = []
    defined: set[str] = set()
    sht_symtab, sht_dynamic, sht_dynsym = 2, 6, 11
    for kind, offset, size, link, entsize in sections:
        strtab = sections[link][1]
        if kind == sht_dynamic:
            for at in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", data, at)
                if tag == 1:  # DT_NEEDED
                    needed.append(c_string(data, strtab + value))
        elif kind in (sht_symtab, sht_dynsym):
            for at in range(offset, offset + size, entsize):
                name, _, _, shndx, _, _ = struct.unpack_from("<IBBHQQ", data, at)
                if shndx != 0:  # defined here, not imported
                    defined.add(c_string(data, strtab + name))
    return needed, defined


def test_the_extension_links_the_system_sqlite_and_carries_none_of_its_own() -> None:
    extension = Path(scsession._core.__file__ or "")
    needed, defined = elf_needed_and_defined(extension)
    assert "libsqlite3.so.0" in needed, f"{extension.name} does not link libsqlite3: {needed}"
    own = sorted(name for name in defined if name.startswith("sqlite3_"))
    assert own == [], f"{extension.name} has a SQLite of its own: {own[:5]}"
    # Strings that only SQLite's own source holds (its error messages, its schema table).
    body = extension.read_bytes()
    for text in (b"database disk image is malformed", b"CREATE TABLE x(type text,name text"):
        assert text not in body, f"{extension.name} contains SQLite's {text!r}"


def test_python_sqlite3_and_the_extension_load_one_and_the_same_libsqlite3() -> None:
    script = """
import sqlite3, asyncio, tempfile
from scsession import SQLStore
sqlite3.connect(":memory:").close()
async def use():
    return await SQLStore(f"sqlite:///{tempfile.mkdtemp()}/s.db").count()
assert asyncio.run(use()) == 0
maps = open("/proc/self/maps").read().split("\\n")
print("\\n".join(sorted({line.split()[-1] for line in maps if "libsqlite3" in line})))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    libraries = result.stdout.split()
    assert len(libraries) == 1, f"SQLite libraries mapped in one process: {libraries}"
