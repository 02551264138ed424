"""Every type in the contract survives a round trip through the cookie or the store, type and all;
anything else is refused with an error that names the key."""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

MakeClient = Callable[..., TestClient]


class MyStr(str):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyList(list[Any]):
    pass


class MyDict(dict[str, Any]):
    pass


class Colour(enum.IntEnum):
    RED = 1


UTC = dt.UTC
PLUS_0530 = dt.timezone(dt.timedelta(hours=5, minutes=30))
MINUS_0345 = dt.timezone(dt.timedelta(hours=-3, minutes=-45))

# name: value to store (the expected value is the same, with the same types, unless given below)
ROUND_TRIP: dict[str, Any] = {
    "None": None,
    "True": True,
    "False": False,
    "zero": 0,
    "small int": -12345,
    "i64 max": 2**63 - 1,
    "i64 min": -(2**63),
    "just over i64": 2**63,
    "just under i64": -(2**63) - 1,
    "u64 max": 2**64 - 1,
    "huge int": 10**100 + 7,
    "huge negative int": -(3**300),
    "float": 0.1,
    "negative zero": -0.0,
    "subnormal": 5e-324,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "empty str": "",
    "str": "héllo wörld ✓ 🎉 \x00 nul",
    "empty bytes": b"",
    "bytes": bytes(range(256)),
    "empty list": [],
    "list": [1, "two", 3.0, None, [4, [5]]],
    "empty tuple": (),
    "tuple": (1, ("nested", b"x"), [2]),
    "set": {1, "a", (2, 3), None},
    "empty set": set(),
    "frozenset": frozenset({1, frozenset({2})}),
    "dict": {"x": {"y": [1, {"z": None}]}},
    "dict with non-str keys": {
        1: "int",
        None: "none",
        (1, 2): "tuple",
        b"raw": "bytes",
        frozenset({3}): "frozenset",
        2.5: "float",
        False: "bool",
        dt.date(2024, 1, 2): "date",
        uuid.UUID(int=7): "uuid",
        Decimal("7.77"): "decimal",
    },
    "naive datetime": dt.datetime(2024, 2, 29, 23, 59, 58, 123456),
    "utc datetime": dt.datetime(2024, 1, 1, 12, 0, tzinfo=UTC),
    "+05:30 datetime": dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=PLUS_0530),
    "-03:45 datetime": dt.datetime(2030, 6, 15, 1, 2, 3, tzinfo=MINUS_0345),
    "min datetime": dt.datetime.min,
    "max datetime": dt.datetime.max,
    "date": dt.date(2024, 2, 29),
    "min date": dt.date.min,
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "random uuid": uuid.uuid4(),
    "decimal": Decimal("3.14159265358979323846264338327950288"),
    "decimal trailing zeros": Decimal("1.10"),
    "decimal negative exponent": Decimal("-1E-30"),
    "decimal infinity": Decimal("-Infinity"),
    "deep but allowed": [[[[[[[[[[[[[[[["bottom"]]]]]]]]]]]]]]]],
}

