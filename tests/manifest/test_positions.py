"""The TOML position index: every key and value maps back to its line and column.

The property test writes random documents in random styles (bare and quoted keys, dotted keys,
headers, arrays of tables, inline tables, multi-line arrays with comments, every string form)
while recording where it put each key and value, then checks the index finds exactly those.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner._toml import toml_loads
from runner.manifest.positions import format_key_path, index_positions

BARE = re.compile(r"[A-Za-z0-9_-]+")


class Date(str):
    """A TOML date/time literal, written as it is."""


def test_positions_of_a_handwritten_manifest() -> None:
    text = (
        "version = 1\n"
        "[jobs.dub]  # a comment with = and [brackets]\n"
        'function = "sieve/dubbing"\n'
        'inputs = { source_file = { url = "x" }, "target language" = "fr" }\n'
        "matrix.lang = [\n"
        '  "spanish",  # first\n'
        "  'french',\n"
        "]\n"
        "[[jobs.dub.webhooks]]\n"
        'url = """a\n"b"""""\n'
        "[[jobs.dub.webhooks]]\n"
        "url = 'c'\n"
    )
    index = index_positions(text)
    assert index.key(("version",)) == (1, 1)
    assert index.key(("jobs", "dub")) == (2, 7)
    assert index.key(("jobs", "dub", "function")) == (3, 1)
    assert index.value(("jobs", "dub", "function")) == (3, 12)
    assert index.key(("jobs", "dub", "inputs", "source_file", "url")) == (4, 28)
    assert index.key(("jobs", "dub", "inputs", "target language")) == (4, 41)
    assert index.key(("jobs", "dub", "matrix", "lang")) == (5, 8)
    assert index.value(("jobs", "dub", "matrix", "lang", 0)) == (6, 3)
    assert index.value(("jobs", "dub", "matrix", "lang", 1)) == (7, 3)
    assert index.key(("jobs", "dub", "webhooks", 0, "url")) == (10, 1)
    assert index.key(("jobs", "dub", "webhooks", 1, "url")) == (13, 1)


def test_lookup_falls_back_to_the_nearest_ancestor() -> None:
    index = index_positions("[jobs.a]\ninputs = { x = 1 }\n")
    assert index.key(("jobs", "a", "inputs", "x", "deeper", 3)) == (2, 12)
    assert index.value(("jobs", "a", "nothing")) == (1, 7)
    assert index.key(("absent",)) is None


def test_text_the_scanner_cannot_follow_keeps_what_it_indexed() -> None:
    index = index_positions("a = 1\nb = \x00 nonsense\n")
    assert index.key(("a",)) == (1, 1)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("inputs", "file", 0), "inputs.file[0]"),
        (("env", "MY KEY"), 'env."MY KEY"'),
        ((), ""),
    ],
)
def test_format_key_path(path: tuple[str | int, ...], expected: str) -> None:
    assert format_key_path(path) == expected


# --- property test: a random writer that records where it put everything ---------------------

keys = st.text(max_size=6).filter(lambda key: "\x00" not in key)
dates = st.sampled_from(
    [
        Date("1979-05-27T07:32:00Z"),
        Date("1979-05-27 07:32:00"),
        Date("07:32:00"),
        Date("1979-05-27"),
    ]
)
scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(),
    dates,
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=16,
)
documents = st.dictionaries(keys, trees, max_size=5)


class Writer:
    """Writes a document in styles chosen by hypothesis and records every position."""

    def __init__(self, choose: Any) -> None:
        self.choose = choose
        self.parts: list[str] = []
        self.length = 0
        self.keys: dict[tuple[Any, ...], int] = {}
        self.values: dict[tuple[Any, ...], int] = {}

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def space(self) -> None:
        self.emit(self.choose(st.sampled_from(["", " ", "  ", "\t"])))

    def blank(self) -> None:
        """Between statements: maybe a comment, maybe empty lines."""
        if self.choose(st.booleans()):
            self.emit("# a comment = [x] 'y' \"z\"\n")
        if self.choose(st.booleans()):
            self.emit("\n")

    def key(self, name: str, path: tuple[Any, ...]) -> None:
        self.keys.setdefault(path, self.length)
        if BARE.fullmatch(name) and self.choose(st.booleans()):
            self.emit(name)
        elif "'" not in name and not _has_control(name) and self.choose(st.booleans()):
            self.emit(f"'{name}'")
        else:
            self.emit(tomli_w.dumps({"k": name})[4:].strip())

    def scalar(self, value: Any) -> None:
        if isinstance(value, Date):
            self.emit(str(value))
        elif isinstance(value, bool):
            self.emit("true" if value else "false")
        elif isinstance(value, int):
            style = self.choose(st.sampled_from(["plain", "underscore", "hex", "plus"]))
            if style == "underscore":
                self.emit(format(value, "_"))
            elif style == "hex" and value >= 0:
                self.emit(hex(value))
            elif style == "plus" and value >= 0:
                self.emit(f"+{value}")
            else:
                self.emit(str(value))
        elif isinstance(value, float):
            self.emit(repr(value))
        else:
            self.string(value)

    def string(self, value: str) -> None:
        basic = tomli_w.dumps({"k": value})[4:].strip()
        style = self.choose(st.sampled_from(["basic", "literal", "ml-basic", "ml-literal"]))
        plain = not _has_control(value.replace("\n", "").replace("\t", ""))
        if style == "literal" and plain and "'" not in value and "\n" not in value:
            self.emit(f"'{value}'")
        elif style == "ml-literal" and plain and "'''" not in value and not value.endswith("''"):
            self.emit(f"'''{value}'''")
        elif style == "ml-basic" and basic.startswith('"') and not basic.startswith('"""'):
            inner = basic[1:-1]
            # a quote right before the closing delimiter is legal and a classic parser trap
            if inner.endswith('\\"') and self.choose(st.booleans()):
                inner = inner[:-2] + '"'
            self.emit(f'"""{inner}"""')
        else:
            self.emit(basic)

    def value(self, value: Any, path: tuple[Any, ...]) -> None:
        self.values.setdefault(path, self.length)
        if isinstance(value, dict):
            self.inline_table(value, path)
        elif isinstance(value, list):
            self.emit("[")
            multiline = self.choose(st.booleans())
            for index, item in enumerate(value):
                self.emit("\n  " if multiline else "")
                self.space()
                self.value(item, (*path, index))
                self.space()
                if index < len(value) - 1 or self.choose(st.booleans()):
                    self.emit(",")
                if multiline and self.choose(st.booleans()):
                    self.emit("  # item ]\n")
            self.emit("\n]" if multiline else "]")
        else:
            self.scalar(value)

    def inline_table(self, table: dict[str, Any], path: tuple[Any, ...]) -> None:
        self.emit("{")
        for number, (name, item) in enumerate(table.items()):
            self.space()
            self.key(name, (*path, name))
            self.space()
            self.emit("=")
            self.space()
            self.value(item, (*path, name))
            self.space()
            if number < len(table) - 1:
                self.emit(",")
        self.emit("}")

    def dotted(self, prefix: list[tuple[str, tuple[Any, ...]]], value: Any) -> None:
        """`a.b.c = value`; nested non-empty tables may keep extending the dotted key."""
        if isinstance(value, dict) and value and self.choose(st.booleans()):
            for name, item in value.items():
                self.dotted([*prefix, (name, (*prefix[-1][1], name))], item)
            return
        for number, (name, path) in enumerate(prefix):
            if number:
                self.space()
                self.emit(".")
                self.space()
            self.key(name, path)
        self.space()
        self.emit("=")
        self.space()
        self.value(value, prefix[-1][1])
        self.emit("\n")
        self.blank()

    def body(self, table: dict[str, Any], path: tuple[Any, ...]) -> None:
        deferred: list[tuple[str, Any, str]] = []
        for name, item in table.items():
            is_aot = isinstance(item, list) and item and all(isinstance(x, dict) for x in item)
            if isinstance(item, dict) and self.choose(st.booleans()):
                deferred.append((name, item, "table"))
            elif is_aot and self.choose(st.booleans()):
                deferred.append((name, item, "aot"))
            else:
                self.dotted([(name, (*path, name))], item)
        for name, item, kind in deferred:
            if kind == "table":
                self.header((*path, name), array=False)
                self.body(item, (*path, name))
            else:
                for index, element in enumerate(item):
                    self.header((*path, name), array=True, index=index)
                    self.body(element, (*path, name, index))

    def header(self, path: tuple[Any, ...], *, array: bool, index: int = 0) -> None:
        self.emit("[[" if array else "[")
        self.space()
        names = [(number, part) for number, part in enumerate(path) if isinstance(part, str)]
        for count, (number, part) in enumerate(names):
            if count:
                self.space()
                self.emit(".")
                self.space()
            resolved = path[: number + 1]
            if array and count == len(names) - 1:
                self.keys.setdefault((*resolved, index), self.length)
            self.key(part, resolved)
        self.space()
        self.emit("]]\n" if array else "]\n")
        self.blank()


