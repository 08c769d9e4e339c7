"""Compiled values: parse the references in a value once, substitute them many times.

A compiled value is JSON-like data in which every string with `${{ ... }}` is a `Template`.
`substitute` replaces references with what a lookup function returns: the same code does the
`vars` pass at load time, the placeholders of `plan` and the real values at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.manifest.positions import KeyPath
from runner.manifest.references import (
    Reference,
    ReferenceSyntaxError,
    Template,
    interpolate,
    parse_template,
)
from runner.suggest import did_you_mean


class _Keep:
    """Returned by a lookup to leave a reference in place (resolved later)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()

#: How deeply arrays and tables may nest in a manifest or a matrix's data file (hostile input
#: must not exhaust the stack of the passes that walk values recursively).
MAX_NESTING = 64
#: What a value nested deeper than MAX_NESTING is told, after its path.
TOO_DEEP = f"values nest more than {MAX_NESTING} levels deep"
#: What a file that cannot even be parsed for its nesting is told.
TOO_DEEP_TO_READ = f"values nest too deeply to read (at most {MAX_NESTING} levels)"

#: reference -> its value, or KEEP to leave it unresolved.
Lookup = Callable[[Reference], Any]


class StepError(LookupError):
    """A `.key` / `[index]` step that does not fit the value it is applied to."""


def compile_value(
    value: Any, path: KeyPath, on_error: Callable[[KeyPath, ReferenceSyntaxError], None]
) -> Any:
    """Parse every string in `value` into a str or a Template; report syntax errors by path."""
    if isinstance(value, str):
        try:
            return parse_template(value)
        except ReferenceSyntaxError as error:
            on_error(path, error)
            return value
    if isinstance(value, dict):
        return {key: compile_value(item, (*path, key), on_error) for key, item in value.items()}
    if isinstance(value, list):
        return [compile_value(item, (*path, index), on_error) for index, item in enumerate(value)]
    return value


def is_static(value: Any) -> bool:
    """True when `value` holds no Template (so it can be shared, never re-resolved)."""
    if isinstance(value, Template):
        return False
    if isinstance(value, dict):
        return all(is_static(item) for item in value.values())
    if isinstance(value, list):
        return all(is_static(item) for item in value)
    return True


def substitute(value: Any, lookup: Lookup) -> Any:
    """`value` with each reference replaced by `lookup(reference)` (KEEP leaves it)."""
    if isinstance(value, Template):
        return substitute_template(value, lookup)
    if isinstance(value, dict):
        return {key: substitute(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, lookup) for item in value]
    return value


def substitute_template(template: Template, lookup: Lookup) -> Any:
    whole = template.whole
    if whole is not None:
        found = lookup(whole)
        return template if found is KEEP else found
    parts: list[str | Reference] = []
    kept = False
    for part in template.parts:
        if isinstance(part, Reference):
            found = lookup(part)
            if found is KEEP:
                kept = True
                parts.append(part)
                continue
            text = interpolate(found)
        else:
            text = part
        if parts and isinstance(parts[-1], str):
            parts[-1] += text
        else:
            parts.append(text)
    if not kept:
        return "".join(part for part in parts if isinstance(part, str))
    return Template(tuple(parts))


def follow_steps(value: Any, steps: tuple[str | int, ...], described: str) -> Any:
    """Apply `.key` / `[index]` steps to `value`; `described` names the value in messages."""
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list):
                raise StepError(
                    f"{described} is {kind_of(value)}, not an array: cannot take [{step}]"
                )
            if not -len(value) <= step < len(value):
                raise StepError(
                    f"{described} has {len(value)} item{'s' if len(value) != 1 else ''}: "
                    f"index [{step}] is out of range"
                )
            value = value[step]
            described = f"{described}[{step}]"
        else:
            if not isinstance(value, dict):
                raise StepError(
                    f"{described} is {kind_of(value)}, not a table: cannot take .{step}"
                )
            if step not in value:
                hint = did_you_mean(step, value)
                if not hint:
                    keys = ", ".join(repr(key) for key in list(value)[:10]) or "none"
                    hint = f" (keys: {keys})"
                raise StepError(f"{described} has no key {step!r}{hint}")
            value = value[step]
            described = f"{described}.{step}"
    return value


def kind_of(value: Any) -> str:
    """How messages name a value's type: 'a string', 'an array', 'a table', ..."""
    if value is None:
        return "null"
    # isinstance: a subclass (a data file's untyped cell is a str) is named as its base
    for base, name in _KIND_NAMES:
        if isinstance(value, base):
            return name
    return type(value).__name__


#: bool before int: True is an int too.
_KIND_NAMES = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
)


def too_deep(data: Any) -> KeyPath | None:
    """The path of a value nested deeper than MAX_NESTING, or None (iterative: no recursion)."""
    stack: list[tuple[KeyPath, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_NESTING:
            return path
        if isinstance(value, dict):
            stack.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return None
