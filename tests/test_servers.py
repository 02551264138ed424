"""The servers the store tests run on: each answers its own client, goes away on stop() and comes
back on start(), on the same port with the same data directory."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .servers import (
    HOST,
    MariaDBServer,
    MemcachedServer,
    PostgresServer,
    RedisCluster,
    RedisServer,
    ServerError,
    mariadb_server,
    memcached_server,
    postgres_server,
    redis_cluster,
    redis_server,
    servers_running,
)

# The fixtures live in servers.py; importing them here makes them available to this file alone.
__all__ = [
    "mariadb_server",
    "memcached_server",
    "postgres_server",
    "redis_cluster",
    "redis_server",
    "servers_running",
]

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=True)
    return done.stdout.strip()


def redis_cli(port: int, *args: str) -> str:
    return run("redis-cli", "-h", HOST, "-p", str(port), *args)


def memcached(port: int, request: bytes) -> bytes:
    """Send one request, return the reply up to its last line (END, STORED or VERSION ...)."""
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(request)
        reply = b""
        while not reply.endswith((b"END\r\n", b"STORED\r\n")) and not reply.startswith(b"VERSION"):
            reply += sock.recv(4096)
        return reply


def psql(server: PostgresServer, sql: str) -> str:
    return run("psql", server.url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql)


def mariadb(server: MariaDBServer, sql: str) -> str:
    login = ["-h", HOST, "-P", str(server.port), "-u", "scsession", "-pscsession", "scsession"]
    return run("mariadb", "--no-defaults", "--batch", "--skip-column-names", *login, "-e", sql)


def refuses(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def test_redis_answers_stops_and_comes_back_on_the_same_port(redis_server: RedisServer) -> None:
    port, data_dir = redis_server.port, redis_server.dir
    assert redis_server.url == f"redis://127.0.0.1:{port}/0"
    assert redis_cli(port, "ping") == "PONG"
    assert redis_cli(port, "set", "greeting", "hello") == "OK"

    redis_server.stop()
    assert refuses(port)
    assert not redis_server.ping()

    redis_server.start()
    assert (redis_server.port, redis_server.dir) == (port, data_dir)
    assert redis_cli(port, "ping") == "PONG"
    assert redis_cli(port, "get", "greeting") == ""  # no persistence: back empty


def test_redis_comes_back_after_kill(redis_server: RedisServer) -> None:
    redis_server.kill()
    assert refuses(redis_server.port)
    redis_server.start()
    assert redis_cli(redis_server.port, "ping") == "PONG"


def test_a_test_may_leave_a_session_server_stopped(redis_server: RedisServer) -> None:
    redis_server.stop()


def test_the_next_test_finds_it_running_again(redis_server: RedisServer) -> None:
    assert redis_server.running
    assert redis_cli(redis_server.port, "ping") == "PONG"


def test_redis_cluster_serves_every_slot_and_comes_back(redis_cluster: RedisCluster) -> None:
    ports = redis_cluster.ports
    assert len(set(ports)) == 3 and all(port <= 55535 for port in ports)
    assert redis_cluster.url == "redis://" + ",".join(f"127.0.0.1:{port}" for port in ports)
    for port in ports:
        assert "cluster_state:ok" in redis_cli(port, "cluster", "info")
    for key in ("a", "b", "c", "d"):  # slots 15495, 3300, 7365, 11298: all three nodes
        assert redis_cli(ports[0], "-c", "set", key, key) == "OK"
        assert redis_cli(ports[2], "-c", "get", key) == key

    redis_cluster.stop()
    assert all(refuses(port) for port in ports)

    redis_cluster.start()
    assert redis_cluster.ports == ports
    for port in ports:
        assert "cluster_state:ok" in redis_cli(port, "cluster", "info")
    assert redis_cli(ports[1], "-c", "set", "a", "again") == "OK"


def test_memcached_answers_stops_and_comes_back(memcached_server: MemcachedServer) -> None:
    port = memcached_server.port
    assert memcached_server.url == f"memcache://127.0.0.1:{port}"
    assert memcached(port, b"version\r\n").startswith(b"VERSION 1.")
    assert memcached(port, b"set k 0 0 2\r\nhi\r\n") == b"STORED\r\n"
    assert memcached(port, b"get k\r\n") == b"VALUE k 0 2\r\nhi\r\nEND\r\n"

    memcached_server.stop()
    assert refuses(port)

    memcached_server.start()
    assert memcached_server.port == port
    assert memcached(port, b"get k\r\n") == b"END\r\n"


def test_postgres_answers_stops_and_comes_back_with_its_data(
    postgres_server: PostgresServer,
) -> None:
    port = postgres_server.port
    assert postgres_server.url == f"postgresql://postgres@127.0.0.1:{port}/scsession"
    psql(postgres_server, "CREATE TABLE IF NOT EXISTS kept (v text); INSERT INTO kept VALUES ('x')")

    postgres_server.stop()
    assert refuses(port)

    postgres_server.start()
    assert postgres_server.port == port
    assert "x" in psql(postgres_server, "SELECT v FROM kept").splitlines()


def test_mariadb_answers_stops_and_comes_back_with_its_data(
    mariadb_server: MariaDBServer,
) -> None:
    port = mariadb_server.port
    assert mariadb_server.url == f"mysql://scsession:scsession@127.0.0.1:{port}/scsession"
    assert mariadb(mariadb_server, "SELECT 1") == "1"
    mariadb(
        mariadb_server, "CREATE TABLE IF NOT EXISTS kept (v text); INSERT INTO kept VALUES ('x')"
    )

    mariadb_server.stop()
    assert refuses(port)

    mariadb_server.start()
    assert mariadb_server.port == port
    assert "x" in mariadb(mariadb_server, "SELECT v FROM kept").splitlines()


def test_close_removes_the_directory_and_the_process() -> None:
    with RedisServer() as server:
        data_dir, port = server.dir, server.port
        assert data_dir.is_dir()
    assert not data_dir.exists()
    assert refuses(port)


def test_a_server_that_cannot_start_raises_with_its_log() -> None:
    server = RedisServer(extra_args=["--no-such-directive", "yes"])
    with pytest.raises(ServerError, match=r"(?s)exited with code 1.*no-such-directive"):
        server.start()
    server.close()


def test_the_command_line_prints_the_url_and_stops_on_sigterm() -> None:
    command = [sys.executable, "-m", "tests.servers", "memcached", "--port", "0"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        port = int(url.rpartition(":")[2])
        assert url == f"memcache://127.0.0.1:{port}"
        assert memcached(port, b"version\r\n").startswith(b"VERSION")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert refuses(port)


def test_the_command_line_leaves_a_running_server_alone(redis_server: RedisServer) -> None:
    command = [sys.executable, "-m", "tests.servers", "redis", "--port", str(redis_server.port)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert (done.returncode, done.stdout) == (0, redis_server.url + "\n")
    assert "already listens" in done.stderr
