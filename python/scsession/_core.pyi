"""Type stubs of ``scsession._core``, the Rust engine (crates/scsession-python)."""

from collections.abc import Iterable, Sequence
from typing import Any, final

__all__ = [
    "MemoryStore",
    "Sealer",
    "check_value",
    "dumps",
    "new_session_id",
]

def dumps(data: dict[str, Any]) -> bytes:
    """Serializes session data; ``TypeError`` naming the key for a value it cannot store."""

def check_value(key: object, value: object) -> None:
    """Raises the ``TypeError`` that saving would raise if ``value`` cannot be stored."""

def new_session_id() -> str:
    """A new random session id: 128 bits from the OS CSPRNG as 22 base64url characters."""

@final
class Sealer:
    """Seals and opens sessions under a key ring, for one cookie name and lifetime policy."""

    def __new__(
        cls,
        secrets: Sequence[bytes],
        cookie_name: str,
        max_age: int | None,
        idle_timeout: int | None,
    ) -> Sealer: ...
    def open_cookie(
        self, headers: Iterable[tuple[bytes, bytes]], now: int
    ) -> tuple[str, int, int, bytes, dict[str, Any]] | None:
        """``(id, created, last_seen, data_bytes, data)`` of the first valid, unexpired cookie
        of ours in the ASGI ``headers``."""

    def seal_cookie(self, id: str, created: int, now: int, data: bytes) -> str:
        """A cookie value; ``SessionTooLargeError`` past 4096 bytes with the name."""

    def sign_id(self, id: str) -> str:
        """The cookie value of a server-side session: its id and a MAC."""

    def session_ids(self, headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
        """The ids in our server-side session cookies in the ASGI ``headers`` whose MAC
        verifies, in the order the browser sent them."""

    def seal_record(self, id: str, created: int, now: int, data: bytes) -> bytes:
        """The encrypted record a store keeps for a session."""

    def open_record(
        self, id: str, blob: bytes, now: int
    ) -> tuple[int, int, bytes, dict[str, Any]] | None:
        """``(created, last_seen, data_bytes, data)`` of a valid, unexpired record of ``id``."""

    def needs_refresh(self, last_seen: int, now: int) -> bool:
        """Whether an unchanged session must be rewritten to keep its idle deadline."""

    def remaining(self, created: int, last_seen: int, now: int) -> int | None:
        """Seconds until the session ends if nothing else happens; ``None`` without limits."""

@final
class MemoryStore:
    """Sealed session records in process memory, each expiring after its ttl."""

    def __new__(cls) -> MemoryStore: ...
    def load(self, id: str) -> bytes | None: ...
    def save(self, id: str, data: bytes, ttl_seconds: int) -> None: ...
    def update(self, id: str, data: bytes, ttl_seconds: int) -> bool: ...
    def delete(self, id: str) -> None: ...
    def __len__(self) -> int: ...
