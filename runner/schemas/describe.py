"""Plain-English phrases for schemas and values: "a list (each item: a string)", `got 42`.

Used by validation messages and by `sievefile schemas show`, so both speak the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

from runner.schemas.typestrings import is_file_schema

_TYPE_PHRASES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
    "array": "a list",
    "object": "a dict",
}
FILE_PHRASE = 'a file ({"url": "..."} or {"path": "..."})'
_MAX_CHOICES = 8
_MAX_VALUE_CHARS = 60


def describe_schema(schema: Any) -> str:
    """What a value must be to match `schema`, as a phrase: "one of "wav", "mp3"", "a file"."""
    if schema is False:
        return "nothing (no value is allowed)"
    if not isinstance(schema, dict):
        return "any value"
    if is_file_schema(schema):
        return FILE_PHRASE
    if "enum" in schema:
        return _choices(schema["enum"])
    if "const" in schema:
        return format_json(schema["const"])
    if "anyOf" in schema and isinstance(schema["anyOf"], list):
        return _alternatives(describe_schema(branch) for branch in schema["anyOf"])
    types = schema.get("type")
    if types is None:
        return "any value"
    names = types if isinstance(types, list) else [types]
    return _alternatives(_type_phrase(name, schema) for name in names)


def _type_phrase(name: str, schema: dict[str, Any]) -> str:
    phrase = _TYPE_PHRASES.get(name, name)
    if name == "string" and schema.get("minLength") == 1:
        return "a non-empty string"
    if name == "array":
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            parts = ", ".join(describe_schema(item) for item in prefix)
            return f"a list of {len(prefix)} items ({parts})"
        items = schema.get("items")
        if isinstance(items, dict) and items:
            return f"a list (each item: {describe_schema(items)})"
    if name == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values:
            return f"a dict (each value: {describe_schema(values)})"
    return phrase


def _choices(values: Any) -> str:
    if not isinstance(values, list):
        return "a listed choice"
    shown = ", ".join(format_json(value) for value in values[:_MAX_CHOICES])
    more = f", ... ({len(values) - _MAX_CHOICES} more)" if len(values) > _MAX_CHOICES else ""
    return f"one of {shown}{more}"


def _alternatives(phrases: Any) -> str:
    unique: list[str] = []
    for phrase in phrases:
        if phrase not in unique:
            unique.append(phrase)
    return " or ".join(unique)


def format_json(value: Any) -> str:
    """A short JSON spelling of a scalar (strings in double quotes, as TOML writes them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 4] + '..."' if isinstance(value, str) else text
    return text


def describe_value(value: Any) -> str:
    """A short account of a value for "got ...": `42`, `"abc"`, `a dict with keys "ulr"`."""
    if isinstance(value, dict):
        if not value:
            return "an empty dict"
        keys = ", ".join(format_json(str(key)) for key in list(value)[:_MAX_CHOICES])
        more = ", ..." if len(value) > _MAX_CHOICES else ""
        return f"a dict with keys {keys}{more}"
    if isinstance(value, list):
        count = len(value)
        return "an empty list" if count == 0 else f"a list of {count} item{'s' * (count != 1)}"
    if value is None or isinstance(value, (str, int, float, bool)):
        return format_json(value)
    return f"a {type(value).__name__}"
