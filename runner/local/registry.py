"""The local backend's functions: Python callables described as Sieve functions.

Plugins fill a `FunctionRegistry` through the `register_functions(register)` hook; `register` is
`FunctionRegistry.register`. Each callable's signature, annotations and docstring become the
metadata `GET /v2/functions/{owner}/{name}` returns, and the same signature validates pushes
(see `runner.local.typemap` for the type mapping).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import inspect
import json
import pickle
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import pluggy

from runner.errors import ConfigError
from runner.local.docstrings import parse_docstring
from runner.local.typemap import (
    ErrorItem,
    OpenFile,
    ValueType,
    problem,
    value_type,
    yielded_annotation,
)
from runner.local.types import File
from runner.plugins import call_registration
from runner.suggest import close_matches, did_you_mean

_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Function ids are uuid5(name) in this namespace, so they are the same on every run.
_ID_NAMESPACE = uuid.UUID("5a1e7f11-0c41-4b1a-9d8e-5e7ef11e0000")

#: How the metadata carries input defaults: "pickle" as the live service (base64 of a pickle
#: in `data`, what the official SDK uploads), "json" as plain JSON in `data` and `default`.
DefaultsEncoding = Literal["pickle", "json"]
DEFAULTS_ENCODINGS: tuple[DefaultsEncoding, ...] = ("pickle", "json")

#: How a job's JSON identifies the organization that owns everything on a local backend.
LOCAL_ORGANIZATION_ID = "local"


@dataclass(frozen=True)
class Parameter:
    """One input of a local function."""

    name: str
    value_type: ValueType
    description: str
    has_default: bool
    default: Any

    def metadata(self, defaults: DefaultsEncoding = "pickle") -> dict[str, Any]:
        """The input's item in the function's metadata, its default encoded as `defaults`
        says (see `DefaultsEncoding`)."""
        item = {
            "type": self.value_type.wire_type,
            "name": self.name,
            "data": None,
            "description": self.description,
            "schema": self.value_type.schema,
            "run_id": None,
            "is_optional": self.has_default,
        }
        if not self.has_default:
            return item
        if defaults == "pickle":
            item["data"] = _pickled(self.default)
            return item
        plain = _plain_json(self.default)
        if plain is _NOT_JSON:
            item["data"] = repr(self.default)  # shown to people; no `default` claims a value
        else:
            item["data"] = item["default"] = plain
        return item


@dataclass(frozen=True)
class LocalFunction:
    """A registered callable and everything the backend derives from it."""

    owner: str
    name: str
    function: Callable[..., Any]
    parameters: tuple[Parameter, ...]
    output_type: ValueType | None  # None when the function returns nothing
    output_description: str
    is_generator: bool
    title: str
    description: str
    tags: tuple[str, ...]
    readme: str
    environment_variables: tuple[dict[str, Any], ...]
    function_id: str
    version_id: str
    registered_at: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def input_errors(self, inputs: dict[str, Any], loc: Sequence[Any]) -> list[ErrorItem]:
        """FastAPI-style problems with a push's inputs; `loc` locates the inputs object."""
        known = [p.name for p in self.parameters]
        problems: list[ErrorItem] = []
        for key, value in inputs.items():
            parameter = self.parameter(key)
            if parameter is None:
                message = (
                    f"Unknown input {key!r} for {self.full_name}{did_you_mean(key, known)}; "
                    f"its inputs are: {', '.join(known) or 'none'}"
                )
                problems.append(problem([*loc, key], message, "extra_forbidden", value))
                continue
            problems.extend(parameter.value_type.errors(value, [*loc, key]))
        for parameter in self.parameters:
            if not parameter.has_default and parameter.name not in inputs:
                message = f"Field required ({parameter.value_type.sieve_type})"
                problems.append(problem([*loc, parameter.name], message, "missing", None))
        return problems

    def arguments(self, inputs: dict[str, Any], open_file: OpenFile) -> dict[str, Any]:
        """Keyword arguments for a call with validated `inputs` (defaults left to Python)."""
        arguments = {}
        for parameter in self.parameters:
            if parameter.name in inputs:
                value = inputs[parameter.name]
                arguments[parameter.name] = parameter.value_type.convert(value, open_file)
        return arguments

    def input_item(self, name: str, value: Any, run_id: str) -> dict[str, Any]:
        """A job's `inputs[name]` entry: the metadata item carrying the submitted value."""
        parameter = self.parameter(name)
        assert parameter is not None
        item = parameter.metadata()
        item.pop("is_optional")
        item.update(data=value, run_id=run_id)
        return item

    def output_metadata(self) -> list[dict[str, Any]]:
        if self.output_type is None:
            return []
        return [
            {
                "type": self.output_type.sieve_type,
                "name": "output_0",
                "data": None,
                "description": self.output_description,
                "schema": self.output_type.schema,
                "run_id": None,
                "is_optional": False,
            }
        ]

    def metadata(self, defaults: DefaultsEncoding = "pickle") -> dict[str, Any]:
        """The body of `GET /v2/functions/{owner}/{name}`, shaped like the live service's
        (defaults encoded as `defaults` says)."""
        return {
            "id": self.function_id,
            "name": self.name,
            "owner_name": self.owner,
            "organization_id": LOCAL_ORGANIZATION_ID,
            "visibility": "public",
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "readme": self.readme,
            "function_type": "function",
            "created_at": self.registered_at,
            "updated_at": self.registered_at,
            "latest_version": {
                "id": self.version_id,
                "function_id": self.function_id,
                "build_status": "ready",
                "inputs": [p.metadata(defaults) for p in self.parameters],
                "outputs": self.output_metadata(),
                "environment_variables": [dict(e) for e in self.environment_variables],
                "stream_output": self.is_generator,
                "gpu": False,
                "machine_type": "local",
                "python_packages": [],
                "system_packages": [],
                "created_at": self.registered_at,
                "updated_at": self.registered_at,
            },
        }


