"""Sieve type strings (`str`, `typing.List[int]`, `sieve.File`, `Literal['a', 'b']`) to JSON Schema.

The string is parsed with `ast` as a Python expression and never evaluated. Anything this module
does not recognise maps to the permissive schema `{}` and is reported, so a new type on the
service degrades to "not checked" instead of a crash.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

#: The keyword that marks a file subschema and carries the type string it came from.
SIEVE_TYPE_KEY = "x-sieve-type"

FILE_TYPE_NAMES = frozenset({"File", "Video", "Audio", "Image"})

_SCALARS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "None": {"type": "null"},
    "NoneType": {"type": "null"},
    "list": {"type": "array"},
    "List": {"type": "array"},
    "Sequence": {"type": "array"},
    "Iterable": {"type": "array"},
    "tuple": {"type": "array"},
    "Tuple": {"type": "array"},
    "set": {"type": "array"},
    "Set": {"type": "array"},
    "frozenset": {"type": "array"},
    "FrozenSet": {"type": "array"},
    "dict": {"type": "object"},
    "Dict": {"type": "object"},
    "Mapping": {"type": "object"},
    "Any": {},
    "object": {},
}
_ARRAYS = frozenset(
    {"list", "List", "Sequence", "Iterable", "set", "Set", "frozenset", "FrozenSet"}
)
_TUPLES = frozenset({"tuple", "Tuple"})
_MAPPINGS = frozenset({"dict", "Dict", "Mapping"})
_PREFIXES = ("typing.", "typing_extensions.", "builtins.", "collections.abc.")
_CLASS_REPR = re.compile(r"^<class '(?P<name>[^']+)'>$")


def file_schema(type_name: str = "sieve.File") -> dict[str, Any]:
    """A file value: an object with a non-empty `url` or `path` (the SDK's local path)."""
    return {
        SIEVE_TYPE_KEY: type_name,
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "http(s):// or file:// URL"},
            "path": {"type": "string", "minLength": 1, "description": "a local file path"},
        },
        "anyOf": [{"required": ["url"]}, {"required": ["path"]}],
    }


def is_file_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and _file_type_name(str(schema.get(SIEVE_TYPE_KEY, ""))) != ""


@dataclass
class TypeMapping:
    """The schema for one type string, and the parts of it that were not understood."""

    schema: dict[str, Any]
    unknown: list[str] = field(default_factory=list)


def schema_for_type(type_string: Any) -> TypeMapping:
    """Map a Sieve type string to a JSON Schema; unknown parts become `{}` and are listed."""
    if not isinstance(type_string, str) or not type_string.strip():
        return TypeMapping({}, [repr(type_string)])
    text = type_string.strip()
    class_repr = _CLASS_REPR.match(text)
    if class_repr:
        text = class_repr["name"]
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return TypeMapping({}, [type_string])
    unknown: list[str] = []
    schema = _Mapper(unknown).map(tree.body)
    return TypeMapping(schema, unknown)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _strip_prefix(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _file_type_name(name: str) -> str:
    """`sieve.Audio` for any spelling of a Sieve file type (`sieve.types.file.Audio`, `File`)."""
    parts = name.split(".")
    if parts[-1] in FILE_TYPE_NAMES and (len(parts) == 1 or parts[0] == "sieve"):
        return f"sieve.{parts[-1]}"
    return ""


class _Mapper:
    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown

    def map(self, node: ast.expr) -> dict[str, Any]:
        if isinstance(node, ast.Constant) and node.value is None:
            return {"type": "null"}
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A forward reference written as a string annotation: 'sieve.File'.
            nested = schema_for_type(node.value)
            self.unknown.extend(nested.unknown)
            return nested.schema
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return _union([self.map(node.left), self.map(node.right)])
        if isinstance(node, ast.Subscript):
            return self._generic(node)
        name = _dotted(node)
        if name is None:
            return self._unknown(node)
        return self._named(name, node)

    def _named(self, raw_name: str, node: ast.expr) -> dict[str, Any]:
        file_type = _file_type_name(raw_name)
        if file_type:
            return file_schema(file_type)
        name = _strip_prefix(raw_name)
        if name in _SCALARS:
            return dict(_SCALARS[name])
        return self._unknown(node)

    def _generic(self, node: ast.Subscript) -> dict[str, Any]:
        base = _dotted(node.value)
        name = _strip_prefix(base) if base else ""
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if name == "Literal":
            return self._literal(node, args)
        if name == "Optional" and len(args) == 1:
            return _union([self.map(args[0]), {"type": "null"}])
        if name == "Union":
            return _union([self.map(arg) for arg in args])
        if name == "Annotated" and args:
            return self.map(args[0])
        if name in _ARRAYS and len(args) == 1:
            return {"type": "array", "items": self.map(args[0])}
        if name in _TUPLES:
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
                return {"type": "array", "items": self.map(args[0])}
            items = [self.map(arg) for arg in args]
            return {
                "type": "array",
                "prefixItems": items,
                "items": False,
                "minItems": len(items),
            }
        if name in _MAPPINGS and len(args) == 2:
            values = self.map(args[1])
            return (
                {"type": "object", "additionalProperties": values} if values else {"type": "object"}
            )
        return self._unknown(node)

    def _literal(self, node: ast.Subscript, args: list[ast.expr]) -> dict[str, Any]:
        values: list[Any] = []
        for arg in args:
            try:
                value = ast.literal_eval(arg)
            except ValueError:
                return self._unknown(node)
            if not isinstance(value, (str, int, float, bool, type(None))):
                return self._unknown(node)
            values.append(value)
        return typed_enum(values)

    def _unknown(self, node: ast.expr) -> dict[str, Any]:
        self.unknown.append(ast.unparse(node))
        return {}


def _union(branches: list[dict[str, Any]]) -> dict[str, Any]:
    """`anyOf` of the branches, folded into one `type` list when they are all plain types."""
    flat: list[dict[str, Any]] = []
    for branch in branches:
        flat.extend(branch["anyOf"] if set(branch) == {"anyOf"} else [branch])
    if any(branch == {} for branch in flat):
        return {}
    if all(set(branch) == {"type"} for branch in flat):
        types: list[str] = []
        for branch in flat:
            for type_name in _as_list(branch["type"]):
                if type_name not in types:
                    types.append(type_name)
        return {"type": types[0] if len(types) == 1 else types}
    choices = [branch for branch in flat if branch != {"type": "null"}]
    if choices and all("enum" in branch and set(branch) <= {"enum", "type"} for branch in choices):
        # Optional[Literal[...]] and unions of Literals: one enum.
        values = [value for branch in choices for value in branch["enum"]]
        return typed_enum([*values, None] if len(choices) < len(flat) else values)
    return {"anyOf": flat}


def typed_enum(values: list[Any]) -> dict[str, Any]:
    """`enum` plus the JSON types of its values, so `1.0` does not pass for `Literal[1]`.

    JSON Schema's enum compares numbers by value; a Python function declared with
    `Literal[1]` receives exactly the int 1 from the service, so the types are pinned too.
    """
    types: list[str] = []
    for value in values:
        name = _JSON_TYPES.get(type(value))
        if name is None:
            return {"enum": values}
        if name not in types:
            types.append(name)
    return {"enum": values, "type": types[0] if len(types) == 1 else types}


_JSON_TYPES: dict[type, str] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
