"""Stores over TLS, against real servers with a certificate from a test CA: `rediss://` with
`tls_ca_file=`, and PostgreSQL with `sslmode=verify-full&sslrootcert=` in the URL."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scsession import RedisStore, SQLStore, StoreUnavailableError
from scsession.testing import Browser, new_id

from .servers import HOST, PostgresServer, RedisServer, free_port


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA (ca.crt) and a certificate for 127.0.0.1 signed by it (server.crt/.key)."""
    where = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test CA",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=where)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST}",
            "-keyout", "server.key", "-out", "server.csr", cwd=where)  # fmt: skip
    (where / "san.ext").write_text(f"subjectAltName=IP:{HOST}\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.crt",
            cwd=where)  # fmt: skip
    return where


class TLSRedis(RedisServer):
    """redis-server that speaks only TLS on its port."""

    def __init__(self, certificates: Path) -> None:
        port = free_port()
        self.ca = certificates / "ca.crt"
        super().__init__(
            port,
            extra_args=[
                "--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no",
                "--tls-cert-file", str(certificates / "server.crt"),
                "--tls-key-file", str(certificates / "server.key"),
                "--tls-ca-cert-file", str(self.ca),
            ],
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"rediss://{HOST}:{self.port}/0"

    def _ping(self) -> bool:
        command = ["redis-cli", "--tls", "--cacert", str(self.ca), "-h", HOST, "-p", str(self.port)]
        done = subprocess.run([*command, "PING"], capture_output=True, text=True, check=False)
        return done.stdout.strip() == "PONG"


class TLSPostgres(PostgresServer):
    """PostgreSQL with ssl=on (it still accepts plain connections, as by default)."""

    def __init__(self, certificates: Path) -> None:
        super().__init__()
        self.certificates = certificates

    def _command(self) -> tuple[list[str], dict[str, Any]]:
        command, options = super()._command()
        for name in ("server.crt", "server.key"):
            copy = self.dir / name
            shutil.copy(self.certificates / name, copy)
            copy.chmod(0o600)
            shutil.chown(copy, self.user, self.user)
        command += ["-c", "ssl=on", "-c", f"ssl_cert_file={self.dir / 'server.crt'}"]
        command += ["-c", f"ssl_key_file={self.dir / 'server.key'}"]
        return command, options


@pytest.fixture(scope="module")
def tls_redis(certificates: Path) -> Iterator[TLSRedis]:
    with TLSRedis(certificates) as server:
        yield server


@pytest.fixture(scope="module")
def tls_postgres(certificates: Path) -> Iterator[TLSPostgres]:
    with TLSPostgres(certificates) as server:
        yield server


def round_trip(store: Any) -> dict[str, Any]:
    async def story() -> dict[str, Any]:
        browser = Browser(store)
        await browser.get("/set?over=tls")
        return await Browser(store, browser.cookie).get("/")

    return asyncio.run(story())


def test_rediss_with_the_servers_ca_works(tls_redis: TLSRedis) -> None:
    store = RedisStore(tls_redis.url, tls_ca_file=tls_redis.ca)
    assert round_trip(store) == {"over": "tls"}


def refused(store: Any, caplog: pytest.LogCaptureFixture) -> str:
    """The error of a store whose server's certificate is not trusted, and the one line the
    middleware logs of it (the request itself is answered 503 while that lasts)."""
    with pytest.raises(StoreUnavailableError, match="UnknownIssuer") as caught:
        asyncio.run(store.load(new_id()))
    answer = asyncio.run(Browser(store).get("/set?over=tls"))
    assert answer["status"] == 503
    (logged,) = [r.getMessage() for r in caplog.records if "UnknownIssuer" in r.getMessage()]
    return str(caught.value) + "\n" + logged


def test_rediss_refuses_a_certificate_no_trusted_ca_signed(
    tls_redis: TLSRedis, caplog: pytest.LogCaptureFixture
) -> None:
    # The system's CAs do not include the test CA.
    error, logged = refused(RedisStore(tls_redis.url, connect_timeout=1.0), caplog).split("\n")
    assert "tls_ca_file=PATH" in error and "tls_ca_file=PATH" in logged


def test_a_ca_file_needs_a_rediss_url(certificates: Path) -> None:
    with pytest.raises(ValueError, match="rediss://"):
        RedisStore("redis://127.0.0.1:6379/0", tls_ca_file=certificates / "ca.crt")
    with pytest.raises(FileNotFoundError):
        RedisStore("rediss://127.0.0.1:6379/0", tls_ca_file=certificates / "missing.crt")


def test_postgres_with_verify_full_works(tls_postgres: TLSPostgres, certificates: Path) -> None:
    url = f"{tls_postgres.url}?sslmode=verify-full&sslrootcert={certificates / 'ca.crt'}"
    assert round_trip(SQLStore(url)) == {"over": "tls"}


def test_postgres_verify_full_refuses_an_unknown_ca(
    tls_postgres: TLSPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{tls_postgres.url}?sslmode=verify-full"
    error, logged = refused(SQLStore(url, connect_timeout=1.0), caplog).split("\n")
    assert "sslrootcert=PATH" in error and "sslrootcert=PATH" in logged
