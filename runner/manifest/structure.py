"""The structural check: the manifest's JSON Schema, with located, friendly messages.

`schemas/manifest.schema.json` is the single description of the format (editors use it too);
this module compiles it once and turns each jsonschema error into a ManifestError that names
the file:line:column, the job, the key path and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import jsonschema

from runner.errors import ManifestError, SourceLocation
from runner.manifest.positions import KeyPath, format_key_path
from runner.manifest.values import kind_of
from runner.resources import read_text
from runner.suggest import did_you_mean

MANIFEST_SCHEMA = "manifest.schema.json"

#: Finds where a key path was written: (path, point at the value?) -> location.
Locator = Callable[[KeyPath, bool], SourceLocation]

_TYPE_NAMES = {
    "object": "a table",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


@lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    """The manifest's JSON Schema (2020-12), as shipped with sievefile."""
    schema: dict[str, Any] = json.loads(read_text(MANIFEST_SCHEMA))
    return schema


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    # jsonschema resolves a `$ref` anew each time it meets one: once per job for `#/$defs/job`,
    # a third of the check. The schema's own `$defs` are not recursive, so they are put in
    # place once; every error is the same, its `schema_path` without the `$ref` steps.
    return jsonschema.Draft202012Validator(_with_local_refs_inlined(manifest_schema()))


def _with_local_refs_inlined(schema: dict[str, Any]) -> dict[str, Any]:
    definitions = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        reference = node.get("$ref")
        if reference is None:
            return {key: inline(value) for key, value in node.items()}
        if len(node) == 1 and isinstance(reference, str) and reference.startswith("#/$defs/"):
            return inline(definitions[reference.removeprefix("#/$defs/")])
        # only `{"$ref": "#/$defs/NAME"}` can be put in place as it is
        raise ValueError(f"the manifest schema's $ref {reference!r} has siblings or goes deeper")

    return {key: inline(value) for key, value in schema.items() if key != "$defs"}


def structural_problems(
    data: dict[str, Any], locate: Locator
) -> list[tuple[KeyPath, ManifestError]]:
    """Every place where `data` (a parsed manifest) breaks the schema: (key path, error)."""
    problems: list[tuple[KeyPath, ManifestError]] = []
    seen: set[tuple[KeyPath, str]] = set()
    for error in _validator().iter_errors(data):
        path: KeyPath = tuple(error.absolute_path)
        for described in _describe(error, locate):
            # jsonschema reports `required` once per missing key, each naming them all
            if (path, str(described)) not in seen:
                seen.add((path, str(described)))
                problems.append((path, described))
    return problems


def problem(message: str, path: KeyPath, locate: Locator, *, at_value: bool) -> ManifestError:
    """A ManifestError for `path`: the job name and key path are split out of it."""
    job, key_path = split_job_path(path)
    return ManifestError(message, location=locate(path, at_value), job=job, key_path=key_path)


def split_job_path(path: KeyPath) -> tuple[str | None, str | None]:
    """`("jobs", "dub", "inputs", "x")` -> ("dub", "inputs.x"); other paths have no job."""
    if len(path) >= 2 and path[0] == "jobs" and isinstance(path[1], str):
        return path[1], format_key_path(path[2:]) or None
    return None, format_key_path(path) or None


def describe_schema_error(
    error: jsonschema.ValidationError,
    locate: Locator,
    *,
    prefix: KeyPath = (),
    redact: Callable[[str], str] | None = None,
) -> list[ManifestError]:
    """The located problems one jsonschema error stands for, as the manifest's own structure
    errors are worded. `prefix` is the key path of the validated value inside the manifest
    (`("sinks", 1)`); `redact` masks secrets in the messages."""
    problems = list(_describe(error, locate, prefix))
    if redact is None:
        return problems
    return [
        ManifestError(
            redact(item.detail), location=item.location, job=item.job, key_path=item.key_path
        )
        for item in problems
    ]


def _describe(
    error: jsonschema.ValidationError, locate: Locator, prefix: KeyPath = ()
) -> Iterator[ManifestError]:
    path: KeyPath = (*prefix, *error.absolute_path)
    kind = error.validator
    # jsonschema types these loosely (Unset sentinels); here they are always set
    instance: Any = error.instance
    schema: Any = error.schema if isinstance(error.schema, dict) else {}
    expected: Any = error.validator_value
    custom = schema.get("x-message")

    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f" (expected one of: {', '.join(allowed)})"
                yield problem(f"unknown key {key!r}{hint}", (*path, key), locate, at_value=False)
        return
    if kind == "dependentRequired" and isinstance(instance, dict):
        for key, needed in expected.items():
            for other in needed if key in instance else ():
                if other not in instance:
                    message = f"{key!r} needs {other!r} too (give both, or neither)"
                    yield problem(message, (*path, key), locate, at_value=False)
        return
    if kind == "required":
        for key in expected:
            if isinstance(instance, dict) and key not in instance:
                where = "this job" if len(path) == 2 and path[0] == "jobs" else "this table"
                message = f"missing required key {key!r} in {where}"
                if path == ():
                    message = f"missing required key {key!r} at the top of the manifest"
                    if key == "version":
                        message += " (add `version = 1`)"
                yield problem(message, path, locate, at_value=False)
        return
    if "propertyNames" in error.schema_path:
        # a bad table key: the instance is the key itself, the path is the table's
        message = custom or error.message
        yield problem(
            f"invalid name {instance!r}: {message}", (*path, instance), locate, at_value=False
        )
        return
    if kind == "anyOf" and instance in ([], {}, ""):
        yield problem("must not be empty", path, locate, at_value=True)
        return
    if custom:
        yield problem(f"{custom}, got {_show(instance)}", path, locate, at_value=True)
        return
    if kind == "type":
        expected = expected
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
        yield problem(f"expected {wanted}, got {_show(instance)}", path, locate, at_value=True)
        return
    if kind == "enum":
        choices = [str(choice) for choice in expected]
        hint = did_you_mean(str(instance), choices)
        listed = ", ".join(repr(choice) for choice in choices)
        yield problem(
            f"expected one of {listed}, got {_show(instance)}{hint}", path, locate, at_value=True
        )
        return
    if kind == "minimum":
        yield problem(
            f"expected at least {expected}, got {_show(instance)}",
            path,
            locate,
            at_value=True,
        )
        return
    if kind == "maximum":
        yield problem(
            f"expected at most {expected}, got {_show(instance)}",
            path,
            locate,
            at_value=True,
        )
        return
    if kind in ("minItems", "minProperties", "minLength"):
        yield problem("must not be empty", path, locate, at_value=True)
        return
    if kind == "uniqueItems":
        seen: set[str] = set()
        for index, item in enumerate(instance):
            text = json.dumps(item, sort_keys=True, default=str)
            if text in seen:
                yield problem(
                    f"duplicate entry {_show(item)}", (*path, index), locate, at_value=True
                )
            seen.add(text)
        return
    yield problem(error.message, path, locate, at_value=True)


def _show(value: Any) -> str:
    """`a string ("x")`: the kind of a value and (short) the value itself."""
    kind = kind_of(value)
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} ({text})" if kind not in ("a table", "an array") or len(text) < 40 else kind