def _has_control(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents, data=st.data())
def test_index_finds_every_key_and_value_where_it_was_written(
    document: dict[str, Any], data: st.DataObject
) -> None:
    writer = Writer(data.draw)
    writer.blank()
    writer.body(document, ())
    text = "".join(writer.parts)
    parsed = toml_loads(text)  # the writer only writes valid TOML
    assert set(parsed) == set(document)

    index = index_positions(text)
    expected_keys = {path: _line_column(text, at) for path, at in writer.keys.items()}
    expected_values = {path: _line_column(text, at) for path, at in writer.values.items()}
    assert {path: index.key(path) for path in expected_keys} == expected_keys
    assert {path: index.value(path) for path in expected_values} == expected_values
    assert index.key_paths() == set(expected_keys)
    assert index.value_paths() == set(expected_values)


@settings(max_examples=100, deadline=None)
@given(document=documents)
def test_tomli_w_documents_index_every_table_key(document: dict[str, Any]) -> None:
    text = tomli_w.dumps(json.loads(json.dumps(document, default=str)))
    index = index_positions(text)
    for path in _key_paths(toml_loads(text)):
        assert index.key(path) is not None
        assert path in index.key_paths() or path[-1] == "" or isinstance(path[-1], int)


def _key_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    if isinstance(value, dict):
        for name, item in value.items():
            found.append((*path, name))
            found.extend(_key_paths(item, (*path, name)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_key_paths(item, (*path, index)))
    return found


def test_windows_line_endings() -> None:
    text = 'version = 1\r\n[jobs.a]\r\nfunction = "a/b"  # c\r\ninputs = [\r\n  1,\r\n  2,\r\n]\r\n'
    index = index_positions(text)
    assert index.key(("jobs", "a", "function")) == (3, 1)
    assert index.value(("jobs", "a", "function")) == (3, 12)
    assert index.value(("jobs", "a", "inputs", 1)) == (6, 3)