class FunctionRegistry:
    """The functions one local backend serves, by `owner/name`."""

    def __init__(self) -> None:
        self._functions: dict[str, LocalFunction] = {}

    def __iter__(self) -> Iterator[LocalFunction]:
        return iter(self._functions.values())

    def __len__(self) -> int:
        return len(self._functions)

    def names(self) -> list[str]:
        return sorted(self._functions)

    def get(self, owner: str, name: str) -> LocalFunction | None:
        return self._functions.get(f"{owner}/{name}")

    def find(self, reference: str) -> LocalFunction:
        """The function for `owner/name[:version]`; LookupError (with a suggestion) if none."""
        full_name, _, version = reference.partition(":")
        function = self._functions.get(full_name)
        if function is None:
            raise LookupError(f"Function {full_name!r} not found{self._suggestion(full_name)}")
        if version and version != function.version_id:
            raise LookupError(
                f"Version {version!r} of {full_name} not found; "
                f"the local backend serves only {function.version_id}"
            )
        return function

    def _suggestion(self, full_name: str) -> str:
        # Compare names within the owner when it exists: a shared "owner/" prefix would make
        # every function of that owner look alike.
        owner, slash, name = full_name.partition("/")
        if not slash:
            by_short_name = {f.name: f.full_name for f in self._functions.values()}
            close = [by_short_name[match] for match in close_matches(owner, by_short_name)]
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            return f"; functions are named owner/name{hint}"
        siblings = {f.name: f.full_name for f in self._functions.values() if f.owner == owner}
        if siblings and name:
            close = [siblings[match] for match in close_matches(name, siblings)]
            return did_you_mean(full_name, close)
        return did_you_mean(full_name, self._functions)

    def find_by_id(self, identifier: str) -> LocalFunction:
        """The function whose function id or version id is `identifier`; LookupError if none."""
        for function in self._functions.values():
            if identifier in (function.function_id, function.version_id):
                return function
        raise LookupError(f"No function has the id {identifier!r}")

    def register(
        self,
        function: Callable[..., Any],
        name: str,
        *,
        title: str | None = None,
        description: str | None = None,
        tags: Iterable[str] = (),
        readme: str = "",
        environment_variables: Iterable[dict[str, Any]] = (),
    ) -> LocalFunction:
        """Serve `function` as `name` ("owner/name"); ConfigError if it cannot be described.

        `title` defaults to the name, `description` to the docstring's summary.
        `environment_variables` items are `{name, description, default}` (metadata only).
        """
        owner, _, short_name = name.partition("/")
        if not (_NAME_PART.match(owner) and _NAME_PART.match(short_name)):
            raise ConfigError(
                f"local function name {name!r} must look like 'owner/name' "
                "(letters, digits, '.', '_' and '-')"
            )
        if name in self._functions:
            raise ConfigError(f"local function {name!r} is registered twice")
        if not callable(function):
            raise ConfigError(f"local function {name!r}: {function!r} is not callable")
        local = describe(
            function,
            owner=owner,
            name=short_name,
            title=title,
            description=description,
            tags=tags,
            readme=readme,
            environment_variables=environment_variables,
        )
        self._functions[name] = local
        return local


