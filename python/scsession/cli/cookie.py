"""``inspect``: what a session cookie holds, or exactly why it does not open."""

from __future__ import annotations

import argparse
import datetime
import decimal
import math
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scsession.cli.errors import Refused, UsageError
from scsession.cli.stores import open_store, run

if TYPE_CHECKING:
    from scsession import _core

#: The middleware's defaults, which `inspect` assumes unless told otherwise.
DEFAULT_COOKIE_NAME = "session"
DEFAULT_MAX_AGE = 1209600


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


def expiry_reason(why: _core.Expiry, created: int) -> str:
    kind, limit, at = why.reason, why.limit, why.at
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
        found = sealer.inspect_cookie(value)
    except ValueError as error:
        raise Refused(f'the "{name}" cookie does not open: {error}') from error
    report: dict[str, Any] = {"cookie_name": name}
    if found.kind == "signed id":
        report |= {"kind": "server-side session id", "id": found.id, "mac": "verified"}
        if args.store is None:
            return report, None
        found = load_record(args, sealer, found.id)
        report["kind"] = "server-side session"
    else:
        report |= {"kind": "cookie session", "id": found.id}
    key_id, created, last_seen, data_bytes = (
        found.key_id,
        found.created,
        found.last_seen,
        found.data,
    )
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


def load_record(args: argparse.Namespace, sealer: _core.Sealer, session_id: str) -> _core.Inspected:
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
