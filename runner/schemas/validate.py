"""Check a job's inputs against its function's schema, with messages a person can act on.

Each schema's validator is compiled once per process (keyed by the schema's digest): a fast
yes/no check (`runner.schemas.fastcheck`) answers for valid inputs, and jsonschema explains the
invalid ones. Problems carry the input path (`inputs.file.url`), what was expected and what was
got, and "did you mean" for misspelled names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.protocols import Validator

from runner.errors import SourceLocation, ValidationError
from runner.schemas.describe import FILE_PHRASE, describe_schema, describe_value, format_json
from runner.schemas.dialect import SieveValidator
from runner.schemas.fastcheck import Check, compile_check
from runner.schemas.model import FunctionSchema
from runner.schemas.typestrings import is_file_schema
from runner.suggest import did_you_mean

PathPart = str | int
InputPath = tuple[PathPart, ...]
#: An input name, or a path into an input: `"file"`, `("file", "url")`.
PathLike = str | Sequence[PathPart]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_CACHE_LIMIT = 512


def format_input_path(path: Sequence[PathPart]) -> str:
    """`("file", "url")` -> `inputs.file.url`; list indexes and odd keys use brackets."""
    text = "inputs"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}"
        else:
            text += f"[{format_json(part)}]"
    return text


#: InputProblem.kind values.
UNKNOWN = "unknown"  # a name the function does not take
MISSING = "missing"  # a required input (or file key) that is absent
INVALID = "invalid"  # a value of the wrong type or not among the choices


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with a job's inputs. `path` is relative to the job's `inputs`."""

    path: InputPath
    message: str
    kind: str = INVALID

    @property
    def input_path(self) -> str:
        return format_input_path(self.path)

    def __str__(self) -> str:
        return f"{self.input_path}: {self.message}"


class CompiledSchema:
    """A function schema ready to validate inputs: build with `compile_schema`."""

    def __init__(self, schema: FunctionSchema) -> None:
        self.schema = schema
        self.validator: Validator = SieveValidator(schema.inputs)
        self.fast_check: Check | None = compile_check(schema.inputs)
        self._order = {name: index for index, name in enumerate(schema.ordered_input_names())}

    def is_valid(self, inputs: Any) -> bool:
        if self.fast_check is not None:
            return self.fast_check(inputs)
        return bool(self.validator.is_valid(inputs))

    def check(self, inputs: Any, pending: Iterable[PathLike] = ()) -> list[InputProblem]:
        """Every problem with `inputs`, in signature order; empty when they are valid.

        `pending` names inputs (or paths inside them) whose values are not known yet, such as
        references to upstream outputs: their values are not judged, but a pending name the
        function does not take is still reported.
        """
        if self.is_valid(inputs):
            return []
        if not isinstance(inputs, Mapping):
            return [InputProblem((), f"expected a dict of inputs, got {describe_value(inputs)}")]
        deferred = [_as_path(path) for path in pending]
        problems: dict[InputPath, InputProblem] = {}
        for error in self.validator.iter_errors(inputs):
            for problem in self._explain(error):
                if problem.kind != UNKNOWN and _under_any(problem.path, deferred):
                    continue
                problems.setdefault(problem.path, problem)
        return sorted(problems.values(), key=self._sort_key)

    def _sort_key(self, problem: InputProblem) -> tuple[int, str]:
        head = problem.path[0] if problem.path else ""
        return (self._order.get(str(head), len(self._order)), problem.input_path)

    def _explain(self, error: SchemaError) -> list[InputProblem]:
        path: InputPath = tuple(error.absolute_path)
        keyword = error.validator
        instance: Any = error.instance
        schema = error.schema if isinstance(error.schema, dict) else {}
        if keyword == "additionalProperties" and isinstance(instance, Mapping):
            return self._unknown_names(path, instance, schema)
        if keyword == "required" and isinstance(instance, Mapping):
            return self._missing_names(path, instance, schema)
        if keyword == "anyOf":
            return self._any_of(error, path)
        if keyword == "enum" and isinstance(instance, str):
            choices = [value for value in schema.get("enum", []) if isinstance(value, str)]
            hint = did_you_mean(instance, choices)
            got = describe_value(instance)
            return [InputProblem(path, f"expected {describe_schema(schema)}, got {got}{hint}")]
        if keyword in {"type", "enum", "const"}:
            expected = describe_schema(schema)
            hint = ""
            if is_file_schema(schema) and isinstance(instance, str):
                hint = f" (write it as {{ url = {format_json(instance)} }})"
            got = describe_value(instance)
            return [InputProblem(path, f"expected {expected}, got {got}{hint}")]
        if keyword == "minLength":
            return [InputProblem(path, "expected a non-empty string, got an empty one")]
        if keyword in {"minItems", "maxItems"}:
            got = describe_value(instance)
            return [InputProblem(path, f"expected {describe_schema(schema)}, got {got}")]
        if keyword == "items" and error.validator_value is False:
            count = len(schema.get("prefixItems", []))
            return [InputProblem(path, f"expected at most {count} items, got {len(instance)}")]
        return [InputProblem(path, error.message)]

    def _unknown_names(
        self, path: InputPath, instance: Mapping[str, Any], schema: dict[str, Any]
    ) -> list[InputProblem]:
        known = list(schema.get("properties", {}))
        top = not path
        problems = []
        for name in instance:
            if name in known:
                continue
            what = f"unknown input of {self.schema.slug}" if top else "unknown key"
            hint = did_you_mean(name, known)
            if not hint and known:
                listed = ", ".join(known if not top else self.schema.ordered_input_names())
                hint = f"; expected one of: {listed}"
            problems.append(InputProblem((*path, name), f"{what}{hint}", UNKNOWN))
        return problems

    def _missing_names(
        self, path: InputPath, instance: Mapping[str, Any], schema: dict[str, Any]
    ) -> list[InputProblem]:
        properties = schema.get("properties", {})
        problems = []
        for name in schema.get("required", []):
            if name in instance:
                continue
            expected = describe_schema(properties.get(name, {}))
            what = f"missing required input of {self.schema.slug}" if not path else "missing key"
            problems.append(InputProblem((*path, name), f"{what}: expected {expected}", MISSING))
        return problems

    def _any_of(self, error: SchemaError, path: InputPath) -> list[InputProblem]:
        schema = error.schema if isinstance(error.schema, dict) else {}
        instance: Any = error.instance
        if is_file_schema(schema) and isinstance(instance, Mapping):
            names = [key for key in instance if key not in ("url", "path")]
            hint = did_you_mean(names[0], ["url", "path"]) if names else ""
            got = describe_value(instance)
            return [InputProblem(path, f"expected {FILE_PHRASE}, got {got}{hint}")]
        # Optional[X] and other unions: when exactly one branch has the value's JSON type,
        # its errors say more than "expected X or null".
        branches = schema.get("anyOf", [])
        fitting = [i for i, branch in enumerate(branches) if _type_fits(branch, instance)]
        if len(fitting) == 1:
            inner = [e for e in error.context or [] if e.relative_schema_path[0] == fitting[0]]
            explained = [problem for sub in inner for problem in self._explain(sub)]
            if explained:
                return explained
        expected = describe_schema(schema)
        return [InputProblem(path, f"expected {expected}, got {describe_value(instance)}")]


