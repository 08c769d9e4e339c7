"""A manifest's jobs checked against their functions' schemas: what `validate` and `run` do.

- `function_locations(manifest)`: the functions the jobs call, each located where first named.
- `manifest_schemas(manifest, fetch_metadata, ...)`: their schemas, from the lock and the cache
  when they have them (see `resolve_schemas`).
- `static_input_errors(plan, schemas)`: every problem with the inputs known before a run; an
  input that refers to an upstream output, the environment or a run-time matrix is checked
  only for its name here, and in full by `check_resolved_job` just before its push.
- `check_resolved_job(manifest, schemas, job)`: the run-time check of one resolved job.

Untyped CSV cells become the numbers or booleans the schema asks for first
(`runner.manifest.rows.coerce_cells`), and a problem with a value from a matrix row is located
at that row of its data file.

Errors are located at the input's line in the manifest (`Manifest.locate`), name the job (with
its matrix instance) and the input path, and never show an `${{ env.* }}` value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from runner.errors import SourceLocation, ValidationError
from runner.manifest.model import FunctionRef, Manifest
from runner.manifest.plan import Plan
from runner.manifest.resolve import ResolvedJob
from runner.manifest.rows import coerce_cells
from runner.schemas.model import FunctionSchema
from runner.schemas.project import resolve_schemas
from runner.schemas.pull import FetchMetadata
from runner.schemas.validate import InputPath, validate_job_inputs

Schemas = Mapping[FunctionRef, FunctionSchema]


def function_locations(
    manifest: Manifest, job_names: Iterable[str] | None = None
) -> Mapping[FunctionRef, SourceLocation]:
    """Each function the jobs (all, or `job_names`) call, located where the manifest first
    names it; in file order. A location is looked up when asked for (only a problem is)."""
    names = set(manifest.jobs if job_names is None else job_names)
    first_job: dict[FunctionRef, str] = {}
    for name, job in manifest.jobs.items():
        if name in names:
            first_job.setdefault(job.function, name)
    return _FunctionLocations(manifest, first_job)


class _FunctionLocations(Mapping[FunctionRef, SourceLocation]):
    def __init__(self, manifest: Manifest, first_job: dict[FunctionRef, str]) -> None:
        self._manifest = manifest
        self._first_job = first_job

    def __getitem__(self, ref: FunctionRef) -> SourceLocation:
        return self._manifest.locate(("jobs", self._first_job[ref], "function"), value=True)

    def __iter__(self) -> Iterator[FunctionRef]:
        return iter(self._first_job)

    def __len__(self) -> int:
        return len(self._first_job)


async def manifest_schemas(
    manifest: Manifest,
    fetch_metadata: FetchMetadata | None,
    *,
    job_names: Iterable[str] | None = None,
    schemas_dir: str | Path | None = None,
    locked: bool = False,
    offline: bool = False,
    write_cache: bool = True,
    backend: str = "the Sieve API",
    not_found_hint: str = "",
) -> dict[FunctionRef, FunctionSchema]:
    """The schema of every function the manifest's jobs (or `job_names`) call.

    The manifest's lock file decides the versions when there is one; `locked` refuses drift,
    `offline` (or no `fetch_metadata`) makes a schema missing from the cache an error;
    `write_cache=False` keeps what is fetched out of the cache. Raises
    one ManifestError listing every problem, located in the manifest or the lock file.
    """
    locations = function_locations(manifest, job_names)
    return await resolve_schemas(
        manifest.path,
        locations,
        fetch_metadata,
        schemas_dir=schemas_dir,
        locked=locked,
        offline=offline,
        write_cache=write_cache,
        backend=backend,
        not_found_hint=not_found_hint,
        locations=locations,
    )


def input_locator(manifest: Manifest, job_name: str) -> Callable[[InputPath], SourceLocation]:
    """`locate(path)` for the inputs of `job_name`: the line of the input (or of the nearest
    enclosing key the manifest writes, for a missing one)."""

    def locate(path: InputPath) -> SourceLocation:
        return manifest.locate(("jobs", job_name, "inputs", *path))

    return locate


def static_input_errors(plan: Plan, schemas: Schemas) -> list[ValidationError]:
    """Every problem with the inputs of the plan's jobs that is known before the run.

    Each instance of a static matrix is checked with its matrix values; a run-time matrix is
    checked once, as a stand-in instance. Functions missing from `schemas` are not checked.
    """
    errors: list[ValidationError] = []
    for name, job in plan.jobs.items():
        schema = schemas.get(job.function)
        if schema is None:
            continue
        instances = (
            plan.instances(name) if plan.is_expanded(name) else [plan.pending_instance(name)]
        )
        locate = input_locator(plan.manifest, name)
        for instance in instances:
            resolved = plan.resolve_static(instance)
            inputs = resolved.inputs
            if instance.row is not None:  # CSV cells as the numbers or booleans it asks for
                inputs = coerce_cells(inputs, schema.inputs)
            errors.extend(
                validate_job_inputs(
                    schema,
                    inputs,
                    job=instance.key,
                    locate=locate if instance.row is None else plan.input_locator(instance),
                    pending=job.run_time_inputs,
                )
            )
    return errors


def check_resolved_job(manifest: Manifest, schemas: Schemas, job: ResolvedJob) -> None:
    """Raise one ValidationError listing every problem with a resolved job's inputs (the last
    check before its push). Secrets the job uses are masked in the message."""
    schema = schemas.get(job.function)
    if schema is None:
        return
    job.inputs = coerce_cells(job.inputs, schema.inputs)  # what is validated is what is pushed
    name = job.key.split("[", 1)[0]
    errors = validate_job_inputs(
        schema,
        job.inputs,
        job=job.key,
        locate=input_locator(manifest, name),
        redact=job.secrets.mask,
    )
    if errors:
        raise combine_errors(errors, f"{job.key!r} was not pushed")


def combine_errors(errors: Sequence[ValidationError], outcome: str) -> ValidationError:
    """One ValidationError for several: the first one alone, or every one on its own line
    under a heading saying how many and `outcome` (what happened because of them)."""
    if len(errors) == 1:
        return errors[0]
    lines = "\n".join(f"  {error}" for error in errors)
    return ValidationError(f"{len(errors)} invalid inputs; {outcome}:\n{lines}")