# name: (value stored, value expected back)
CONVERTED: dict[str, tuple[Any, Any]] = {
    "str subclass": (MyStr("s"), "s"),
    "int subclass": (MyInt(5), 5),
    "IntEnum": (Colour.RED, 1),
    "float subclass": (MyFloat(1.5), 1.5),
    "list subclass": (MyList([1, MyStr("x")]), [1, "x"]),
    "dict subclass": (MyDict(a=MyInt(1)), {"a": 1}),
    "zoneinfo datetime": (
        dt.datetime(2024, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris")),
        dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    ),
    "zoneinfo datetime in winter": (
        dt.datetime(2024, 1, 1, 12, 0, tzinfo=ZoneInfo("America/New_York")),
        dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ),
}


def same(got: Any, expected: Any, where: str = "value") -> None:
    """Equal, and of exactly the same type, all the way down."""
    assert type(got) is type(expected), f"{where}: {type(got)} is not {type(expected)}"
    if isinstance(expected, float):
        if math.isnan(expected):
            assert math.isnan(got), where
        else:
            assert got == expected and math.copysign(1, got) == math.copysign(1, expected), where
    elif isinstance(expected, Decimal):
        assert str(got) == str(expected), where
    elif isinstance(expected, dt.datetime):
        assert got == expected, where
        assert (got.tzinfo is None) == (expected.tzinfo is None), where
        if expected.tzinfo is not None:
            assert type(got.tzinfo) is dt.timezone, f"{where}: tzinfo {got.tzinfo!r}"
            assert got.utcoffset() == expected.utcoffset(), where
            assert got.replace(tzinfo=None) == expected.replace(tzinfo=None), where
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            same(g, e, f"{where}[{i}]")
    elif isinstance(expected, dict):
        assert list(got) == list(expected), f"{where}: keys {list(got)} != {list(expected)}"
        for (gk, gv), (ek, ev) in zip(got.items(), expected.items(), strict=True):
            same(gk, ek, f"{where} key {ek!r}")
            same(gv, ev, f"{where}[{ek!r}]")
    elif isinstance(expected, set | frozenset):
        assert got == expected, where
        by_value = {e: e for e in expected}
        for g in got:
            same(g, by_value[g], f"{where} element {g!r}")
    else:
        assert got == expected, where


# The value round-trips in-process: one endpoint stores it, the next request reads it back.
values: dict[str, Any] = {}
seen: dict[str, Any] = {}


async def store_value(request: Request) -> Response:
    request.session["value"] = values["value"]
    return JSONResponse({"ok": True})


async def read_value(request: Request) -> Response:
    seen["value"] = request.session["value"]
    return JSONResponse({"ok": True})


def round_trip(make_client: MakeClient, value: Any) -> Any:
    values["value"] = value
    seen.clear()
    client = make_client(
        routes=[Route("/store", store_value, methods=["POST"]), Route("/read", read_value)]
    )
    assert client.post("/store").status_code == 200
    assert client.cookies.get("session"), "the value was not saved"
    assert client.get("/read").status_code == 200
    return seen["value"]


@pytest.mark.parametrize("value", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_round_trip_keeps_value_and_type(make_client: MakeClient, value: Any) -> None:
    same(round_trip(make_client, value), value)


@pytest.mark.parametrize(("value", "expected"), CONVERTED.values(), ids=CONVERTED.keys())
def test_subclasses_come_back_as_the_base_type(
    make_client: MakeClient, value: Any, expected: Any
) -> None:
    same(round_trip(make_client, value), expected)


def test_aware_datetime_keeps_its_offset_not_utc(make_client: MakeClient) -> None:
    value = dt.datetime(2024, 3, 1, 9, 30, tzinfo=PLUS_0530)
    got = round_trip(make_client, value)
    assert got.tzinfo == PLUS_0530
    assert (got.hour, got.minute) == (9, 30)


def test_bool_is_not_int_and_int_is_not_float(make_client: MakeClient) -> None:
    got = round_trip(make_client, [True, 1, 1.0, False, 0, 0.0])
    assert [type(x) for x in got] == [bool, int, float, bool, int, float]


def test_all_types_together(make_client: MakeClient) -> None:
    everything = dict(ROUND_TRIP)
    same(round_trip(make_client, everything), everything)


# --- refused values ------------------------------------------------------------------------------


class Opaque:
    pass


UNSUPPORTED: dict[str, Callable[[], Any]] = {
    "object": object,
    "class instance": Opaque,
    "function": lambda: len,
    "complex": lambda: 1 + 2j,
    "time": lambda: dt.time(12, 30),
    "timedelta": lambda: dt.timedelta(days=1),
    "range": lambda: range(3),
    "type": lambda: int,
}


async def set_bad_top_level(request: Request) -> Response:
    request.session["ok"] = 1
    try:
        request.session["precious_key"] = values["value"]
    except TypeError as error:
        return JSONResponse({"error": str(error)})
    return JSONResponse({"error": None})


@pytest.mark.parametrize("make", UNSUPPORTED.values(), ids=UNSUPPORTED.keys())
def test_unsupported_top_level_value_is_a_type_error_at_setitem_naming_the_key(
    make_client: MakeClient, make: Callable[[], Any]
) -> None:
    values["value"] = make()
    client = make_client(routes=[Route("/bad", set_bad_top_level, methods=["POST"])])
    error = client.post("/bad").json()["error"]
    assert error is not None and "precious_key" in error
    assert client.get("/view").json() == {"session": {"ok": 1}}


async def update_with_bad_value(request: Request) -> Response:
    request.session.update({"ok": 1, "precious_key": values["value"]})
    return JSONResponse({"handler": "done"})


async def setdefault_with_bad_value(request: Request) -> Response:
    request.session.setdefault("precious_key", values["value"])
    return JSONResponse({"handler": "done"})


@pytest.mark.parametrize("endpoint", [update_with_bad_value, setdefault_with_bad_value])
def test_unsupported_value_through_update_or_setdefault_is_a_type_error_naming_the_key(
    make_client: MakeClient, endpoint: Callable[[Request], Any]
) -> None:
    values["value"] = Opaque()
    client = make_client(routes=[Route("/bad", endpoint, methods=["POST"])])
    with pytest.raises(TypeError, match="precious_key"):
        client.post("/bad")


async def set_bad_nested_later(request: Request) -> Response:
    request.session["basket"] = [1, {"fine": [2]}]
    request.session["basket"][1]["fine"].append(values["value"])
    return JSONResponse({"handler": "done"})


@pytest.mark.parametrize("make", UNSUPPORTED.values(), ids=UNSUPPORTED.keys())
def test_unsupported_nested_value_fails_when_the_response_starts(
    make_client: MakeClient, make: Callable[[], Any]
) -> None:
    values["value"] = make()
    client = make_client(routes=[Route("/bad", set_bad_nested_later, methods=["POST"])])
    with pytest.raises(TypeError, match="basket"):
        client.post("/bad")


async def set_unsupported_key(request: Request) -> Response:
    request.session["mapping"] = {values["value"]: 1}
    return JSONResponse({"handler": "done"})


def test_unsupported_dict_key_is_a_type_error_naming_the_key(make_client: MakeClient) -> None:
    values["value"] = Opaque()
    client = make_client(routes=[Route("/bad", set_unsupported_key, methods=["POST"])])
    with pytest.raises(TypeError, match="mapping"):
        client.post("/bad")


def nested_lists(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def self_referencing() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


def nested_dicts(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"d": value}
    return value


TOO_DEEP: dict[str, Callable[[], Any]] = {
    "40 nested lists": lambda: nested_lists(40),
    "40 nested dicts": lambda: nested_dicts(40),
    "100k nested lists": lambda: nested_lists(100_000),
    "a list that contains itself": self_referencing,
}


async def set_deep(request: Request) -> Response:
    request.session["deep_key"] = values["value"]
    return JSONResponse({"handler": "done"})


@pytest.mark.parametrize("make", TOO_DEEP.values(), ids=TOO_DEEP.keys())
def test_too_deep_nesting_is_an_error_naming_the_key(
    make_client: MakeClient, make: Callable[[], Any]
) -> None:
    values["value"] = make()
    client = make_client(routes=[Route("/deep", set_deep, methods=["POST"])])
    with pytest.raises((TypeError, ValueError), match="deep_key"):
        client.post("/deep")


def test_moderate_nesting_is_fine(make_client: MakeClient) -> None:
    value = nested_lists(20)
    same(round_trip(make_client, value), value)


def test_a_set_serializes_to_the_same_bytes_in_every_process() -> None:
    """Set iteration order follows salted string hashes; an unchanged session holding a set
    must still compare equal in another worker, or every read would rewrite the cookie."""
    import os
    import subprocess
    import sys

    script = (
        "import sys; from scsession import _core; "
        "sys.stdout.write(_core.dumps({'tags': {f'tag{i}' for i in range(40)}}).hex())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
