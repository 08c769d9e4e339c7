"""Default values of function inputs, as the service sends them, decoded without running code.

The official SDK uploads an optional input's default in the item's `data` as base64 of a
cloudpickle of the value (`"gAWVDwAAAAAAAACMC2h0ZGVtdWNzX2Z0lC4="` is `"htdemucs_ft"`); other
implementations send a plain JSON `default` field, or plain JSON in `data`.

Unpickling normally runs code (a pickle names any callable and its arguments), so
`unpickle_plain` never lets it: before anything is unpickled, the stream is walked opcode by
opcode with `pickletools.genops` (which only parses) and refused unless every opcode builds a
plain value: str, int, float, bool, None, list, tuple or dict. Opcodes that import a name
(GLOBAL, STACK_GLOBAL, extension codes), call something (REDUCE, NEWOBJ, OBJ, INST, BUILD) or
reach outside the stream (persistent ids, out-of-band buffers) are refused, and the unpickler's
`find_class` refuses every global as a second wall. The input size, the memo indexes, the
nesting depth and the size of the decoded value are all bounded, so a hostile or damaged stream
costs little time and memory and ends as "has a default, value unknown", never a crash.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import pickle
import pickletools
from collections.abc import Mapping
from typing import Any

#: Base64 text longer than this is not decoded (defaults are small; this bounds the work).
MAX_ENCODED_CHARS = 64 * 1024
#: A decoded value with more nodes (containers, scalars) than this is refused.
MAX_NODES = 10_000
#: ... or nested deeper than this.
MAX_DEPTH = 64
#: ... or holding more characters of strings (shared strings are counted at each use).
MAX_CHARS = 256 * 1024
#: The largest memo index a plain default could need (one per opcode at most).
_MAX_MEMO_INDEX = MAX_ENCODED_CHARS

# Opcodes that build plain values, move them on the stack or memo, or frame the stream.
_PLAIN_OPCODES = frozenset(
    {
        "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "MEMOIZE",
        "PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET",
        "NONE", "NEWTRUE", "NEWFALSE",
        "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
        "FLOAT", "BINFLOAT",
        "STRING", "BINSTRING", "SHORT_BINSTRING",
        "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
        "EMPTY_LIST", "APPEND", "APPENDS", "LIST",
        "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
        "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
    }
)  # fmt: skip
_MEMO_OPCODES = frozenset({"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"})


class UnsafePickle(ValueError):
    """The stream is not a pickle of a plain value (or is damaged, or too large)."""


class _NoGlobals(pickle.Unpickler):
    """An unpickler that refuses every global: nothing can be imported, so nothing is called."""

    def find_class(self, module: str, name: str) -> Any:
        raise UnsafePickle(f"refused global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle("refused persistent id")


def unpickle_plain(data: bytes) -> Any:
    """The plain JSON value a pickle holds; UnsafePickle for anything else.

    Runs no code whatever the stream says: see the module docstring.
    """
    if len(data) > MAX_ENCODED_CHARS:
        raise UnsafePickle(f"{len(data)} bytes is too large for a default")
    _check_opcodes(data)
    try:
        value = _NoGlobals(io.BytesIO(data)).load()
    except UnsafePickle:
        raise
    except Exception as error:  # a damaged stream fails in many ways; all mean "unknown"
        raise UnsafePickle(f"not a readable pickle ({type(error).__name__})") from None
    return to_plain_json(value)


def _check_opcodes(data: bytes) -> None:
    """Parse (never execute) the stream and refuse any opcode that is not plain."""
    stopped = False
    try:
        for opcode, argument, _position in pickletools.genops(io.BytesIO(data)):
            if opcode.name not in _PLAIN_OPCODES:
                raise UnsafePickle(f"refused opcode {opcode.name}")
            if opcode.name in _MEMO_OPCODES and not (
                isinstance(argument, int) and 0 <= argument <= _MAX_MEMO_INDEX
            ):
                raise UnsafePickle(f"memo index {argument!r} out of range")
            stopped = opcode.name == "STOP"
    except UnsafePickle:
        raise
    except Exception as error:  # truncated or malformed: genops says ValueError and others
        raise UnsafePickle(f"not a readable pickle ({type(error).__name__})") from None
    if not stopped:
        raise UnsafePickle("the pickle does not end with STOP")


def to_plain_json(value: Any) -> Any:
    """`value` as JSON data (tuples as lists); UnsafePickle if it is not plain or too large.

    Shared or self-referencing containers are walked once per use, within the node budget, so
    a small stream that expands to a huge (or endless) value is refused instead of built.
    """
    budget = {"nodes": MAX_NODES, "chars": MAX_CHARS}

    def convert(item: Any, depth: int) -> Any:
        budget["nodes"] -= 1
        if budget["nodes"] < 0 or depth > MAX_DEPTH:
            raise UnsafePickle("the value is too large or too deeply nested")
        if item is None or isinstance(item, (bool, int)):
            if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 64:
                raise UnsafePickle("an integer beyond 64 bits")
            return item
        if isinstance(item, float):
            if not math.isfinite(item):
                raise UnsafePickle("a float that JSON cannot carry")
            return item
        if isinstance(item, str):
            budget["chars"] -= len(item)
            if budget["chars"] < 0:
                raise UnsafePickle("the value is too large")
            return item
        if type(item) in (list, tuple):
            return [convert(element, depth + 1) for element in item]
        if type(item) is dict:
            converted = {}
            for key, element in item.items():
                if not isinstance(key, str):
                    raise UnsafePickle("a dict key that is not a string")
                converted[convert(key, depth + 1)] = convert(element, depth + 1)
            return converted
        raise UnsafePickle(f"a {type(item).__name__} is not plain JSON")

    return convert(value, 0)


def decode_pickled(text: Any) -> tuple[bool, Any] | None:
    """None when `text` is not the SDK's base64 pickle at all; else `(True, value)` for a
    plain value, `(False, None)` for one that cannot be decoded safely.

    A pickle starts with the PROTO opcode (`\\x80`, then protocol 2 or later, as cloudpickle
    writes), so ordinary strings are not mistaken for one.
    """
    if not isinstance(text, str) or not text.startswith("gA"):
        return None
    if len(text) > MAX_ENCODED_CHARS * 4 // 3 + 4:
        return False, None  # too large to be worth decoding: a default, value unknown
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 3 or raw[0] != 0x80 or not 2 <= raw[1] <= pickle.HIGHEST_PROTOCOL:
        return None
    try:
        return True, unpickle_plain(raw)
    except UnsafePickle:
        return False, None


def encode_pickled(value: Any) -> str:
    """base64 of a pickle of `value` as the SDK uploads defaults (protocol 5, as cloudpickle
    writes a plain value); for the local backend's live-shaped metadata."""
    return base64.b64encode(pickle.dumps(value, protocol=5)).decode("ascii")


def explicit_default(item: Mapping[str, Any]) -> tuple[bool, Any] | None:
    """`(known, value)` of an input item's default when the item states it unambiguously: a
    plain JSON `default` field (used when present), else `data` holding the SDK's pickle.

    None when neither is there: `data` is then plain JSON (or nothing), which the caller
    judges against the input's type (see `runner.schemas.derive`).
    """
    if "default" in item:
        try:
            return True, to_plain_json(item["default"])
        except UnsafePickle:
            return False, None
    return decode_pickled(item.get("data"))
