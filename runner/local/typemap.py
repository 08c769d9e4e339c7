"""Python annotations as Sieve types: the type string, a schema hint, validation, conversion.

One `ValueType` per annotation, built once when a function is registered. The same object
answers three questions, so they can never disagree:

- what the function's metadata says (`sieve_type`, `schema`),
- whether a pushed value fits (`errors(value, loc)` returns FastAPI-style problems),
- what the function receives (`convert(value, open_file)` turns `{"url": ...}` into a `File`).

| annotation | `type` string | accepted JSON |
|---|---|---|
| `str`, `int`, `float`, `bool` | same | string, integer, number (ints too), boolean |
| `list`, `list[X]`, `tuple[...]` | `list` | array (items checked for `list[X]`) |
| `dict`, `dict[str, X]` | `dict` | object (values checked for `dict[str, X]`) |
| `File`, `Video`, `Audio`, `Image` | `sieve.File`, `sieve.Video`, ... | `{"url"}` / `{"path"}` |
| `Literal['a', 'b']` | `Literal` and `schema.options` (as the SDK) | one of the choices |
| `Optional[X]`, `X \\| None` | `Optional[<type of X>]` | null or X |
| none, `Any` | `Any` | anything |
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from runner.errors import ConfigError
from runner.local.types import File

#: FastAPI's error item: `{"loc": [...], "msg": ..., "type": ...}`.
ErrorItem = dict[str, Any]
#: Turns a file value (`{"url": ...}` / `{"path": ...}`) into a File of the given class.
OpenFile = Callable[[dict[str, Any], type[File]], File]

FILE_SCHEMA: dict[str, Any] = {"url": {"title": "Url", "type": "string"}}

_SCALARS: dict[type, tuple[str, str, str]] = {
    # python type: (json schema type, pydantic error type, message)
    str: ("string", "string_type", "Input should be a valid string"),
    int: ("integer", "int_type", "Input should be a valid integer"),
    float: ("number", "float_type", "Input should be a valid number"),
    bool: ("boolean", "bool_type", "Input should be a valid boolean"),
}


@dataclass(frozen=True)
class ValueType:
    """A Sieve type derived from one Python annotation."""

    kind: str  # any, str, int, float, bool, list, dict, file, literal, optional, union
    sieve_type: str
    schema: dict[str, Any] | None
    file_class: type[File] | None = None
    choices: tuple[Any, ...] = ()
    members: tuple[ValueType, ...] = field(default=())

    @property
    def wire_type(self) -> str:
        """The `type` string of the metadata: the SDK sends a bare `Literal` (its choices go
        in `schema.options`); nested in another type the full `Literal[...]` text stays."""
        return "Literal" if self.kind == "literal" else self.sieve_type

    @property
    def nested_schema(self) -> dict[str, Any] | None:
        """The schema hint inside a container or Optional: a plain JSON Schema (`enum`
        rather than the top level's `options`)."""
        if self.kind == "literal":
            return _enum_schema(self.choices)
        return self.schema

    @property
    def item(self) -> ValueType | None:
        """The element type of `list[X]`, the value type of `dict[str, X]`, X of Optional."""
        return self.members[0] if self.members else None

    def errors(self, value: Any, loc: list[Any]) -> list[ErrorItem]:
        """FastAPI-style problems with `value` (an empty list when it fits)."""
        kind = self.kind
        if kind == "any":
            return []
        if kind in ("str", "int", "float", "bool"):
            if _scalar_fits(kind, value):
                return []
            _, error_type, message = _SCALARS[_SCALAR_TYPES[kind]]
            return [problem(loc, message, error_type, value)]
        if kind == "literal":
            if any(value == choice and type(value) is type(choice) for choice in self.choices):
                return []
            message = f"Input should be {_or_list(self.choices)}"
            return [problem(loc, message, "literal_error", value)]
        if kind == "file":
            if _is_file_value(value):
                return []
            message = 'Input should be a file: an object with a "url" or "path" string'
            return [problem(loc, message, "file_type", value)]
        if kind == "list":
            if not isinstance(value, list):
                return [problem(loc, "Input should be a valid list", "list_type", value)]
            if self.item is None:
                return []
            return [e for i, v in enumerate(value) for e in self.item.errors(v, [*loc, i])]
        if kind == "dict":
            if not isinstance(value, dict):
                return [problem(loc, "Input should be a valid dictionary", "dict_type", value)]
            if self.item is None:
                return []
            return [e for k, v in value.items() for e in self.item.errors(v, [*loc, k])]
        if kind == "optional":
            assert self.item is not None
            return [] if value is None else self.item.errors(value, loc)
        # union: fits if any member fits; otherwise report every member's complaint
        member_errors = [member.errors(value, loc) for member in self.members]
        if any(not found for found in member_errors):
            return []
        return [e for found in member_errors for e in found]

    def convert(self, value: Any, open_file: OpenFile) -> Any:
        """The value the Python function receives for a JSON value that passed `errors`."""
        if self.kind == "file" and self.file_class is not None:
            return open_file(value, self.file_class)
        if self.kind == "optional" and self.item is not None:
            return None if value is None else self.item.convert(value, open_file)
        if self.kind == "list" and self.item is not None:
            return [self.item.convert(v, open_file) for v in value]
        if self.kind == "dict" and self.item is not None:
            return {k: self.item.convert(v, open_file) for k, v in value.items()}
        if self.kind == "union":
            for member in self.members:
                if not member.errors(value, []):
                    return member.convert(value, open_file)
        if self.kind == "float" and isinstance(value, int):
            return float(value)
        return value


_SCALAR_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


def _scalar_fits(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_file_value(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    sources = [value.get(key) for key in ("url", "path") if key in value]
    return bool(sources) and all(isinstance(s, str) and s for s in sources)


def problem(loc: list[Any], msg: str, error_type: str, value: Any) -> ErrorItem:
    """One FastAPI-style validation problem."""
    return {"loc": list(loc), "msg": msg, "type": error_type, "input": value}


def _or_list(choices: tuple[Any, ...]) -> str:
    shown = [repr(c) for c in choices]
    if len(shown) == 1:
        return shown[0]
    return f"{', '.join(shown[:-1])} or {shown[-1]}"


ANY = ValueType("any", "Any", None)


def value_type(annotation: Any) -> ValueType:
    """The ValueType for a parameter or return annotation; ConfigError if none fits."""
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is object:
        return ANY
    if isinstance(annotation, type) and issubclass(annotation, File):
        return ValueType("file", annotation.sieve_type, dict(FILE_SCHEMA), file_class=annotation)
    if annotation in _SCALAR_TYPES.values():
        kind = annotation.__name__
        return ValueType(kind, kind, {"type": _SCALARS[annotation][0]})
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    # get_origin() is list / tuple / dict for list[X] and typing.List alike.
    if annotation in (list, tuple) or origin in (list, tuple):
        item = value_type(args[0]) if origin is list and args else None
        schema: dict[str, Any] = {"type": "array"}
        if item is not None and item.nested_schema is not None and item.kind != "file":
            schema["items"] = item.nested_schema
        return ValueType("list", "list", schema, members=(item,) if item else ())
    if annotation is dict or origin is dict:
        item = value_type(args[1]) if len(args) == 2 else None
        schema = {"type": "object"}
        if item is not None and item.nested_schema is not None and item.kind != "file":
            schema["additionalProperties"] = item.nested_schema
        return ValueType("dict", "dict", schema, members=(item,) if item else ())
    if origin is Literal:
        choices = tuple(args)
        if not all(isinstance(c, (str, int, float, bool)) for c in choices):
            raise ConfigError(f"Literal choices must be strings or numbers: {args!r}")
        shown = ", ".join(repr(c) for c in choices)
        schema = {"options": list(choices)}
        return ValueType("literal", f"Literal[{shown}]", schema, choices=choices)
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        present = [a for a in args if a is not type(None)]
        members = tuple(value_type(a) for a in present)
        if len(present) < len(args):
            inner = members[0] if len(members) == 1 else _union(members)
            nullable = inner.schema
            if inner.nested_schema is not None and inner.kind != "file":
                nullable = {**inner.nested_schema, "nullable": True}
            name = f"Optional[{inner.sieve_type}]"
            return ValueType("optional", name, nullable, members=(inner,))
        return _union(members)
    raise ConfigError(
        f"{annotation!r} has no Sieve type; use str, int, float, bool, list, dict, Literal, "
        "Optional or runner.local.types.File / Video / Audio / Image"
    )


def _union(members: tuple[ValueType, ...]) -> ValueType:
    names = ", ".join(m.sieve_type for m in members)
    schemas = [m.nested_schema for m in members]
    schema = None if any(s is None for s in schemas) else {"anyOf": schemas}
    return ValueType("union", f"Union[{names}]", schema, members=members)


def _enum_schema(choices: tuple[Any, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {"enum": list(choices)}
    kinds = {_json_type(c) for c in choices}
    if len(kinds) == 1:
        schema["type"] = kinds.pop()
    return schema


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def yielded_annotation(annotation: Any) -> Any:
    """X for `Iterator[X]`, `Iterable[X]` or `Generator[X, ...]`; the annotation otherwise."""
    origin = typing.get_origin(annotation)
    generators = (
        collections.abc.Iterator,
        collections.abc.Iterable,
        collections.abc.Generator,
    )
    if origin in generators:
        args = typing.get_args(annotation)
        return args[0] if args else inspect.Parameter.empty
    return annotation


def type_of_value(value: Any) -> str:
    """The Sieve type string for an output value whose function declared no type."""
    if isinstance(value, File):
        return value.sieve_type
    for python_type in (bool, int, float, str):
        if isinstance(value, python_type):
            return python_type.__name__
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "Any"