def _as_path(path: PathLike) -> InputPath:
    return (path,) if isinstance(path, str) else tuple(path)


def _under_any(path: InputPath, prefixes: list[InputPath]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in prefixes)


def _type_fits(schema: Any, instance: Any) -> bool:
    if not isinstance(schema, dict) or "type" not in schema:
        return False
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    validator = SieveValidator({})
    return any(validator.is_type(instance, name) for name in names)


_COMPILED: dict[str, CompiledSchema] = {}


def compile_schema(schema: FunctionSchema) -> CompiledSchema:
    """The compiled validator for `schema`, built on first use and reused (keyed by digest)."""
    compiled = _COMPILED.get(schema.digest)
    if compiled is None:
        if len(_COMPILED) >= _CACHE_LIMIT:
            _COMPILED.clear()
        compiled = _COMPILED[schema.digest] = CompiledSchema(schema)
    return compiled


def check_inputs(
    schema: FunctionSchema, inputs: Any, *, pending: Iterable[PathLike] = ()
) -> list[InputProblem]:
    """Every problem with a job's inputs against `schema`; empty when they are valid.

    `pending`: inputs whose values are not resolved yet (see `CompiledSchema.check`).
    """
    return compile_schema(schema).check(inputs, pending)


Locate = Callable[[InputPath], SourceLocation | None]


def validate_job_inputs(
    schema: FunctionSchema,
    inputs: Any,
    *,
    job: str | None = None,
    location: SourceLocation | None = None,
    locate: Locate | None = None,
    redact: Callable[[str], str] | None = None,
    pending: Iterable[PathLike] = (),
) -> list[ValidationError]:
    """One located ValidationError per problem with a job's inputs (empty when valid).

    `location` is where the job is written; `locate(path)` may give a closer one for an input
    path (relative to `inputs`). `redact` masks secrets in messages (an input built from an
    `${{ env.* }}` value must not be echoed back). `pending` lists inputs that still hold
    references to upstream outputs: checked again after resolution, before the push.
    """
    errors = []
    for problem in check_inputs(schema, inputs, pending=pending):
        message = redact(problem.message) if redact else problem.message
        where = (locate(problem.path) if locate else None) or location
        errors.append(
            ValidationError(message, location=where, job=job, input_path=problem.input_path)
        )
    return errors


def ensure_valid_inputs(
    schema: FunctionSchema,
    inputs: Any,
    *,
    job: str | None = None,
    location: SourceLocation | None = None,
    redact: Callable[[str], str] | None = None,
) -> None:
    """Raise one ValidationError listing every problem (for a job about to be pushed)."""
    errors = validate_job_inputs(schema, inputs, job=job, location=location, redact=redact)
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    listed = "\n".join(f"  {error.input_path}: {error.detail}" for error in errors)
    raise ValidationError(
        f"{len(errors)} inputs of {schema.slug} are invalid:\n{listed}",
        location=location,
        job=job,
    )
