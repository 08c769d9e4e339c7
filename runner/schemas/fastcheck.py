"""A fast yes/no check for the JSON Schema subset that derived schemas use.

Validating with jsonschema costs tens of microseconds per job; a run validating 10,000 job
inputs should not notice it. `compile_check` turns a schema into nested closures that answer
"valid?" with the same rules as `runner.schemas.dialect.SieveValidator`. It returns None for a
schema using any keyword outside the subset, and callers then use jsonschema alone. jsonschema
stays the only source of error messages: this check only skips it for valid inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.schemas.dialect import is_integer, is_number

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples"}
)

_TYPE_CHECKS: dict[str, Check] = {
    "string": lambda value: isinstance(value, str),
    "integer": is_integer,
    "number": is_number,
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
}


class _Unsupported(Exception):
    pass


def compile_check(schema: Any) -> Check | None:
    """A function telling whether a value is valid, or None if the schema is outside the subset."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _accept(_value: Any) -> bool:
    return True


def _reject(_value: Any) -> bool:
    return False


def _compile(schema: Any) -> Check:
    if schema is True:
        return _accept
    if schema is False:
        return _reject
    if not isinstance(schema, dict):
        raise _Unsupported
    checks: list[Check] = []
    object_keys = {"properties", "required", "additionalProperties"}
    array_keys = {"items", "prefixItems", "minItems", "maxItems"}
    for key, value in schema.items():
        if key in _ANNOTATIONS or key.startswith("x-") or key in object_keys | array_keys:
            continue
        if key == "type":
            checks.append(_type(value))
        elif key == "enum":
            checks.append(_enum(value))
        elif key == "const":
            checks.append(_enum([value]))
        elif key == "anyOf":
            checks.append(_any_of(value))
        elif key == "minLength":
            checks.append(_min_length(value))
        else:
            raise _Unsupported(key)
    if object_keys & schema.keys():
        checks.append(_object(schema))
    if array_keys & schema.keys():
        checks.append(_array(schema))
    if not checks:
        return _accept
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _type(names: Any) -> Check:
    names = names if isinstance(names, list) else [names]
    if not all(isinstance(name, str) and name in _TYPE_CHECKS for name in names):
        raise _Unsupported("type")
    checks = [_TYPE_CHECKS[name] for name in names]
    if len(checks) == 1:
        return checks[0]
    return lambda value: any(check(value) for check in checks)


def _enum(choices: Any) -> Check:
    if not isinstance(choices, list):
        raise _Unsupported("enum")
    if all(isinstance(choice, str) for choice in choices):
        allowed = frozenset(choices)
        return lambda value: isinstance(value, str) and value in allowed
    return lambda value: any(json_equal(value, choice) for choice in choices)


def json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON Schema defines it: `1 == 1.0`, but `true` is not `1`."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, str) or isinstance(right, str):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, (list, dict)) or isinstance(right, (list, dict)):
        return False
    return bool(left == right)


def _any_of(branches: Any) -> Check:
    if not isinstance(branches, list) or not branches:
        raise _Unsupported("anyOf")
    checks = [_compile(branch) for branch in branches]
    return lambda value: any(check(value) for check in checks)


def _min_length(limit: Any) -> Check:
    if not is_integer(limit):
        raise _Unsupported("minLength")
    return lambda value: not isinstance(value, str) or len(value) >= limit


def _object(schema: dict[str, Any]) -> Check:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise _Unsupported("properties")
    property_checks = {name: _compile(sub) for name, sub in properties.items()}
    extra = schema.get("additionalProperties", True)
    extra_check = None if extra is True else _compile(extra)
    required_names = tuple(required)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for name in required_names:
            if name not in value:
                return False
        for name, item in value.items():
            item_check = property_checks.get(name, extra_check)
            if item_check is not None and not item_check(item):
                return False
        return True

    return check


def _array(schema: dict[str, Any]) -> Check:
    prefix = schema.get("prefixItems", [])
    if not isinstance(prefix, list):
        raise _Unsupported("prefixItems")
    prefix_checks = [_compile(sub) for sub in prefix]
    rest = _compile(schema.get("items", True))
    min_items = schema.get("minItems", 0)
    max_items = schema.get("maxItems")
    if not is_integer(min_items) or (max_items is not None and not is_integer(max_items)):
        raise _Unsupported("minItems")
    skip = len(prefix_checks)

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            return False
        for item_check, item in zip(prefix_checks, value, strict=False):
            if not item_check(item):
                return False
        return rest is _accept or all(rest(item) for item in value[skip:])

    return check
