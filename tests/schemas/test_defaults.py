"""Defaults as the live service sends them (base64 of the SDK's pickle), decoded without running
code: plain values come back as JSON, and hostile or damaged streams end as "value unknown"
without running anything, raising, or building something huge."""

from __future__ import annotations

import base64
import os
import pickle
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner.schemas.defaults import (
    MAX_ENCODED_CHARS,
    UnsafePickle,
    decode_pickled,
    encode_pickled,
    explicit_default,
    unpickle_plain,
)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@pytest.mark.parametrize(
    "value",
    ["htdemucs_ft", "", "None", 0, -1, 2**63 - 1, 0.25, 27.0, True, False, None,
     [], {}, [1, "a", None], {"a": [1, {"b": 2.5}]}],
)  # fmt: skip
def test_plain_values_round_trip(value: Any) -> None:
    assert decode_pickled(encode_pickled(value)) == (True, value)


def test_the_sdks_bytes_for_a_string_default() -> None:
    # What `schemas show sieve/demucs` used to print as the default of `model`.
    assert decode_pickled("gAWVDwAAAAAAAACMC2h0ZGVtdWNzX2Z0lC4=") == (True, "htdemucs_ft")


def test_tuples_become_lists() -> None:
    assert decode_pickled(encode_pickled((1, (2, "x")))) == (True, [1, [2, "x"]])


def test_ordinary_strings_are_not_pickles() -> None:
    for text in ("auto", "gpt4", "", "gA", "highest-available", "Y29zCnN5c3RlbQo="):
        assert decode_pickled(text) is None
    assert decode_pickled(42) is None


class _RunsCommand:
    """Pickles as a call of os.system: unpickling it with `pickle.loads` runs the command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


class _RunsPython:
    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (exec, (self.source,))


class _Popen:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv

    def __reduce__(self) -> tuple[Any, tuple[list[str]]]:
        return (subprocess.Popen, (self.argv,))


def test_hostile_pickles_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payloads = [
        pickle.dumps(_RunsCommand(f"touch {marker}"), protocol=5),
        pickle.dumps(_RunsCommand(f"touch {marker}"), protocol=2),
        pickle.dumps(_RunsPython(f"open({str(marker)!r}, 'w').write('x')"), protocol=5),
        pickle.dumps(_Popen(["touch", str(marker)]), protocol=4),
        # The payload inside a plain-looking value: a list whose second item is the call.
        pickle.dumps(["ok", _RunsCommand(f"touch {marker}")], protocol=5),
        # Protocol 0 spelled by hand: GLOBAL os.system, then REDUCE.
        b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.",
    ]
    # Each stream names the callable a plain unpickler would import and call.
    assert all(b"system" in raw or b"exec" in raw or b"Popen" in raw for raw in payloads)
    for raw in payloads:
        if raw.startswith(b"\x80"):
            assert decode_pickled(b64(raw)) == (False, None)
        with pytest.raises(UnsafePickle):
            unpickle_plain(raw)
        assert explicit_default({"data": b64(raw)}) in (None, (False, None))
    assert not marker.exists()


def test_every_global_is_refused_even_harmless_ones() -> None:
    for value in ({1, 2}, frozenset({1}), b"bytes", bytearray(b"x"), 1 + 2j, range(3)):
        with pytest.raises(UnsafePickle):
            unpickle_plain(pickle.dumps(value, protocol=5))


def test_truncated_and_damaged_streams_are_unknown() -> None:
    whole = pickle.dumps({"a": ["b" * 100, 1.5]}, protocol=5)
    for cut in (3, 10, len(whole) // 2, len(whole) - 1):
        assert decode_pickled(b64(whole[:cut])) == (False, None)
    assert decode_pickled(b64(b"\x80\x05" + b"\xff" * 20)) == (False, None)
    assert decode_pickled(b64(b"\x80\x05N")) == (False, None)  # no STOP


def test_huge_declared_sizes_allocate_nothing() -> None:
    # BINUNICODE8 and BINBYTES8 claiming 2**62 bytes, a FRAME of 2**62 bytes, and a memo
    # index of 2**32 - 1 (a plain unpickler sizes its memo to the index).
    huge = (2**62).to_bytes(8, "little")
    for raw in (
        b"\x80\x05\x8d" + huge + b"abc.",
        b"\x80\x05\x8e" + huge + b"abc.",
        b"\x80\x05\x95" + huge + b"N.",
        b"\x80\x05Nr\xff\xff\xff\xff.",
        b"\x80\x05Nq\x00h\x00j\xff\xff\xff\xff.",
    ):
        assert decode_pickled(b64(raw)) == (False, None)


def test_values_that_expand_are_refused() -> None:
    # 40 levels of [x, x]: a small stream (shared references) that is 2**40 items as JSON.
    laughs: list[Any] = ["lol"]
    for _ in range(40):
        laughs = [laughs, laughs]
    raw = pickle.dumps(laughs, protocol=5)
    assert len(raw) < 1000
    assert decode_pickled(b64(raw)) == (False, None)

    looped: list[Any] = []
    looped.append(looped)
    assert decode_pickled(encode_pickled(looped)) == (False, None)

    deep = b"\x80\x05" + b"]" * 5000 + b"a" * 4999 + b"."
    assert decode_pickled(b64(deep)) == (False, None)

    # One long string used many times.
    text = "x" * 60_000
    assert decode_pickled(encode_pickled([text] * 10)) == (False, None)


def test_values_json_cannot_carry_are_refused() -> None:
    for value in (float("nan"), float("inf"), 2**200, {1: "a"}, {("a",): 1}):
        assert decode_pickled(encode_pickled(value)) == (False, None)


def test_oversized_input_is_not_decoded() -> None:
    text = encode_pickled("x" * (MAX_ENCODED_CHARS + 10))
    assert decode_pickled(text) == (False, None)
    with pytest.raises(UnsafePickle, match="too large"):
        unpickle_plain(b"\x80\x05" + b"N" * MAX_ENCODED_CHARS + b".")


def test_random_bytes_never_raise() -> None:
    generator = random.Random(1234)
    for _ in range(2000):
        length = generator.randrange(0, 64)
        raw = b"\x80" + bytes([generator.randrange(2, 6)])
        raw += bytes(generator.randrange(256) for _ in range(length))
        result = decode_pickled(b64(raw))
        assert result is None or result[0] in (True, False)


def test_a_json_default_field_wins_over_data() -> None:
    assert explicit_default({"default": "fast", "data": encode_pickled("slow")}) == (True, "fast")
    assert explicit_default({"default": None, "data": None}) == (True, None)
    assert explicit_default({"default": float("nan")}) == (False, None)
    assert explicit_default({"data": encode_pickled(3)}) == (True, 3)
    assert explicit_default({"data": 3}) is None
    assert explicit_default({"data": "plain"}) is None
