"""`${{ ... }}` references: a small path language, parsed into data, never evaluated as code.

```
reference := "vars" "." NAME step*
           | "env" "." NAME
           | "matrix" "." NAME step*
           | "jobs" "." NAME "." ("outputs" step* | "id" | "status")
step      := "." NAME | "[" INTEGER "]" | "[" QUOTED-STRING "]"
NAME      := [A-Za-z_][A-Za-z0-9_-]*
```

A string holding references becomes a `Template`: literal text and `Reference` parts. `$${{`
writes a literal `${{`. A string that is exactly one reference (spaces inside the braces
allowed) takes the referenced value's type; otherwise each value is interpolated as text
(strings as they are, everything else as compact JSON).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from runner.suggest import did_you_mean

SCOPES = ("vars", "env", "matrix", "jobs")
JOB_FIELDS = ("outputs", "id", "status")

OPEN = "${{"
CLOSE = "}}"
_ESCAPED_OPEN = "$${{"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INTEGER = re.compile(r"-?\d+")
_SPACES = re.compile(r"\s*")


class ReferenceSyntaxError(ValueError):
    """A `${{ ... }}` that does not parse; `offset` is where in the string it went wrong."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Reference:
    """One parsed reference, e.g. `jobs.fetch.outputs[0].url`.

    `scope` is vars/env/matrix/jobs; `name` the variable, environment variable, matrix key or
    job; `field` is set for jobs only (outputs, id, status); `steps` go into the value.
    """

    scope: str
    name: str
    field: str | None = None
    steps: tuple[str | int, ...] = ()
    #: where its `${{` starts in the string it was parsed from (-1: unknown); for messages
    offset: int = dataclasses.field(default=-1, compare=False, repr=False)

    @property
    def path(self) -> str:
        """The canonical text inside the braces: `jobs.fetch.outputs[0].url`."""
        head = f"{self.scope}.{self.name}" + (f".{self.field}" if self.field else "")
        return head + format_steps(self.steps)

    @property
    def placeholder(self) -> str:
        """How an unresolved reference is shown: `${{ jobs.fetch.outputs[0].url }}`."""
        return f"{OPEN} {self.path} {CLOSE}"

    def __str__(self) -> str:
        return self.placeholder


