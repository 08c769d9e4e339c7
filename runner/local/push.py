"""Validating a `POST /v2/push` body, with FastAPI-style 422 problems.

Every problem is collected (not just the first), each located by `loc`, e.g.
`["body", "function"]` for an unknown function or `["body", "inputs", "seconds"]` for an input
of the wrong type. The function's signature decides what its inputs may be
(`LocalFunction.input_errors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runner.errors import ApiError
from runner.local.registry import FunctionRegistry, LocalFunction
from runner.local.typemap import ErrorItem, problem
from runner.local.webhooks import EVENT_TYPES


@dataclass(frozen=True)
class PushRequest:
    """A push that passed validation."""

    function: LocalFunction
    inputs: dict[str, Any]
    webhooks: list[dict[str, str]]


def parse_push(body: Any, registry: FunctionRegistry) -> PushRequest:
    """The validated push; ApiError(422, [problems]) if anything is wrong."""
    if not isinstance(body, dict):
        raise ApiError(422, [problem(["body"], "Input should be a JSON object", "dict_type", body)])
    problems: list[ErrorItem] = []
    for key in ("function", "id"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.append(
                problem(["body", key], "Input should be a valid string", "string_type", body[key])
            )
    function = _function(body, registry, problems)
    inputs = body.get("inputs")
    if "inputs" not in body:
        problems.append(problem(["body", "inputs"], "Field required", "missing", None))
    elif not isinstance(inputs, dict):
        problems.append(
            problem(["body", "inputs"], "Input should be a valid dictionary", "dict_type", inputs)
        )
    elif function is not None:
        problems.extend(function.input_errors(inputs, ["body", "inputs"]))
    webhooks = _webhooks(body.get("webhooks"), problems)
    env = body.get("env")
    if env is not None and not isinstance(env, dict):
        problems.append(
            problem(["body", "env"], "Input should be a valid dictionary", "dict_type", env)
        )
    if problems:
        raise ApiError(422, problems)
    assert function is not None
    assert isinstance(inputs, dict)
    return PushRequest(function=function, inputs=inputs, webhooks=webhooks)


def _function(
    body: dict[str, Any], registry: FunctionRegistry, problems: list[ErrorItem]
) -> LocalFunction | None:
    reference, identifier = body.get("function"), body.get("id")
    if not (_is_optional_str(reference) and _is_optional_str(identifier)):
        return None
    if reference and identifier:
        problems.append(
            problem(["body"], "Specify either function or id, not both", "value_error", None)
        )
        return None
    if not reference and not identifier:
        problems.append(
            problem(
                ["body", "function"],
                "Specify the function to run: function (owner/name[:version]) or id",
                "missing",
                None,
            )
        )
        return None
    try:
        if reference:
            return registry.find(reference)
        assert identifier is not None
        return registry.find_by_id(identifier)
    except LookupError as exc:
        loc = ["body", "function" if reference else "id"]
        problems.append(problem(loc, str(exc.args[0]), "value_error", reference or identifier))
        return None


def _webhooks(value: Any, problems: list[ErrorItem]) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(
            problem(["body", "webhooks"], "Input should be a valid list", "list_type", value)
        )
        return []
    webhooks = []
    for index, hook in enumerate(value):
        loc = ["body", "webhooks", index]
        if not isinstance(hook, dict):
            problems.append(problem(loc, "Input should be a valid dictionary", "dict_type", hook))
            continue
        event, url = hook.get("type"), hook.get("url")
        if event not in EVENT_TYPES:
            choices = ", ".join(repr(t) for t in EVENT_TYPES)
            problems.append(
                problem([*loc, "type"], f"Input should be one of {choices}", "enum", event)
            )
        if not _is_http_url(url):
            problems.append(
                problem([*loc, "url"], "Input should be an http(s) URL", "url_parsing", url)
            )
        if isinstance(event, str) and isinstance(url, str):
            webhooks.append({"type": event, "url": url})
    return webhooks


def _is_optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_http_url(value: Any) -> bool:
    try:
        return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")
    except ValueError:
        return False
