"""Sieve function metadata (`GET /v2/functions/{owner}/{name}`) to a `FunctionSchema`.

Each item of `latest_version.inputs` is `{type, name, data, description, schema, is_optional}`.
The result is a JSON Schema 2020-12 object schema with one property per input, `required` for
the inputs that are not optional, and `additionalProperties: false`. Annotations that are not
JSON Schema keywords (validators ignore them) keep what `sievefile schemas show` prints:
`x-sieve-type` (the type string as the service sent it), `x-sieve-unknown-type` and
`x-sieve-default-unknown` (the input has a default whose value could not be decoded).
See docs/schemas.md for the type table.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from typing import Any

from runner.errors import BackendError
from runner.schemas.defaults import explicit_default
from runner.schemas.dialect import DRAFT_URI, SieveValidator
from runner.schemas.model import FunctionSchema, OutputSpec
from runner.schemas.refs import SEGMENT_PATTERN
from runner.schemas.typestrings import (
    SIEVE_TYPE_KEY,
    is_file_schema,
    schema_for_type,
    typed_enum,
)

UNKNOWN_TYPE_KEY = "x-sieve-unknown-type"
DEFAULT_UNKNOWN_KEY = "x-sieve-default-unknown"


def derive_schema(metadata: Mapping[str, Any]) -> FunctionSchema:
    """Derive the input schema of the function version the metadata describes.

    Never fails on a type string it does not know (that input accepts anything and a warning
    is recorded); raises BackendError only when the metadata lacks the function's identity.
    """
    owner = _identity(metadata, "owner_name")
    name = _identity(metadata, "name")
    latest = metadata.get("latest_version")
    if not isinstance(latest, Mapping):
        raise BackendError(f"the metadata of {owner}/{name} has no latest_version")
    version = latest.get("id")
    if not isinstance(version, str) or not SEGMENT_PATTERN.match(version):
        raise BackendError(f"the metadata of {owner}/{name} has no usable latest_version.id")

    warnings: list[str] = []
    properties: dict[str, Any] = {}
    order: list[str] = []
    required: list[str] = []
    for position, item in enumerate(_items(latest.get("inputs"))):
        input_name = item.get("name")
        if not isinstance(input_name, str) or not input_name:
            warnings.append(f"input #{position + 1} has no name; ignored")
            continue
        if input_name in properties:
            warnings.append(f"input {input_name!r} is listed twice; the first one is used")
            continue
        properties[input_name] = _input_property(item, warnings)
        order.append(input_name)
        if not _is_optional(item):
            required.append(input_name)

    inputs: dict[str, Any] = {
        "$schema": DRAFT_URI,
        "title": f"inputs of {owner}/{name}:{version}",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    outputs = tuple(
        OutputSpec(
            name=str(item.get("name") or ""),
            type=str(item.get("type") or ""),
            description=str(item.get("description") or ""),
        )
        for item in _items(latest.get("outputs"))
    )
    return FunctionSchema(
        owner=owner,
        name=name,
        version=version,
        inputs=inputs,
        input_order=tuple(order),
        outputs=outputs,
        description=str(metadata.get("description") or ""),
        warnings=tuple(warnings),
    )


def _identity(metadata: Mapping[str, Any], key: str) -> str:
    value = metadata.get(key) if isinstance(metadata, Mapping) else None
    if not isinstance(value, str) or not SEGMENT_PATTERN.match(value):
        raise BackendError(f"function metadata has no usable {key!r} (got {value!r})")
    return value


def _items(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _input_property(item: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    name = item["name"]
    type_string = item.get("type")
    mapping = schema_for_type(type_string)
    prop: dict[str, Any] = dict(mapping.schema)
    declared = item.get("schema")
    if not isinstance(declared, Mapping):
        declared = {}
    unknown = mapping.unknown
    choices = item_choices(item)
    model = None if choices is not None or is_file_schema(prop) else _model_schema(declared)
    if choices is not None:
        # The service's structured choices win over whatever the type string said (the SDK
        # sends the bare type string "Literal"), but an Optional[Literal[...]] still takes null.
        nullable = declared.get("nullable") is True or (
            bool(prop) and SieveValidator(prop).is_valid(None)
        )
        if nullable and None not in choices:
            choices.append(None)
        prop = typed_enum(choices)
        unknown = []
    elif model is not None:
        prop, unknown = model, []
    else:
        _refine_containers(prop, declared)
    if unknown:
        prop[UNKNOWN_TYPE_KEY] = True
        parts = ", ".join(repr(part) for part in unknown)
        whole = "" if unknown == [type_string] else f" in {type_string!r}"
        warnings.append(f"input {name!r}: unknown type {parts}{whole}; accepted unchecked")
    prop[SIEVE_TYPE_KEY] = type_string if isinstance(type_string, str) else ""
    description = item.get("description")
    if isinstance(description, str) and description.strip():
        prop["description"] = description.strip()
    if _is_optional(item):
        known, default = _decode_default(item, prop)
        if known:
            prop["default"] = default
        else:
            prop[DEFAULT_UNKNOWN_KEY] = True
    return prop


def item_choices(item: Mapping[str, Any]) -> list[Any] | None:
    """An input item's choices when the service lists them: `schema.options` (what the SDK
    sends with `"type": "Literal"`), `schema.enum`, or an `enum` list on the item itself.

    Only JSON scalars can be choices; a list holding anything else is ignored (the type
    string then decides).
    """
    declared = item.get("schema")
    if not isinstance(declared, Mapping):
        declared = {}
    for source in (declared.get("options"), declared.get("enum"), item.get("enum")):
        if isinstance(source, list) and source and all(_is_scalar(value) for value in source):
            # Deduplicated by type and value: True == 1 in Python, not as a choice.
            unique = {(type(value), value): value for value in source}
            return list(unique.values())
    return None


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


# JSON Schema type names, as a Pydantic model's schema writes its properties' types.
_JSON_TYPE_NAMES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
_MAX_MODEL_DEPTH = 16


def _model_schema(declared: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Pydantic-model input: the SDK's `{prop: {type, properties | items}}` map as a nested
    object schema; None when `declared` is not such a map.

    Unknown keys are allowed (Pydantic ignores extra fields by default) and no property is
    required (the map does not say which are). A property this cannot read accepts anything.
    """
    if not declared or any(key in declared for key in ("type", "enum", "options", "items")):
        return None
    if not all(isinstance(value, Mapping) and "type" in value for value in declared.values()):
        return None
    return _model_object(declared, 0)


