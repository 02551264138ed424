"""Real database and cache servers on loopback, for the tests, the demo and the benchmarks.

Each class runs one kind of server from Debian's packages (installed with apt-get when missing)
on a port chosen at run time, with its data in a temporary directory of its own:

    with RedisServer() as redis:        # started, and on exit stopped, its directory removed
        connect(redis.url)
        redis.stop()                    # an outage: the port refuses connections...
        redis.start()                   # ...and the same server is back, same port, same data dir

`start()` waits until the server answers a real request (a timeout raises `ServerError` with the
tail of the server's log); `stop()` shuts down gracefully; `kill()` sends SIGKILL; `close()`
stops and removes the directory. Every server runs in a process group of its own and is killed
at interpreter exit if still running; directories left by a process that died without cleaning
up (SIGKILL) are swept, their servers killed, the next time a server starts.

Session-scoped pytest fixtures: `redis_server`, `redis_cluster`, `memcached_server`,
`postgres_server`, `mariadb_server`. Each starts its server when first requested and closes it
at the end of the session; a server that cannot start fails the test (never skips). The autouse
fixture `servers_running` starts again, before each test, any of them an earlier test stopped.
Use them with `from .servers import *` in conftest.py (or `pytest_plugins = ["tests.servers"]`).

From a shell (run in the repository root), a server in the foreground until Ctrl-C:

    python -m tests.servers KIND [--port P]     # KIND: redis, cluster, memcached, postgres, mariadb

It prints the URL on stdout once the server is ready (a default port, e.g. 6379, unless `--port`;
`--port 0` picks a free one), or just the URL if something already listens on that port.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, ClassVar, Self, TypeVar

import pytest

__all__ = [
    "MariaDBServer",
    "MemcachedServer",
    "PostgresServer",
    "RedisCluster",
    "RedisServer",
    "Server",
    "ServerError",
    "free_port",
    "mariadb_server",
    "memcached_server",
    "memcached_version",
    "port_is_open",
    "postgres_server",
    "redis_cluster",
    "redis_command",
    "redis_server",
    "servers_running",
]

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
DIR_PREFIX = "scsession-server-"
DATABASE = "scsession"  # the database PostgresServer and MariaDBServer create
MARIADB_USER = MARIADB_PASSWORD = "scsession"

# Ports are picked here and below the kernel's ephemeral range (outgoing connections take their
# local port from that range and could take a stopped server's port before it starts again).
PORT_LOW, PORT_HIGH = 20000, 45000
CLUSTER_BUS_OFFSET = 10000

IS_ROOT = os.geteuid() == 0


class ServerError(RuntimeError):
    """A server could not be installed, started or set up."""


# --- ports ---------------------------------------------------------------------------------------

_handed_out: set[int] = set()  # ports this process picked: never picked twice
_ports_lock = threading.Lock()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(*, cluster_bus: bool = False) -> int:
    """A port on 127.0.0.1 that nothing uses (nor, with `cluster_bus`, port + 10000)."""
    offset = CLUSTER_BUS_OFFSET if cluster_bus else 0
    high = min(PORT_HIGH, _ephemeral_low() - offset)
    if high - PORT_LOW < 500:  # an unusual ephemeral range: do without that precaution
        high = PORT_HIGH
    with _ports_lock:
        for _ in range(1000):
            port = random.randrange(PORT_LOW, high)
            wanted = (port, port + offset) if offset else (port,)
            if any(p in _handed_out for p in wanted) or not all(map(_bindable, wanted)):
                continue
            _handed_out.update(wanted)
            return port
    raise ServerError(f"no free port found in {PORT_LOW}-{high}")


def port_is_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --- installation --------------------------------------------------------------------------------

_SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")
INSTALL_LOCK = Path(tempfile.gettempdir()) / "scsession-servers-apt.lock"


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found is None:
        found = shutil.which(name, path=os.pathsep.join(_SBIN_DIRS))
    return found


def _binary(name: str) -> str:
    path = _which(name)
    if path is None:
        raise ServerError(f"{name} not found")
    return path


def _postgres_bin() -> Path | None:
    """The bin directory of the newest PostgreSQL installed from Debian's packages."""
    dirs = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if not dirs:
        return None

    def version(path: Path) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in path.parent.name.split("."))
        except ValueError:
            return (0,)

    return max(dirs, key=version)


