"""Where each key and value of a TOML document was written (line and column).

`tomllib` returns plain dicts without positions, so this module scans the source text a second
time with a small tokenizer that knows just enough TOML to follow keys: bare, quoted and dotted
keys, `[table]` and `[[array of tables]]` headers, inline tables, arrays (across lines, with
comments), and every string form (so a `#`, `=` or `[` inside a string is never mistaken for
syntax). Values themselves are skipped, not decoded.

It only ever runs on text that `tomllib` has already accepted. If it still meets something it
does not understand, it stops and keeps what it indexed so far: positions are a help for
messages, never a reason to fail.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterator

from runner._toml import toml_loads

#: A path into the parsed document: table keys (str) and array indexes (int).
KeyPath = tuple["str | int", ...]
#: (line, column), both counted from 1; columns count characters, not bytes.
Position = tuple[int, int]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# regular expressions do the character loops: this runs on every manifest load
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SPACES = re.compile(r"[ \t]*")
_BLANK = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_SCALAR = re.compile(r"[^,\]}\n#\r]+")
_NEWLINE = re.compile(r"\n")


class PositionIndex:
    """Positions of keys and values, looked up by key path.

    `key(path)` is where the key (or table header) naming `path` starts; `value(path)` is where
    its value starts (array items only have a value position). Both fall back to the nearest
    enclosing path that has one, so every lookup of a path inside the document finds something.
    Built from a document's text (`index_positions`), the index is made at the first lookup:
    a manifest without problems is never located, and indexing costs about as much as parsing.
    """

    def __init__(
        self,
        keys: dict[KeyPath, Position],
        values: dict[KeyPath, Position],
        *,
        text: str | None = None,
    ) -> None:
        self._keys = keys
        self._values = values
        self._text = text

    def _indexed(self) -> None:
        if self._text is None:
            return
        scanner = _Scanner(self._text)
        self._text = None
        with contextlib.suppress(_Stop, IndexError, ValueError):
            scanner.document()
        self._keys, self._values = scanner.keys, scanner.values

    def key(self, path: KeyPath) -> Position | None:
        """Where the key for `path` (or its nearest indexed ancestor) was written."""
        self._indexed()
        for end in range(len(path), 0, -1):
            prefix = path[:end]
            found = self._keys.get(prefix) or self._values.get(prefix)
            if found:
                return found
        return None

    def value(self, path: KeyPath) -> Position | None:
        """Where the value at `path` starts, else where its key (or an ancestor's) is."""
        self._indexed()
        return self._values.get(path) or self.key(path)

    def exact_value(self, path: KeyPath) -> Position | None:
        """Where the value at exactly `path` starts (no fallback)."""
        self._indexed()
        return self._values.get(path)

    def key_paths(self) -> set[KeyPath]:
        """Every path that has a key position (tests compare it with the parsed document)."""
        self._indexed()
        return set(self._keys)

    def value_paths(self) -> set[KeyPath]:
        self._indexed()
        return set(self._values)


class _Stop(Exception):
    """The scanner met text it does not understand; keep what was indexed."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line_starts = [0, *(match.end() for match in _NEWLINE.finditer(text))]
        self.keys: dict[KeyPath, Position] = {}
        self.values: dict[KeyPath, Position] = {}
        # resolved path of an array of tables -> how many entries it has so far
        self.array_tables: dict[KeyPath, int] = {}

    # --- positions -------------------------------------------------------------------------

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def mark_key(self, path: KeyPath, offset: int) -> None:
        self.keys.setdefault(path, self.position(offset))

    def mark_value(self, path: KeyPath, offset: int) -> None:
        self.values.setdefault(path, self.position(offset))

    # --- low-level reading -----------------------------------------------------------------

    def peek(self, count: int = 1) -> str:
        return self.text[self.pos : self.pos + count]

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_spaces(self) -> None:
        self.pos = _SPACES.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def skip_comment(self) -> None:
        if self.peek() == "#":
            end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if end < 0 else end

    def skip_blank(self) -> None:
        """Spaces, newlines and comments (between array items, between statements)."""
        self.pos = _BLANK.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise _Stop
        self.pos += len(token)

    # --- strings ---------------------------------------------------------------------------

    def skip_string(self) -> str:
        """Skip a string of any form at the cursor; return its raw text including quotes."""
        start = self.pos
        text = self.text
        quote = text[start]
        triple = text.startswith(quote * 3, start)
        if triple:
            end = self._find_close(start + 3, quote * 3, escapes=quote == '"')
            end += 3
            # a closing delimiter may be preceded by up to two quotes that belong to the string
            extra = 0
            while extra < 2 and end < len(text) and text[end] == quote:
                end += 1
                extra += 1
        else:
            end = self._find_close(start + 1, quote, escapes=quote == '"') + 1
        self.pos = end
        return text[start:end]

    def _find_close(self, pos: int, closer: str, *, escapes: bool) -> int:
        text = self.text
        while True:
            end = text.find(closer, pos)
            if end < 0:
                raise _Stop
            if not escapes:
                return end
            backslash = text.find("\\", pos, end)
            if backslash < 0:
                return end
            # skip the escaped character and look again from after it
            pos = backslash + 2

    # --- keys ------------------------------------------------------------------------------

    def read_key(self) -> list[tuple[str, int]]:
        """A (possibly dotted) key: its parts and the offset each part starts at."""
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_spaces()
            start = self.pos
            char = self.peek()
            if char in ('"', "'"):
                raw = self.skip_string()
                parts.append((_decode_quoted_key(raw), start))
            else:
                match = _BARE_KEY.match(self.text, start)
                if match is None:
                    raise _Stop
                parts.append((match.group(), start))
                self.pos = match.end()
            self.skip_spaces()
            if self.peek() != ".":
                return parts
            self.pos += 1

    # --- document --------------------------------------------------------------------------

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank()
            if self.at_end():
                return
            if self.peek(2) == "[[":
                table = self.header(array=True)
            elif self.peek() == "[":
                table = self.header(array=False)
            else:
                self.key_value(table)
            self.skip_spaces()
            self.skip_comment()

    def header(self, *, array: bool) -> KeyPath:
        self.pos += 2 if array else 1
        parts = self.read_key()
        self.expect("]]" if array else "]")
        resolved: list[str | int] = []
        for number, (name, offset) in enumerate(parts):
            resolved.append(name)
            path = tuple(resolved)
            last = number == len(parts) - 1
            if last and array:
                count = self.array_tables.get(path, 0) + 1
                self.array_tables[path] = count
                self.mark_key(path, offset)
                resolved.append(count - 1)
                self.mark_key(tuple(resolved), offset)
            else:
                self.mark_key(path, offset)
                if path in self.array_tables:
                    resolved.append(self.array_tables[path] - 1)
        return tuple(resolved)

    def key_value(self, table: KeyPath) -> None:
        path = self.dotted_key(table)
        self.skip_spaces()
        self.expect("=")
        self.skip_spaces()
        self.value(path)

    def dotted_key(self, table: KeyPath) -> KeyPath:
        path = table
        for name, offset in self.read_key():
            path = (*path, name)
            self.mark_key(path, offset)
        return path

    def value(self, path: KeyPath) -> None:
        self.mark_value(path, self.pos)
        char = self.peek()
        if char in ('"', "'"):
            self.skip_string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            self.scalar()

    def scalar(self) -> None:
        match = _SCALAR.match(self.text, self.pos)
        if match is None:
            raise _Stop
        self.pos = match.end()

    def array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_blank()
            if self.peek() == "]":
                self.pos += 1
                return
            self.value((*path, index))
            index += 1
            self.skip_blank()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                raise _Stop

    def inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            # newlines and comments are not TOML 1.0 inside inline tables, but TOML 1.1 allows
            # them; accepting them here costs nothing
            self.skip_blank()
            if self.peek() == "}":
                self.pos += 1
                return
            self.key_value(path)
            self.skip_blank()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "}":
                raise _Stop


def _decode_quoted_key(raw: str) -> str:
    if raw.startswith("'"):
        return raw[1:-1]
    # a basic string's escapes are exactly TOML's; let the real parser decode them
    decoded = toml_loads(f"k = {raw}")["k"]
    return str(decoded)


def index_positions(text: str) -> PositionIndex:
    """The key and value positions of `text`, a document tomllib accepted (indexed when first
    looked up)."""
    return PositionIndex({}, {}, text=text)


def format_key_path(path: KeyPath) -> str:
    """`("inputs", "file", 0)` -> `inputs.file[0]`; keys that are not bare are quoted."""
    return "".join(_format_parts(path))


def _format_parts(path: KeyPath) -> Iterator[str]:
    for number, part in enumerate(path):
        if isinstance(part, int):
            yield f"[{part}]"
        elif part and all(char in _BARE_KEY_CHARS for char in part):
            yield f".{part}" if number else part
        else:
            quoted = '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            yield f".{quoted}" if number else quoted