def _model_object(properties: Mapping[str, Any], depth: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            str(key): _model_property(value, depth + 1)
            for key, value in properties.items()
            if isinstance(value, Mapping)
        },
    }


def _model_property(spec: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if depth > _MAX_MODEL_DEPTH:
        return {}
    choices = item_choices({"schema": spec})
    if choices is not None:
        return typed_enum(choices)
    type_name = spec.get("type")
    if isinstance(type_name, str) and type_name in _JSON_TYPE_NAMES:
        prop: dict[str, Any] = {"type": type_name}
    else:
        # A Python type string (`str`, `list[int]`), as the SDK writes some; unknown ones and
        # anything else (`$ref`, `anyOf`) accept any value rather than guess.
        mapping = schema_for_type(type_name)
        prop = dict(mapping.schema) if not mapping.unknown else {}
    if isinstance(spec.get("properties"), Mapping) and prop.get("type") in ("object", None):
        prop = _model_object(spec["properties"], depth)
    elif isinstance(spec.get("items"), Mapping) and prop.get("type") == "array":
        items = spec["items"]
        inner = _model_property(items, depth + 1) if "type" in items else {}
        if inner:
            prop["items"] = inner
    if isinstance(spec.get("description"), str) and spec["description"].strip():
        prop["description"] = spec["description"].strip()
    return prop


def _refine_containers(prop: dict[str, Any], declared: Mapping[str, Any]) -> None:
    """Take item and value types of a bare `list` / `dict` from the item's `schema`.

    The type string `list` says nothing about its items, but some services (sievefile's local
    backend among them) put a JSON Schema in `schema`, such as
    `{"type": "array", "items": {"type": "string"}}`.
    """
    types = prop.get("type")
    names = types if isinstance(types, list) else [types]
    for json_type, keyword in (("array", "items"), ("object", "additionalProperties")):
        if (
            json_type in names
            and keyword not in prop
            and isinstance(declared.get(keyword), Mapping)
        ):
            inner = _plain_schema(declared[keyword])
            if inner:
                prop[keyword] = inner


_PLAIN_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object"})


def _plain_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """A simple OpenAPI-style schema (`type`, `items`, `nullable`, `enum`) in 2020-12 terms.

    None for anything else: a schema we cannot read exactly is better left unused.
    """
    allowed = {"type", "items", "additionalProperties", "nullable", "enum", "title", "description"}
    if not set(schema) <= allowed or schema.get("type") not in _PLAIN_TYPES:
        return None
    result: dict[str, Any] = {"type": schema["type"]}
    if isinstance(schema.get("enum"), list):
        result = typed_enum(list(schema["enum"]))
    for keyword in ("items", "additionalProperties"):
        if keyword in schema:
            inner = _plain_schema(schema[keyword]) if isinstance(schema[keyword], Mapping) else None
            if inner is None:
                return None
            result[keyword] = inner
    if schema.get("nullable") is True:
        if "enum" in result:
            return typed_enum([*result["enum"], None])
        result["type"] = [result["type"], "null"]
    return result


def _is_optional(item: Mapping[str, Any]) -> bool:
    """`is_optional` as the SDK sends it, or a plain JSON `default` field (another
    implementation's way to say the same)."""
    return bool(item.get("is_optional", False)) or "default" in item


def _decode_default(item: Mapping[str, Any], prop: dict[str, Any]) -> tuple[bool, Any]:
    """The default value of an optional input, if it can be decoded.

    A plain JSON `default` field, or `data` holding the SDK's base64 pickle (decoded without
    running code, see `runner.schemas.defaults`), is the default as stated. Otherwise `data`
    is taken as a plain JSON value when it fits the type, then as a JSON-encoded string.
    Anything else is "has a default, value unknown".
    """
    stated = explicit_default(item)
    if stated is not None:
        return stated
    data = item.get("data")
    validator = SieveValidator(prop)
    candidates = [data]
    if isinstance(data, str):
        with contextlib.suppress(ValueError):
            candidates.append(json.loads(data))
    for candidate in candidates:
        if (candidate is not None or _accepts_null(prop)) and validator.is_valid(candidate):
            return True, candidate
    return False, None


def _accepts_null(prop: dict[str, Any]) -> bool:
    # An unknown-type input accepts null, but a null `data` says nothing about its default.
    return prop.get(UNKNOWN_TYPE_KEY) is not True and SieveValidator(prop).is_valid(None)
