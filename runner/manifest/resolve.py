"""Turning a job instance's compiled values into concrete JSON.

Two modes share one walk (`runner.manifest.values.substitute`):
- run time (`resolve_instance`): every reference gets its value: `env.*` from the
  environment (recorded as secret), `matrix.*` from the instance, `jobs.*` from the finished
  upstream results;
- static (`resolve_static`, for `plan`): `matrix.*` gets its value, `env.*` and `jobs.*` stay
  as placeholders (`${{ jobs.fetch.outputs[0] }}`), so nothing secret and nothing unknown is
  shown.

Results are `{instance_key: {"id": ..., "status": ..., "outputs": [data, ...]}}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.errors import ManifestError
from runner.manifest.matrix import JobInstance
from runner.manifest.model import FunctionRef, JobSpec
from runner.manifest.positions import KeyPath, format_key_path
from runner.manifest.references import Reference, Template
from runner.manifest.values import (
    KEEP,
    Lookup,
    StepError,
    follow_steps,
    substitute_template,
)
from runner.secrets import Secrets

#: The finished upstream results, keyed by instance key.
Results = Mapping[str, Mapping[str, Any]]
#: job name -> the keys of its instances, in matrix order (one key, the name, without matrix).
InstanceKeys = Callable[[str], Sequence[str]]


class ResolutionError(LookupError):
    """A reference that has no value (yet): the message says which and why."""


@dataclass
class ResolvedJob:
    """What to push for one instance: concrete inputs, env and webhooks.

    `secrets` holds every `env.*` value used, to mask wherever any of this is shown. From
    `resolve_static` the values share structure between instances: treat them as read-only.
    `input_defaults` (set by the run's validate step from the function's schema) are the
    inputs whose default value is known: a service that records them on the job it created
    did not create other work (reconciliation, `runner.execute.reconcile`).
    """

    key: str
    function: FunctionRef
    inputs: dict[str, Any]
    env: dict[str, Any]
    webhooks: list[Any]
    secrets: Secrets = field(default_factory=Secrets)
    input_defaults: Mapping[str, Any] = field(default_factory=dict)


def resolve_instance(
    instance: JobInstance,
    results: Results,
    instance_keys: InstanceKeys,
    environ: Mapping[str, str],
    locate: Callable[[KeyPath], Any],
) -> ResolvedJob:
    """Every reference of `instance` resolved; ManifestError (located) when one cannot be."""
    secrets = Secrets()

    def lookup(ref: Reference) -> Any:
        try:
            return value_of(ref)
        except ResolutionError as error:
            raise ResolutionError(f"{ref.placeholder}: {error}") from None

    def value_of(ref: Reference) -> Any:
        if ref.scope == "env":
            if ref.name not in environ:
                raise ResolutionError(f"environment variable {ref.name!r} is not set")
            value = environ[ref.name]
            secrets.add(value)
            return value
        if ref.scope == "matrix":
            return _matrix_value(instance, ref)
        return job_reference_value(ref, results, instance_keys)

    job = instance.job
    # copies: whoever pushes may change what it sends without touching the manifest
    inputs, env, webhooks = (
        _copy(_resolve_section(job, section, lookup, locate, instance.key))
        for section in ("inputs", "env", "webhooks")
    )
    return ResolvedJob(instance.key, job.function, inputs, env, webhooks, secrets)


def resolve_static(instance: JobInstance, locate: Callable[[KeyPath], Any]) -> ResolvedJob:
    """What `plan` shows: matrix values filled in, env and upstream references as placeholders."""

    def lookup(ref: Reference) -> Any:
        if ref.scope == "matrix" and ref.name in instance.matrix:
            return _matrix_value(instance, ref)
        return KEEP

    job = instance.job
    inputs, env, webhooks = (
        _resolve_section(job, section, lookup, locate, instance.key, placeholders=True)
        for section in ("inputs", "env", "webhooks")
    )
    return ResolvedJob(instance.key, job.function, inputs, env, webhooks)


def job_reference_value(ref: Reference, results: Results, instance_keys: InstanceKeys) -> Any:
    """The value of `jobs.NAME.field...`: for a matrix job, the list over its instances."""
    keys = instance_keys(ref.name)
    is_matrix = len(keys) != 1 or keys[0] != ref.name
    values = []
    for key in keys:
        result = results.get(key)
        if result is None:
            raise ResolutionError(f"job {key!r} has no result: it has not finished")
        field_value = result.get(ref.field or "outputs")
        described = f"jobs.{key}.{ref.field}"
        if ref.field == "outputs" and not isinstance(field_value, list):
            raise ResolutionError(f"{described} is not a list of outputs")
        try:
            values.append(follow_steps(field_value, ref.steps, described))
        except StepError as error:
            raise ResolutionError(str(error)) from None
    return values if is_matrix else values[0]


def _matrix_value(instance: JobInstance, ref: Reference) -> Any:
    if ref.name not in instance.matrix:
        raise ResolutionError(f"instance {instance.key!r} has no matrix key {ref.name!r}")
    if not ref.steps:  # the usual `${{ matrix.KEY }}`, once per instance of a big matrix
        return instance.matrix[ref.name]
    try:
        return follow_steps(instance.matrix[ref.name], ref.steps, f"matrix.{ref.name}")
    except StepError as error:
        raise ResolutionError(str(error)) from None


def _resolve_section(
    job: JobSpec,
    section: str,
    lookup: Lookup,
    locate: Callable[[KeyPath], Any],
    instance_key: str,
    *,
    placeholders: bool = False,
) -> Any:
    value = getattr(job, section)
    if section in job.static_sections:
        return value
    try:
        return _walk(value, lookup, placeholders)
    except _Failed as failed:
        path = ("jobs", job.name, section, *(_path_to(value, failed.template) or ()))
        raise ManifestError(
            failed.message,
            location=locate(path),
            job=instance_key,
            key_path=format_key_path(path[2:]),
        ) from None


class _Failed(Exception):
    """A template that could not be resolved; its path is looked up only then."""

    def __init__(self, template: Template, message: str) -> None:
        self.template = template
        self.message = message


def _walk(value: Any, lookup: Lookup, placeholders: bool) -> Any:
    # the hot loop of `plan` on big matrices: no key paths are built on the way down
    if isinstance(value, Template):
        try:
            resolved = substitute_template(value, lookup)
        except ResolutionError as error:
            raise _Failed(value, str(error)) from None
        if placeholders and isinstance(resolved, Template):
            return resolved.placeholder
        return resolved
    if isinstance(value, dict):
        return {key: _walk(item, lookup, placeholders) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, lookup, placeholders) for item in value]
    return value


def _path_to(value: Any, target: Template) -> tuple[str | int, ...] | None:
    """The key path of `target` inside `value` (empty when `value` is it)."""
    if value is target:
        return ()
    items: list[tuple[str | int, Any]]
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return None
    for key, item in items:
        found = _path_to(item, target)
        if found is not None:
            return (key, *found)
    return None


def _copy(value: Any) -> Any:
    """A copy of JSON-like data (much cheaper than copy.deepcopy)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
