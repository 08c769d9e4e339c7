"""Matrix rows from a data file: one job instance per row of a CSV, TSV, JSON Lines or JSON file.

```python
table = read_rows(Path("videos.csv"), "videos.csv", columns={"duration": "number"}, key="id")
table.rows[0].values        # {"id": "a1", "url": "https://...", "duration": 12.5}
table.problems              # located ManifestErrors: videos.csv:513: column 'url': empty value
```

The file is read once, as a stream (a CSV's rows are never all held as text), and hashed on the
way (`RowTable.sha256`, for the run record). Types: JSON Lines and JSON keep theirs; a CSV or
TSV cell is a `TextCell` (a `str`) unless `matrix.columns` declares its column, and
`coerce_cells` turns an undeclared cell into a number or boolean when the function's schema
wants one and the text is unambiguous. Lines count from 1 and the header is line 1, so every
problem points at the line a spreadsheet user sees.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from runner.errors import ManifestError, SourceLocation
from runner.manifest.matrix import plain_label
from runner.manifest.values import TOO_DEEP, TOO_DEEP_TO_READ, kind_of, too_deep

#: The suffixes `matrix.rows` reads, and how.
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
#: What `matrix.columns` may declare for a column of a CSV or TSV file.
COLUMN_TYPES = ("string", "number", "integer", "boolean", "json")
#: Past this many problems in one data file, the rest are counted, not listed.
MAX_PROBLEMS = 50

# JSON's own number grammar: "012", "1,000", " 12" and "1." stay text (they may be ids or typos).
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}


class TextCell(str):
    """Untyped text from outside the manifest (a CSV or TSV cell of an undeclared column, an
    environment variable that is a sink's whole setting): `coerce_cells` may turn it into the
    number or boolean a schema asks for."""

    __slots__ = ()


class RowFileError(ValueError):
    """The data file as a whole cannot be used (missing, unreadable, not a table); the loader
    reports it at `matrix.rows` in the manifest."""


@dataclass(slots=True)
class Row:
    """One row: its values (column -> value), its instance label (`row=3`, `id=a1`) and where
    it was written."""

    values: dict[str, Any]
    label: str
    path: str
    line: int
    column: int | None = None

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(self.path, self.line, self.column)


@dataclass
class RowTable:
    """The rows of a matrix (from a data file, `matrix.include`, or both) and what they hold.

    `columns` lists every column in first-seen order (a CSV's header, the union of a JSON
    file's keys); `source` is the data file as shown in messages and `sha256` its digest (None
    without a data file); `file_rows` counts the rows that come from the file.
    """

    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    source: str | None = None
    sha256: str | None = None
    file_rows: int = 0
    problems: list[ManifestError] = field(default_factory=list)
    _extra_problems: int = 0
    _first_extra_line: int = 0

    def problem(self, line: int, message: str, path: str | None = None) -> None:
        """Record a problem at `path:line` (the data file by default), up to MAX_PROBLEMS."""
        if len(self.problems) >= MAX_PROBLEMS:
            self._extra_problems += 1
            self._first_extra_line = self._first_extra_line or line
            return
        where = SourceLocation(path or self.source or "", line)
        self.problems.append(ManifestError(message, location=where))

    def all_problems(self) -> list[ManifestError]:
        """The problems, plus one line counting those left out."""
        if not self._extra_problems:
            return list(self.problems)
        # located at the first one left out, so it sorts after the ones listed
        more = ManifestError(
            f"... and {self._extra_problems:,} more problems from here on, not listed",
            location=SourceLocation(self.source or "", self._first_extra_line),
        )
        return [*self.problems, more]


def read_rows(
    path: Path,
    display: str,
    *,
    columns: Mapping[str, str] | None = None,
    key: str | None = None,
) -> RowTable:
    """The rows of the data file at `path` (`display` is how messages name it).

    `columns` declares CSV/TSV column types (see COLUMN_TYPES); `key` names the column whose
    values label the instances (else the row number). Problems in rows are collected in
    `RowTable.problems`; RowFileError when the file cannot be read as a table at all.
    """
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(FORMATS)
        raise RowFileError(
            f"{display}: cannot read rows from a {path.suffix or 'suffixless'} "
            f"file; use one of {known}"
        )
    try:
        raw = path.open("rb")
    except OSError as error:
        raise RowFileError(f"cannot read {display}: {error.strerror or error}") from None
    table = RowTable(source=display)
    hashing = _HashingReader(raw)
    try:
        with (
            paused_gc(),
            io.TextIOWrapper(io.BufferedReader(hashing), encoding="utf-8-sig", newline="") as text,
        ):
            if kind in ("csv", "tsv"):
                _read_delimited(text, table, "\t" if kind == "tsv" else ",", columns or {})
            elif kind == "jsonl":
                _read_json_lines(text, table)
            else:
                _read_json_array(text, table)
    except UnicodeDecodeError as error:
        raise RowFileError(
            f"{display} is not UTF-8 text ({error.reason} at byte {error.start}); save it as "
            "UTF-8 (CSV UTF-8 in a spreadsheet)"
        ) from None
    except OSError as error:
        raise RowFileError(f"cannot read {display}: {error.strerror or error}") from None
    table.sha256 = hashing.hexdigest()
    table.file_rows = len(table.rows)
    label_rows(table, key)
    return table


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: building 100,000 rows (acyclic dicts and strings)
    otherwise triggers full collections that scan them again and again (a third of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def label_rows(table: RowTable, key: str | None, *, start: int = 0, name: str = "row") -> None:
    """Give rows from `start` on their labels: `KEY=value`, or `name=N` (the row's number
    among them, from 1) without a key column.

    A key value that is not short and plain (`plain_label`) is labelled by a digest of it, so
    a label never changes when other rows are added. Duplicate and empty keys are problems.
    """
    if key is None:
        for number, row in enumerate(table.rows[start:], start=1):
            row.label = f"{name}={number}"
        return
    seen: dict[str, Row] = {}
    for row in table.rows[:start]:
        seen[row.label] = row
    for row in table.rows[start:]:
        if key not in row.values:
            continue  # a missing value is reported with the other used columns
        value = row.values[key]
        if value == "" or value is None or isinstance(value, (dict, list, bool)):
            shown = "empty value" if value in ("", None) else f"{kind_of(value)} cannot be a key"
            table.problem(row.line, f"key column {key!r}: {shown}", row.path)
            continue
        text = plain_label(value) or "~" + hashlib.sha256(str(value).encode()).hexdigest()[:10]
        label = f"{key}={text}"
        first = seen.get(label)
        if first is not None:
            where = f"line {first.line}" if first.path == row.path else str(first.location)
            table.problem(
                row.line,
                f"key column {key!r}: duplicate value {json.dumps(value, ensure_ascii=False)} "
                f"(first on {where}); each row needs its own key",
                row.path,
            )
            continue
        seen[label] = row
        row.label = label


def check_used_columns(table: RowTable, used: Collection[str]) -> None:
    """Report rows that lack a value the job uses: a missing key or an empty undeclared cell."""
    wanted = [name for name in table.columns if name in used]
    for row in table.rows:
        values = row.values
        for name in wanted:
            if name not in values:
                table.problem(row.line, f"column {name!r}: no value in this row", row.path)
            elif type(values[name]) is TextCell and not values[name]:
                table.problem(row.line, f"column {name!r}: empty value", row.path)


# --- reading ---------------------------------------------------------------------------------


def _read_delimited(
    text: IO[str], table: RowTable, delimiter: str, declared: Mapping[str, str]
) -> None:
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    source = table.source or ""
    header: list[str] | None = None
    converters: list[Any] = []
    untyped = True
    line = 1
    while True:
        line = reader.line_num + 1  # where this row starts (a quoted cell may span lines)
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            table.problem(reader.line_num, f"not valid CSV: {error}")
            if header is None:
                return
            continue
        if not cells:
            continue  # a blank line is no row
        if header is None:
            header = [cell.strip() for cell in cells]
            _check_header(table, header, line)
            converters = [_converter(declared.get(name)) for name in header]
            untyped = all(convert is TextCell for convert in converters)
            table.columns = header
            continue
        if len(cells) != len(header):
            hint = " (quote a value that contains a comma)" if len(cells) > len(header) else ""
            table.problem(line, f"{len(cells)} values for the header's {len(header)} columns{hint}")
            continue
        if untyped:  # the common case, 100,000 times: no per-cell calls but TextCell's
            table.rows.append(
                Row(dict(zip(header, map(TextCell, cells), strict=True)), "", source, line)
            )
            continue
        values: dict[str, Any] = {}
        for name, convert, cell in zip(header, converters, cells, strict=True):
            try:
                values[name] = convert(cell)
            except ValueError as error:
                table.problem(line, f"column {name!r}: {error}")
                break
        else:
            table.rows.append(Row(values, "", source, line))
    if header is None:
        raise RowFileError(f"{source} is empty: it needs a header line naming the columns")


def _check_header(table: RowTable, header: list[str], line: int) -> None:
    seen: set[str] = set()
    for number, name in enumerate(header, start=1):
        if not name:
            table.problem(line, f"the header's column {number} has no name")
        elif name in seen:
            table.problem(line, f"the header names column {name!r} twice")
        seen.add(name)


def _read_json_lines(text: IO[str], table: RowTable) -> None:
    source = table.source or ""
    columns: dict[str, None] = {}
    for line, content in enumerate(text, start=1):
        if not content.strip():
            continue
        try:
            value = json.loads(content)
        except json.JSONDecodeError as error:
            table.problem(line, f"not valid JSON: {error.msg} (column {error.colno})")
            continue
        except RecursionError:
            table.problem(line, TOO_DEEP_TO_READ)
            continue
        if _add_object(table, value, line, source):
            columns.update(dict.fromkeys(value))
    table.columns = list(columns)


def _read_json_array(text: IO[str], table: RowTable) -> None:
    # A JSON document cannot be parsed row by row without a streaming parser; one element at a
    # time with raw_decode still gives each row its line, and holds the text only once.
    source = table.source or ""
    document = text.read()
    decoder = json.JSONDecoder()
    position = _skip_space(document, 0)
    if document[position : position + 1] != "[":
        raise RowFileError(f"{source}: expected a JSON array of objects ([{{...}}, ...])")
    position += 1
    line, counted = 1, 0
    columns: dict[str, None] = {}
    while True:
        position = _skip_space(document, position)
        line += document.count("\n", counted, position)
        counted = position
        if document[position : position + 1] == "]":
            return _end_array(table, document, position, columns)
        try:
            value, end = decoder.raw_decode(document, position)
        except json.JSONDecodeError as error:
            table.problem(error.lineno, f"not valid JSON: {error.msg} (column {error.colno})")
            return
        except RecursionError:  # where this row ends is unknown: the rest cannot be read
            table.problem(line, TOO_DEEP_TO_READ)
            table.columns = list(columns)
            return
        if _add_object(table, value, line, source):
            columns.update(dict.fromkeys(value))
        position = _skip_space(document, end)
        following = document[position : position + 1]
        if following == ",":
            position += 1
        elif following != "]":
            line += document.count("\n", counted, position)
            table.problem(line, "not valid JSON: expected ',' or ']' after a row")
            table.columns = list(columns)
            return


def _end_array(table: RowTable, document: str, position: int, columns: dict[str, None]) -> None:
    table.columns = list(columns)
    rest = _skip_space(document, position + 1)
    if rest < len(document):
        line = document.count("\n", 0, rest) + 1
        table.problem(line, "not valid JSON: text after the array's closing ']'")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _add_object(table: RowTable, value: Any, line: int, source: str) -> bool:
    if not isinstance(value, dict):
        table.problem(
            line, f'a row must be a JSON object ({{"column": value, ...}}), got {kind_of(value)}'
        )
        return False
    deep = too_deep(value)
    if deep is not None:
        column = deep[0]
        table.problem(line, f"column {column!r}: {TOO_DEEP}")
        return False
    table.rows.append(Row(value, "", source, line))
    return True


# --- types -------------------------------------------------------------------------------------


def _converter(declared: str | None) -> Any:
    """cell text -> value for a column declared as `declared` (None: a TextCell)."""
    if declared is None:
        return TextCell
    if declared == "string":
        return str
    if declared == "json":
        return _parse_json_cell
    wanted = {"number": "a number", "integer": "an integer", "boolean": "true or false"}[declared]

    def convert(cell: str) -> Any:
        value = _parse_typed(cell.strip(), declared)
        if value is None:
            got = "an empty value" if not cell.strip() else json.dumps(cell, ensure_ascii=False)
            raise ValueError(f"expected {wanted}, got {got}")
        return value

    return convert


def _parse_json_cell(cell: str) -> Any:
    try:
        value = json.loads(cell)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON: {error.msg}") from None
    except RecursionError:
        raise ValueError(TOO_DEEP_TO_READ) from None
    if too_deep(value) is not None:
        raise ValueError(TOO_DEEP)
    return value


def _parse_typed(text: str, kind: str) -> Any:
    """`text` as a `kind` value (number, integer, boolean), or None when it is not one."""
    if kind == "boolean":
        return _BOOLEANS.get(text.lower())
    if kind == "integer":
        return int(text) if _INTEGER.fullmatch(text) else None
    if not _NUMBER.fullmatch(text):
        return None
    if _INTEGER.fullmatch(text):
        return int(text)
    number = float(text)
    return number if math.isfinite(number) else None


def coerce_cells(value: Any, schema: Any) -> Any:
    """`value` with each undeclared CSV cell (`TextCell`) turned into the number, integer or
    boolean that `schema` (a function's input schema, or part of it) asks for, when the cell's
    text is unambiguously one (JSON's number syntax; `true`/`false` in any case). A schema that
    also takes a string keeps the text. Anything else is returned as it is (the same object
    when nothing changes)."""
    coerce = _coercer(schema)
    return value if coerce is None else coerce(value)


Coercer = Callable[[Any], Any]
#: id(schema) -> (schema, its coercer): a schema is compiled once, then used per instance.
_COERCERS: dict[int, tuple[Any, Coercer | None]] = {}


def _coercer(schema: Any) -> Coercer | None:
    cached = _COERCERS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_COERCERS) > 512:
        _COERCERS.clear()
    built = _build_coercer(schema)
    _COERCERS[id(schema)] = (schema, built)  # holding the schema keeps its id unique
    return built


def _build_coercer(schema: Any) -> Coercer | None:
    """A function coercing the TextCells of a value of `schema`; None when nothing in the
    schema wants a number or boolean (the common case costs nothing per instance)."""
    kinds = set(_types(schema))
    order = [] if "string" in kinds else [k for k in ("integer", "number", "boolean") if k in kinds]
    properties = _properties(schema) or {}
    children = {
        key: child for key, sub in properties.items() if (child := _build_coercer(sub)) is not None
    }
    items = schema.get("items") if isinstance(schema, dict) else None
    item = _build_coercer(items) if isinstance(items, dict) else None
    if not order and not children and item is None:
        return None

    def coerce(value: Any) -> Any:
        if type(value) is TextCell:
            for kind in order:
                typed = _parse_typed(value, kind)
                if typed is not None:
                    return typed
            return value
        if children and isinstance(value, dict):
            changed = None
            for key, child in children.items():
                if key in value:
                    new = child(value[key])
                    if new is not value[key]:
                        changed = changed if changed is not None else dict(value)
                        changed[key] = new
            return value if changed is None else changed
        if item is not None and isinstance(value, list):
            return [item(element) for element in value]
        return value

    return coerce


def _properties(schema: Any) -> dict[str, Any] | None:
    if not isinstance(schema, dict):
        return None
    if isinstance(schema.get("properties"), dict):
        return schema["properties"]
    for branch in schema.get("anyOf", ()):
        found = _properties(branch)
        if found is not None:
            return found
    return None


def _types(schema: Any) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    declared = schema.get("type")
    if isinstance(declared, str):
        yield declared
    elif isinstance(declared, list):
        yield from (kind for kind in declared if isinstance(kind, str))
    for branch in schema.get("anyOf", ()):
        yield from _types(branch)


class _HashingReader(io.RawIOBase):
    """A binary file that hashes every byte read through it (one pass: read and digest)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._hash.update(data)
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()

    def hexdigest(self) -> str:
        """The digest of what was read: every reader consumes the whole file."""
        return self._hash.hexdigest()