@dataclass(frozen=True)
class Template:
    """A string with references: literal text (str) and Reference parts, in order."""

    parts: tuple[str | Reference, ...]

    @property
    def references(self) -> tuple[Reference, ...]:
        return tuple(part for part in self.parts if isinstance(part, Reference))

    @property
    def whole(self) -> Reference | None:
        """The reference when the string is exactly one reference (it keeps its value's type)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Reference):
            return self.parts[0]
        return None

    @property
    def placeholder(self) -> str:
        """The template as written (references in canonical form), for plans and messages."""
        return "".join(
            part.placeholder if isinstance(part, Reference) else escape_literal(part)
            for part in self.parts
        )

    def __str__(self) -> str:
        return self.placeholder


def format_steps(steps: tuple[str | int, ...]) -> str:
    out = []
    for step in steps:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif _NAME.fullmatch(step):
            out.append(f".{step}")
        else:
            out.append(f"[{json.dumps(step)}]")
    return "".join(out)


def escape_literal(text: str) -> str:
    """Literal text as it must be written in a manifest (so `${{` stays literal)."""
    return text.replace(OPEN, _ESCAPED_OPEN)


def parse_template(text: str) -> str | Template:
    """Parse a manifest string: a plain string back (escapes undone) or a Template."""
    if OPEN not in text:
        return text
    parts: list[str | Reference] = []
    literal: list[str] = []
    position = 0
    while True:
        start = text.find(OPEN, position)
        if start < 0:
            literal.append(text[position:])
            break
        if start > 0 and text[start - 1] == "$":
            # `$${{` is an escaped, literal `${{`
            literal.append(text[position : start - 1] + OPEN)
            position = start + len(OPEN)
            continue
        literal.append(text[position:start])
        end = text.find(CLOSE, start + len(OPEN))
        if end < 0:
            raise ReferenceSyntaxError(f"unclosed {OPEN!r}: expected {CLOSE!r}", start)
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        expression = text[start + len(OPEN) : end]
        try:
            parts.append(dataclasses.replace(parse_reference(expression), offset=start))
        except ReferenceSyntaxError as error:
            raise ReferenceSyntaxError(
                f"in {text[start : end + len(CLOSE)]!r}: {error.message}",
                start + len(OPEN) + error.offset,
            ) from None
        position = end + len(CLOSE)
    tail = "".join(literal)
    if tail:
        parts.append(tail)
    if not any(isinstance(part, Reference) for part in parts):
        return "".join(part for part in parts if isinstance(part, str))
    return Template(tuple(parts))


def parse_reference(expression: str) -> Reference:
    """Parse the text between `${{` and `}}`."""
    reader = _Reader(expression)
    reader.spaces()
    if reader.done():
        raise ReferenceSyntaxError("empty reference: expected e.g. 'vars.NAME'", reader.position)
    scope = reader.name("a scope (vars, env, matrix or jobs)")
    if scope not in SCOPES:
        raise ReferenceSyntaxError(
            f"unknown scope {scope!r}: expected vars, env, matrix or jobs"
            + did_you_mean(scope, SCOPES),
            0,
        )
    reader.expect(".", f"'.' after {scope!r}")
    name = reader.name(f"a name after '{scope}.'")
    field = None
    if scope == "jobs":
        reader.expect(".", f"'.outputs', '.id' or '.status' after 'jobs.{name}'")
        field_start = reader.position
        field = reader.name("outputs, id or status")
        if field not in JOB_FIELDS:
            raise ReferenceSyntaxError(
                f"unknown job field {field!r}: expected outputs, id or status"
                + did_you_mean(field, JOB_FIELDS),
                field_start,
            )
    steps = reader.steps()
    reader.spaces()
    if not reader.done():
        raise ReferenceSyntaxError(
            f"unexpected {expression[reader.position :]!r} in reference", reader.position
        )
    if scope == "env" and steps:
        raise ReferenceSyntaxError("env values are strings: no '.key' or '[index]' after them")
    if field in ("id", "status") and steps:
        raise ReferenceSyntaxError(f"jobs.{name}.{field} is a string: nothing can follow it")
    return Reference(scope, name, field, steps)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def done(self) -> bool:
        return self.position >= len(self.text)

    def spaces(self) -> None:
        match = _SPACES.match(self.text, self.position)
        if match:
            self.position = match.end()

    def name(self, what: str) -> str:
        match = _NAME.match(self.text, self.position)
        if not match:
            found = self.text[self.position :].strip() or "the end"
            raise ReferenceSyntaxError(f"expected {what}, found {found!r}", self.position)
        self.position = match.end()
        return match.group()

    def expect(self, token: str, what: str) -> None:
        if not self.text.startswith(token, self.position):
            found = self.text[self.position :].strip() or "the end"
            raise ReferenceSyntaxError(f"expected {what}, found {found!r}", self.position)
        self.position += len(token)

    def steps(self) -> tuple[str | int, ...]:
        steps: list[str | int] = []
        while not self.done():
            char = self.text[self.position]
            if char == ".":
                self.position += 1
                steps.append(self.name("a key after '.'"))
            elif char == "[":
                self.position += 1
                self.spaces()
                steps.append(self.index())
                self.spaces()
                self.expect("]", "']'")
            else:
                break
        return tuple(steps)

    def index(self) -> str | int:
        match = _INTEGER.match(self.text, self.position)
        if match:
            if len(match.group()) > 18:  # no list is that long; int() refuses 4,300 digits
                raise ReferenceSyntaxError("index too large", self.position)
            self.position = match.end()
            return int(match.group())
        quote = self.text[self.position : self.position + 1]
        if quote in ('"', "'"):
            end = self.text.find(quote, self.position + 1)
            if end < 0:
                raise ReferenceSyntaxError("unclosed quoted key", self.position)
            key = self.text[self.position + 1 : end]
            self.position = end + 1
            return key
        raise ReferenceSyntaxError(
            "expected an integer index or a quoted key inside '[...]'", self.position
        )


def interpolate(value: Any) -> str:
    """How a referenced value reads inside a longer string."""
    kind = type(value)
    if kind is str or kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, str):  # text from outside the manifest (`TextCell`) reads as text
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def walk_templates(value: Any) -> list[Template]:
    """Every Template inside a compiled value (dicts, lists, Templates, plain values)."""
    found: list[Template] = []
    _collect_templates(value, found)
    return found


def _collect_templates(value: Any, found: list[Template]) -> None:
    if isinstance(value, Template):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_templates(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_templates(item, found)