def _apt_get(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "-o", "DPkg::Lock::Timeout=300", *args]
    return subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )


def ensure_installed(missing: Callable[[], list[str]]) -> None:
    """Install the Debian packages that `missing()` names, one apt-get for all, under a lock.

    `missing()` is asked again once the lock is held, since another process may have installed
    them meanwhile. apt-get update runs only if the first install fails.
    """
    if not missing():
        return
    with open(INSTALL_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        packages = missing()
        if not packages:
            return
        if not IS_ROOT:
            raise ServerError(f"not root: cannot install {' '.join(packages)}")
        print(f"servers: apt-get install -y {' '.join(packages)}", file=sys.stderr, flush=True)
        done = _apt_get(["install", "-y", "--no-install-recommends", *packages])
        if done.returncode != 0:
            _apt_get(["update"])
            done = _apt_get(["install", "-y", "--no-install-recommends", *packages])
        if done.returncode != 0 or missing():
            raise ServerError(
                f"apt-get install {' '.join(packages)} failed (exit {done.returncode}):\n"
                + _tail(done.stdout + done.stderr)
            )


def _missing_binaries(packages: dict[str, str]) -> Callable[[], list[str]]:
    """`{binary: package}` -> a function listing the packages of the binaries not found."""

    def missing() -> list[str]:
        return sorted({package for name, package in packages.items() if _which(name) is None})

    return missing


# --- processes and cleanup -----------------------------------------------------------------------

_live: set[Server] = set()
_live_lock = threading.Lock()
_exit_hooks_installed = False


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _killpg(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _install_exit_hooks() -> None:
    """Once: close every live server at exit, and turn SIGTERM/SIGHUP into KeyboardInterrupt
    (where they would kill Python outright) so that pytest tears down and atexit runs."""
    global _exit_hooks_installed
    if _exit_hooks_installed:
        return
    _exit_hooks_installed = True
    atexit.register(_close_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) is signal.SIG_DFL:
                signal.signal(sig, _interrupt)


def _close_all() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:
        with contextlib.suppress(Exception):
            server.close(timeout=5.0)


def _sweep_orphans() -> None:
    """Kill the servers and remove the directories of processes that died without cleanup.

    Each directory names its owner (the Python process) and the process groups of its servers;
    a group is killed only while its leader still works inside that directory.
    """
    for base in Path(tempfile.gettempdir()).glob(DIR_PREFIX + "*"):
        try:
            owner = int((base / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if owner == os.getpid() or _alive(owner):
            continue
        for pidfile in base.glob("*.pgid"):
            with contextlib.suppress(OSError, ValueError):
                pgid = int(pidfile.read_text())
                cwd = os.readlink(f"/proc/{pgid}/cwd")
                if Path(cwd).is_relative_to(base):
                    _killpg(pgid)
        shutil.rmtree(base, ignore_errors=True)


def _make_base_dir(kind: str) -> Path:
    _sweep_orphans()
    base = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{kind}-"))
    base.chmod(0o755)  # servers running as postgres or mysql reach their subdirectories
    (base / "owner.pid").write_text(str(os.getpid()))
    return base


def _owned_dir(path: Path, user: str | None, mode: int = 0o700) -> Path:
    path.mkdir(mode=mode, exist_ok=True)
    path.chmod(mode)
    if user is not None:
        shutil.chown(path, user, user)
    return path


def _as_user(user: str) -> dict[str, Any]:
    """Popen arguments that run a command as `user` (when we are root; else as ourselves)."""
    if not IS_ROOT:
        return {}
    return {"user": user, "group": user, "extra_groups": []}


def _run(
    command: Sequence[str], *, what: str, log: Path | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a setup command; on failure raise ServerError with its output."""
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=READY_TIMEOUT,
            **kwargs,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"{what} timed out: {' '.join(command)}") from exc
    if log is not None:
        with log.open("a") as f:
            f.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        raise ServerError(
            f"{what} failed (exit {done.returncode}): {' '.join(command)}\n"
            + _tail(done.stdout + done.stderr)
        )
    return done


# --- the servers ---------------------------------------------------------------------------------


class _Managed:
    """Context manager and restart for anything with start(), stop() and close()."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        raise NotImplementedError

    def close(self, timeout: float = STOP_TIMEOUT) -> None:
        raise NotImplementedError

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Server(_Managed):
    """One server process on 127.0.0.1:`port` (a free port when None) with a temp directory.

    Subclasses give the command line, the readiness check and the one-time setup.
    """

    kind: ClassVar[str]
    default_port: ClassVar[int]
    stop_signal: ClassVar[int] = signal.SIGTERM
    packages: ClassVar[dict[str, str]]  # binary -> Debian package

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port else free_port()
        self._base: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._prepared = False  # data directory initialised
        self._provisioned = False  # databases / users created

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def dir(self) -> Path:
        """The temporary directory (created on first use, removed by close())."""
        if self._base is None:
            self._base = _make_base_dir(self.kind)
        return self._base

    @property
    def log_path(self) -> Path:
        return self.dir / "server.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive (not whether it answers: see ping())."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if self._base is None:
            return "(no log)"
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return "(no log)"

    def ping(self) -> bool:
        """Whether the server answers a real request now."""
        try:
            return self._ready()
        except (OSError, subprocess.SubprocessError, ServerError):
            return False

    # Subclass hooks.
    def _missing(self) -> list[str]:
        return _missing_binaries(self.packages)()

    def _prepare(self) -> None:
        """Initialise the data directory (once)."""

    def _command(self) -> tuple[list[str], dict[str, Any]]:
        """The server's command line and extra Popen arguments."""
        raise NotImplementedError

    def _ping(self) -> bool:
        raise NotImplementedError

    def _provision(self) -> None:
        """Create databases and users (once, after the first start)."""

    def _check(self) -> None:
        """After each start: raise ServerError unless the server is usable."""

    # The life cycle.
    def start(self) -> Self:
        """Start the server (a no-op if running) and wait until it answers."""
        if self.running:
            return self
        ensure_installed(self._missing)
        with _live_lock:
            _live.add(self)
        _install_exit_hooks()
        if not self._prepared:
            self._prepare()
            self._prepared = True
        self._spawn()
        try:
            self._wait_until(self._ready, f"{self.kind} on port {self.port} to answer")
            if not self._provisioned:
                self._provision()
                self._provisioned = True
            self._check()
        except BaseException:
            self.kill()
            raise
        return self

    def _spawn(self) -> None:
        command, kwargs = self._command()
        if port_is_open(self.port):
            raise ServerError(f"port {self.port} is taken: cannot start {self.kind} there")
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, away from the terminal's ^C
                cwd=kwargs.pop("cwd", self.dir),
                **kwargs,
            )
        (self.dir / f"{self.kind}-{self.port}.pgid").write_text(str(self._proc.pid))

    def _ready(self) -> bool:
        return port_is_open(self.port, timeout=0.2) and self._ping()

    def _wait_until(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        delay = 0.005
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise ServerError(
                    f"{self.kind} exited with code {self._proc.returncode} while waiting for "
                    f"{what}; its log ({self.log_path}):\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                if check():
                    return
            if time.monotonic() > deadline:
                raise ServerError(
                    f"timed out after {READY_TIMEOUT:.0f} s waiting for {what}; "
                    f"its log ({self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Shut down gracefully (SIGKILL after `timeout` seconds); the data directory stays."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid)
                proc.wait()
        _killpg(proc.pid)  # any child the server left behind
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the server's whole process group (no shutdown work); the data stays."""
        proc = self._proc
        if proc is None:
            return
        _killpg(proc.pid)
        proc.wait()
        self._proc = None

    def close(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server and remove its directory."""
        try:
            self.stop(timeout)
        finally:
            if self._base is not None:
                shutil.rmtree(self._base, ignore_errors=True)
                self._base = None
            self._prepared = self._provisioned = False
            with _live_lock:
                _live.discard(self)


# --- redis ---------------------------------------------------------------------------------------


def redis_command(port: int, *args: str, host: str = HOST, timeout: float = 1.0) -> str:
    """Send one command to a redis server and return its reply (simple, integer or bulk)."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        with sock.makefile("rb") as reply:
            line = reply.readline()
            kind, rest = line[:1], line[1:].rstrip(b"\r\n").decode()
            if kind in (b"+", b":"):
                return rest
            if kind == b"-":
                raise ServerError(f"redis error: {rest}")
            if kind == b"$":
                size = int(rest)
                return "" if size < 0 else reply.read(size + 2)[:-2].decode()
    raise ServerError(f"unexpected redis reply: {line!r}")


class RedisServer(Server):
    """redis-server without persistence. url: redis://127.0.0.1:PORT/0"""

    kind = "redis"
    default_port = 6379
    packages: ClassVar[dict[str, str]] = {
        "redis-server": "redis-server",
        "redis-cli": "redis-tools",
    }

    def __init__(self, port: int | None = None, *, extra_args: Sequence[str] = ()) -> None:
        super().__init__(port)
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def _command(self) -> tuple[list[str], dict[str, Any]]:
        command = [
            _binary("redis-server"),
            "--port", str(self.port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--protected-mode", "no",
            *self.extra_args,
        ]  # fmt: skip
        return command, {}

    def _ping(self) -> bool:
        return redis_command(self.port, "PING") == "PONG"


class RedisCluster(_Managed):
    """Three redis masters in cluster mode (no replicas), slots spread by `redis-cli --cluster
    create`. url: redis://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3

    stop() stops every node and start() starts them again (any that is stopped) on the same ports:
    each node keeps its cluster config (nodes-PORT.conf), so the cluster comes back as it was,
    empty. `nodes` gives the three RedisServers, e.g. for an outage of one node.
    """

    kind = "cluster"
    default_port = 7000

    def __init__(self, ports: Sequence[int] | None = None, *, node_timeout_ms: int = 2000) -> None:
        if ports is None:
            ports = [free_port(cluster_bus=True) for _ in range(3)]
        if len(ports) < 3 or any(p + CLUSTER_BUS_OFFSET > 65535 for p in ports):
            raise ValueError("a cluster needs three ports of at most 55535")
        self.nodes = [
            RedisServer(port, extra_args=self._node_args(port, node_timeout_ms)) for port in ports
        ]

    @staticmethod
    def _node_args(port: int, node_timeout_ms: int) -> list[str]:
        return [
            "--cluster-enabled", "yes",
            "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", str(node_timeout_ms),
        ]  # fmt: skip

    def __repr__(self) -> str:
        return f"<RedisCluster {self.url} {'running' if self.running else 'stopped'}>"

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        return "redis://" + ",".join(f"{HOST}:{port}" for port in self.ports)

    @property
    def running(self) -> bool:
        return all(node.running for node in self.nodes)

    def cluster_info(self, node: int = 0) -> dict[str, str]:
        text = redis_command(self.ports[node], "CLUSTER", "INFO")
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def ping(self) -> bool:
        try:
            return all(
                self.cluster_info(i).get("cluster_state") == "ok" for i in range(len(self.nodes))
            )
        except (OSError, ServerError):
            return False

    def start(self) -> Self:
        """Start the nodes that are stopped, create the cluster if new, wait for state ok."""
        if self.running and self.ping():
            return self
        try:
            for node in self.nodes:
                node.start()
            if self.cluster_info().get("cluster_slots_assigned") == "0":
                addresses = [f"{HOST}:{port}" for port in self.ports]
                create = ["--cluster", "create", *addresses, "--cluster-replicas", "0"]
                _run(
                    [_binary("redis-cli"), *create, "--cluster-yes"],
                    what="redis-cli --cluster create",
                    log=self.nodes[0].log_path,
                )
            self.nodes[0]._wait_until(self.ping, f"cluster_state:ok on {self.url}")
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        for node in self.nodes:
            node.stop(timeout)

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()

    def close(self, timeout: float = STOP_TIMEOUT) -> None:
        for node in self.nodes:
            node.close(timeout)


# --- memcached -----------------------------------------------------------------------------------


def memcached_version(port: int, host: str = HOST, timeout: float = 1.0) -> str:
    """The reply to memcached's `version` command, e.g. "VERSION 1.6.18"."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b"version\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(256)
            if not chunk:
                break
            reply += chunk
    return reply.decode().strip()


class MemcachedServer(Server):
    """memcached in the foreground. url: memcache://127.0.0.1:PORT

    stop() sends SIGKILL: memcached keeps nothing to save, and on SIGTERM or SIGINT it would go
    on serving until its next clock tick (up to a second).
    """

    kind = "memcached"
    default_port = 11211
    stop_signal = signal.SIGKILL
    packages: ClassVar[dict[str, str]] = {"memcached": "memcached"}

    def __init__(self, port: int | None = None, *, memory_mb: int = 64) -> None:
        super().__init__(port)
        self.memory_mb = memory_mb

    @property
    def url(self) -> str:
        return f"memcache://{HOST}:{self.port}"

    def _command(self) -> tuple[list[str], dict[str, Any]]:
        user = ["-u", "nobody"] if IS_ROOT else []
        command = [_binary("memcached"), *user, "-l", HOST, "-p", str(self.port)]
        return [*command, "-U", "0", "-m", str(self.memory_mb)], {}

    def _ping(self) -> bool:
        return memcached_version(self.port).startswith("VERSION ")


# --- PostgreSQL ----------------------------------------------------------------------------------


class PostgresServer(Server):
    """PostgreSQL (trust auth, no durability) with a database `scsession`.

    url: postgresql://postgres@127.0.0.1:PORT/scsession. Runs as the `postgres` user (it refuses
    root); the postmaster is our child, so stop() sends SIGINT ("fast" shutdown, which does not
    wait for clients to disconnect). The Unix socket is in `socket_dir`.
    """

    kind = "postgres"
    default_port = 5432
    stop_signal = signal.SIGINT
    user = "postgres"

    def _missing(self) -> list[str]:
        return [] if _postgres_bin() is not None else ["postgresql"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{DATABASE}"

    @property
    def bin(self) -> Path:
        found = _postgres_bin()
        if found is None:
            raise ServerError("no /usr/lib/postgresql/*/bin/initdb")
        return found

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.dir / "run"

    def _prepare(self) -> None:
        user = self.user if IS_ROOT else None
        _owned_dir(self.data_dir, user)
        _owned_dir(self.socket_dir, user, 0o755)
        options = ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]
        _run(
            [str(self.bin / "initdb"), "-D", str(self.data_dir), *options, "--no-instructions"],
            what="initdb",
            log=self.log_path,
            cwd=self.dir,
            **_as_user(self.user),
        )

    def _command(self) -> tuple[list[str], dict[str, Any]]:
        settings = {
            "listen_addresses": HOST,
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "32MB",
        }
        command = [str(self.bin / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        return command, _as_user(self.user)

    def _ping(self) -> bool:
        pg_isready = [str(self.bin / "pg_isready"), "-q", "-h", HOST, "-p", str(self.port)]
        return subprocess.run([*pg_isready, "-U", "postgres"], check=False).returncode == 0

    def psql(self, sql: str, database: str = DATABASE) -> str:
        """Run SQL with psql as postgres over TCP; return its unaligned output."""
        command = [str(self.bin / "psql"), "-h", HOST, "-p", str(self.port), "-U", "postgres"]
        command += ["-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        return _run(command, what="psql").stdout.strip()

    def _provision(self) -> None:
        self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")


# --- MariaDB -------------------------------------------------------------------------------------


class MariaDBServer(Server):
    """MariaDB with a database `scsession` and a user `scsession` (password `scsession`).

    url: mysql://scsession:scsession@127.0.0.1:PORT/scsession. root connects over the Unix socket
    (`socket_path`, unix_socket auth). Tuned to start small and fast, without durability.
    """

    kind = "mariadb"
    default_port = 3306
    user = "mysql"
    packages: ClassVar[dict[str, str]] = {
        "mariadbd": "mariadb-server",
        "mariadb-install-db": "mariadb-server",
        "mariadb": "mariadb-client",
        "mariadb-admin": "mariadb-client",
    }
    # For both mariadb-install-db (which passes them on) and mariadbd.
    tuning = (
        "--skip-name-resolve",
        "--skip-log-bin",
        "--skip-performance-schema",
        "--innodb-buffer-pool-size=16M",
        "--innodb-log-file-size=4M",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--innodb-temp-data-file-path=ibtmp1:1M:autoextend",
        "--skip-innodb-buffer-pool-dump-at-shutdown",
        "--skip-innodb-buffer-pool-load-at-startup",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_general_ci",
        "--max-connections=200",
    )

    @property
    def url(self) -> str:
        credentials = f"{MARIADB_USER}:{MARIADB_PASSWORD}"
        return f"mysql://{credentials}@{HOST}:{self.port}/{DATABASE}"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def socket_path(self) -> Path:
        return self.dir / "run" / "mysqld.sock"

    def _user_args(self) -> list[str]:
        return [f"--user={self.user}"] if IS_ROOT else []

    def _prepare(self) -> None:
        user = self.user if IS_ROOT else None
        _owned_dir(self.data_dir, user, 0o750)
        _owned_dir(self.socket_path.parent, user, 0o755)
        options = [f"--datadir={self.data_dir}", "--auth-root-authentication-method=socket"]
        options += ["--skip-test-db", *self.tuning]
        _run(
            [_binary("mariadb-install-db"), "--no-defaults", *self._user_args(), *options],
            what="mariadb-install-db",
            log=self.log_path,
            cwd=self.dir,
        )

    def _command(self) -> tuple[list[str], dict[str, Any]]:
        command = [
            _binary("mariadbd"), "--no-defaults", *self._user_args(),
            f"--datadir={self.data_dir}", f"--port={self.port}", f"--bind-address={HOST}",
            f"--socket={self.socket_path}", f"--pid-file={self.dir / 'run' / 'mariadbd.pid'}",
            *self.tuning,
        ]  # fmt: skip
        return command, {}

    def _ready(self) -> bool:
        # Over the socket: a bare TCP probe would log "Aborted connection". _check() logs in by TCP.
        return self._ping()

    def _ping(self) -> bool:
        command = [_binary("mariadb-admin"), "--no-defaults", f"--socket={self.socket_path}"]
        command += ["-u", "root", "--connect-timeout=1", "ping"]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0

    def sql(self, sql: str, *, as_root: bool = False) -> str:
        """Run SQL with the mariadb client: as `scsession` over TCP, or as root over the socket."""
        command = [_binary("mariadb"), "--no-defaults", "--batch", "--skip-column-names"]
        if as_root:
            command += [f"--socket={self.socket_path}", "-u", "root"]
        else:
            command += ["-h", HOST, "-P", str(self.port), "--protocol=tcp"]
            command += [f"-u{MARIADB_USER}", f"-p{MARIADB_PASSWORD}", DATABASE]
        return _run([*command, "-e", sql], what="mariadb").stdout.strip()

    def _provision(self) -> None:
        user, password = MARIADB_USER, MARIADB_PASSWORD
        statements = [f"CREATE DATABASE IF NOT EXISTS {DATABASE}"]
        for host in (HOST, "localhost"):
            statements += [
                f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}'",
                f"GRANT ALL PRIVILEGES ON {DATABASE}.* TO '{user}'@'{host}'",
            ]
        self.sql(";\n".join(statements), as_root=True)

    def _check(self) -> None:
        if self.sql("SELECT 1") != "1":
            raise ServerError(f"mariadb: no TCP login as {MARIADB_USER}\n{self.log_tail()}")


KINDS: dict[str, type[Server] | type[RedisCluster]] = {
    "redis": RedisServer,
    "cluster": RedisCluster,
    "memcached": MemcachedServer,
    "postgres": PostgresServer,
    "mariadb": MariaDBServer,
}


# --- pytest fixtures -----------------------------------------------------------------------------

_FIXTURES = (
    "redis_server",
    "redis_cluster",
    "memcached_server",
    "postgres_server",
    "mariadb_server",
)


_M = TypeVar("_M", bound=_Managed)


def _start_or_fail(server: _Managed, what: str) -> None:
    """start(), turning a failure into a failed test (not an error traceback, never a skip)."""
    try:
        server.start()
    except Exception as exc:
        error = f"{server!r} {what}: {exc}"
    else:
        return
    pytest.fail(error, pytrace=False)


def _serve(server: _M) -> Iterator[_M]:
    try:
        _start_or_fail(server, "did not start")
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server for the session: redis://127.0.0.1:PORT/0."""
    yield from _serve(RedisServer())


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A three-master redis cluster: redis://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3."""
    yield from _serve(RedisCluster())


@pytest.fixture(scope="session")
def memcached_server() -> Iterator[MemcachedServer]:
    """A memcached for the session: memcache://127.0.0.1:PORT."""
    yield from _serve(MemcachedServer())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL for the session: postgresql://postgres@127.0.0.1:PORT/scsession."""
    yield from _serve(PostgresServer())


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A MariaDB for the session: mysql://scsession:scsession@127.0.0.1:PORT/scsession."""
    yield from _serve(MariaDBServer())


@pytest.fixture(autouse=True)
def servers_running(request: pytest.FixtureRequest) -> None:
    """Before each test, start again any session server (that the test uses) a test stopped."""
    for name in _FIXTURES:
        if name in request.fixturenames:
            server: _Managed = request.getfixturevalue(name)
            _start_or_fail(server, "did not start again")


# --- command line --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.servers",
        description="Run a server on 127.0.0.1 in the foreground until Ctrl-C; print its URL.",
    )
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument(
        "--port", type=int, help="default: the usual one (cluster: P, P+1, P+2); 0: a free one"
    )
    args = parser.parse_args(argv)
    cls = KINDS[args.kind]
    port: int = cls.default_port if args.port is None else args.port
    server: Server | RedisCluster
    if cls is RedisCluster:
        ports = [free_port(cluster_bus=True) for _ in range(3)] if port == 0 else None
        server = RedisCluster(ports or [port, port + 1, port + 2])
        taken = [p for p in server.ports if port_is_open(p)]
    else:
        assert issubclass(cls, Server)
        server = cls(port or None)
        taken = [server.port] if port_is_open(server.port) else []
    if taken:
        print(f"something already listens on {taken}: not starting", file=sys.stderr)
        print(server.url, flush=True)
        return 0
    _install_exit_hooks()  # SIGTERM -> KeyboardInterrupt, like ^C
    try:
        with server:
            print(server.url, flush=True)
            print(f"{server!r}; Ctrl-C stops it", file=sys.stderr, flush=True)
            while server.running:
                time.sleep(0.2)
            print("the server exited", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except ServerError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