def build_registry(plugin_manager: pluggy.PluginManager) -> FunctionRegistry:
    """A registry filled by every plugin's `register_functions` hook, built-ins first. A
    plugin whose hook raises is reported with its name and none of its functions is served."""
    registry = FunctionRegistry()
    for implementation in plugin_manager.hook.register_functions.get_hookimpls():
        before = set(registry._functions)
        if not call_registration(
            plugin_manager, implementation, "register_functions", registry.register
        ):
            for name in set(registry._functions) - before:  # what it registered before raising
                del registry._functions[name]
    return registry


def describe(
    function: Callable[..., Any],
    *,
    owner: str,
    name: str,
    title: str | None = None,
    description: str | None = None,
    tags: Iterable[str] = (),
    readme: str = "",
    environment_variables: Iterable[dict[str, Any]] = (),
) -> LocalFunction:
    """Derive a LocalFunction from a callable's signature, annotations and docstring."""
    full_name = f"{owner}/{name}"
    try:
        # eval_str resolves `from __future__ import annotations` strings, for functions,
        # functools.partial objects and callable instances alike.
        signature = inspect.signature(function, eval_str=True)
    except (TypeError, ValueError, NameError, SyntaxError) as exc:
        message = f"local function {full_name!r}: cannot read its signature: {exc}"
        raise ConfigError(message) from exc
    docstring = parse_docstring(inspect.getdoc(function))
    parameters = []
    for parameter in signature.parameters.values():
        where = f"local function {full_name!r}, parameter {parameter.name!r}"
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ConfigError(f"{where}: *args and **kwargs cannot be Sieve inputs")
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise ConfigError(f"{where}: positional-only parameters cannot be Sieve inputs")
        try:
            annotation = value_type(parameter.annotation)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        has_default = parameter.default is not inspect.Parameter.empty
        parameters.append(
            Parameter(
                name=parameter.name,
                value_type=annotation,
                description=docstring.params.get(parameter.name, ""),
                has_default=has_default,
                default=parameter.default if has_default else None,
            )
        )
    is_generator = inspect.isgeneratorfunction(function)
    returns = signature.return_annotation
    if is_generator:
        returns = yielded_annotation(returns)
    try:
        output_type = None if returns in (None, type(None)) else value_type(returns)
    except ConfigError as exc:
        raise ConfigError(f"local function {full_name!r}, return value: {exc}") from exc
    return LocalFunction(
        owner=owner,
        name=name,
        function=function,
        parameters=tuple(parameters),
        output_type=output_type,
        output_description=docstring.returns,
        is_generator=is_generator,
        title=title or name,
        description=description if description is not None else docstring.summary,
        tags=tuple(tags),
        readme=readme,
        environment_variables=tuple(dict(e) for e in environment_variables),
        function_id=str(uuid.uuid5(_ID_NAMESPACE, full_name)),
        version_id=version_id(function, signature, full_name),
        registered_at=datetime.now(timezone.utc).isoformat(),
    )


def version_id(function: Callable[..., Any], signature: inspect.Signature, full_name: str) -> str:
    """A UUID-formatted hash of the function's name, signature and code.

    It changes when the code or the signature changes, and only then, so a lock file pinned to
    it notices an edited local function.
    """
    digest = hashlib.sha256()
    digest.update(full_name.encode())
    digest.update(str(signature).encode())
    target: Any = function
    while isinstance(target, functools.partial):
        digest.update(repr((target.args, sorted(target.keywords.items()))).encode())
        target = target.func
    if not inspect.isroutine(target):
        target = type(target)  # a callable instance: its class holds the code
    try:
        digest.update(inspect.getsource(target).encode())
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is not None:
            digest.update(code.co_code)
            digest.update(repr(code.co_consts).encode())
        else:
            digest.update(getattr(target, "__qualname__", type(target).__qualname__).encode())
    return str(uuid.UUID(bytes=digest.digest()[:16]))


_NOT_JSON = object()


def _plain_json(value: Any) -> Any:
    """A default value as plain JSON (a File as its wire form); `_NOT_JSON` for other objects."""
    if isinstance(value, File):
        return {"url": value.url} if value.url else {"path": str(value.path)}
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return _NOT_JSON


def _pickled(value: Any) -> str | None:
    """A default as the SDK uploads it: base64 of its pickle (None if it cannot be pickled).

    A File pickles with a reference to its class, which a careful reader refuses to load,
    exactly as it refuses the live service's pickled objects: "has a default, value unknown".
    """
    try:
        # Protocol 5 is what cloudpickle writes for a plain value: the same bytes as the SDK.
        return base64.b64encode(pickle.dumps(value, protocol=5)).decode("ascii")
    except Exception:  # pickling runs arbitrary __reduce__ code of a plugin's default
        return None
