"""The plan: the selected jobs, their instances, their order; what the executor drives.

```python
plan = build_plan(manifest, select=["+summary"])
for wave in plan.waves:                     # job names; a wave only needs earlier waves
    for name in wave:
        if not plan.is_expanded(name):      # a matrix over upstream outputs
            plan.expand(name, results)      # now that its dependencies finished
        for instance in plan.instances(name):
            job = plan.resolve(instance, results)   # concrete inputs/env/webhooks + secrets
```
`results` maps instance keys to `{"id": ..., "status": ..., "outputs": [data, ...]}`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from runner.errors import ManifestError, SourceLocation
from runner.manifest import graph as graphs
from runner.manifest.matrix import JobInstance, MatrixTooLarge, expand
from runner.manifest.model import JobSpec, Manifest
from runner.manifest.positions import KeyPath, format_key_path
from runner.manifest.references import walk_templates
from runner.manifest.resolve import (
    ResolutionError,
    ResolvedJob,
    Results,
    job_reference_value,
    resolve_instance,
    resolve_static,
)
from runner.manifest.selection import select_jobs
from runner.manifest.variables import collect_variables

#: Where an input path (relative to a job's `inputs`) was written.
InputLocator = Callable[[tuple[str | int, ...]], SourceLocation]


class Plan:
    """The selected jobs of a manifest, in dependency order, with their instances.

    `jobs` (file order), `graph` (job -> its dependencies inside the plan) and `waves` are
    job-level. Static matrices are expanded at once; a matrix over upstream outputs is expanded
    by `expand` when its dependencies have finished.
    """

    def __init__(
        self,
        manifest: Manifest,
        names: Sequence[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.manifest = manifest
        chosen = set(manifest.jobs if names is None else names)
        self.jobs: dict[str, JobSpec] = {
            name: job for name, job in manifest.jobs.items() if name in chosen
        }
        self.graph: dict[str, tuple[str, ...]] = {
            name: tuple(dep for dep in job.dependencies if dep in self.jobs)
            for name, job in self.jobs.items()
        }
        self.waves: list[list[str]] = graphs.waves(self.graph)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self._instances: dict[str, list[JobInstance]] = {}
        self._row_inputs: dict[str, frozenset[str]] = {}
        for name, job in self.jobs.items():
            if job.matrix is None or not job.matrix.is_dynamic:
                self._instances[name] = self._expand_static(job)

    # --- structure -------------------------------------------------------------------------

    def dependencies(self, name: str) -> tuple[str, ...]:
        """The jobs in this plan that `name` waits for."""
        return self.graph[name]

    def external_dependencies(self, name: str) -> tuple[str, ...]:
        """Dependencies of `name` left out by the selection (their results come from elsewhere,
        e.g. an earlier run)."""
        return tuple(dep for dep in self.jobs[name].dependencies if dep not in self.jobs)

    def dependents(self, name: str) -> tuple[str, ...]:
        """The jobs in this plan that wait for `name`."""
        return tuple(other for other, deps in self.graph.items() if name in deps)

    def is_expanded(self, name: str) -> bool:
        """False for a run-time matrix whose instances are not known yet."""
        return name in self._instances

    def instances(self, name: str) -> list[JobInstance]:
        """The instances of job `name`, in matrix order; call `expand` first for a run-time
        matrix (KeyError otherwise)."""
        try:
            return self._instances[name]
        except KeyError:
            if name in self.jobs:
                raise KeyError(f"job {name!r} has a run-time matrix: call expand() first") from None
            raise

    def expanded_instances(self) -> Iterator[JobInstance]:
        """Every instance known so far, wave by wave."""
        for wave in self.waves:
            for name in wave:
                yield from self._instances.get(name, ())

    def instance_count(self) -> int:
        """Instances known so far (run-time matrices count once expanded)."""
        return sum(len(instances) for instances in self._instances.values())

    def instance_keys(self, name: str) -> list[str]:
        """Keys of job `name`'s instances (also for jobs outside the selection)."""
        if name in self._instances:
            return [instance.key for instance in self._instances[name]]
        job = self.manifest.jobs[name]
        if job.matrix is None:
            return [name]
        if job.matrix.is_dynamic:
            raise ResolutionError(f"job {name!r} has a run-time matrix that is not expanded yet")
        return [instance.key for instance in self._expand_static(job)]

    # --- run time --------------------------------------------------------------------------

    def expand(self, name: str, results: Results) -> list[JobInstance]:
        """Expand job `name`'s matrix now that its dependencies' `results` are known.

        Raises ManifestError (located at the matrix) when an axis does not resolve to a list
        or the product exceeds the job's `max_instances`.
        """
        job = self.jobs[name]
        if name in self._instances:
            return self._instances[name]
        assert job.matrix is not None
        axes: dict[str, list[Any]] = {}
        for key, values in job.matrix.axes.items():
            path: KeyPath = ("jobs", name, "matrix", key)
            if isinstance(values, list):
                axes[key] = values
                continue
            ref = values.whole
            assert ref is not None
            try:
                resolved = job_reference_value(ref, results, self.instance_keys)
            except ResolutionError as error:
                raise self._error(f"{values.placeholder}: {error}", name, path) from None
            if not isinstance(resolved, list):
                raise self._error(
                    f"{values.placeholder} must resolve to a list, got {type(resolved).__name__}",
                    name,
                    path,
                )
            axes[key] = resolved
        try:
            instances = expand(job, axes)
        except MatrixTooLarge as error:
            raise self._error(str(error), name, ("jobs", name, "matrix")) from None
        self._instances[name] = instances
        return instances

    def resolve(self, instance: JobInstance, results: Results) -> ResolvedJob:
        """Concrete inputs, env and webhooks for `instance`, from the upstream `results`.

        `env.*` values come from the plan's environment and are listed in `secrets`. Raises a
        located ManifestError when a reference has no value (a missing output, key or index).
        """
        return resolve_instance(instance, results, self.instance_keys, self.environ, self._location)

    def resolve_static(self, instance: JobInstance) -> ResolvedJob:
        """What `plan` shows: upstream and env references as `${{ ... }}` placeholders."""
        return resolve_static(instance, self._location)

    def input_locator(self, instance: JobInstance) -> InputLocator:
        """`locate(path)` for the inputs of `instance`: the line of its matrix row in the data
        file for an input that takes a value from the row, else where the manifest writes the
        input (for a problem with a row's value, the row is what to fix)."""
        name = instance.job.name

        def in_manifest(path: tuple[str | int, ...]) -> SourceLocation:
            return self.manifest.locate(("jobs", name, "inputs", *path))

        row = instance.row
        if row is None:
            return in_manifest
        fed = self._row_inputs.get(name)
        if fed is None:
            matrix = instance.job.matrix
            columns = set(matrix.rows.columns) if matrix and matrix.rows is not None else set()
            fed = self._row_inputs[name] = frozenset(
                input_name
                for input_name, value in instance.job.inputs.items()
                for template in walk_templates(value)
                for ref in template.references
                if ref.scope == "matrix" and ref.name in columns
            )

        def locate(path: tuple[str | int, ...]) -> SourceLocation:
            return row.location if path and path[0] in fed else in_manifest(path)

        return locate

    def pending_instance(self, name: str) -> JobInstance:
        """A stand-in for a run-time matrix not expanded yet (for showing plans)."""
        job = self.jobs[name]
        assert job.matrix is not None
        labels = ",".join(f"{key}=*" for key in job.matrix.axes)
        # no matrix values: every matrix reference stays a placeholder
        return JobInstance(job, f"{name}[{labels}]", {}, 0)

    # --- helpers ---------------------------------------------------------------------------

    def _expand_static(self, job: JobSpec) -> list[JobInstance]:
        try:
            return expand(job)
        except MatrixTooLarge as error:
            raise self._error(str(error), job.name, ("jobs", job.name, "matrix")) from None

    def _location(self, path: KeyPath) -> SourceLocation:
        return self.manifest.locate(path, value=True)

    def _error(self, message: str, job: str, path: KeyPath) -> ManifestError:
        return ManifestError(
            message,
            location=self._location(path),
            job=job,
            key_path=format_key_path(path[2:]) or None,
        )


def build_plan(
    manifest: Manifest,
    *,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """The plan for `manifest`, limited by dbt-style selectors (see `select_jobs`)."""
    names = select_jobs(manifest, select=select, exclude=exclude)
    return Plan(manifest, names, environ=environ)


def load_plan(
    path: str | os.PathLike[str],
    *,
    var_options: Sequence[str] = (),
    vars_files: Sequence[str | os.PathLike[str]] = (),
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    require_env: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Load the manifest at `path` and plan it, from the shared command-line options.

    `var_options` are `--var NAME=VALUE` strings, `vars_files` the `--vars-file` paths,
    `select`/`exclude` the selectors. Raises ManifestError (the manifest) or ConfigError (the
    options).
    """
    from runner.manifest.loader import load_manifest

    variables = collect_variables(var_options, vars_files)
    manifest = load_manifest(path, variables=variables, environ=environ, require_env=require_env)
    return build_plan(manifest, select=select, exclude=exclude, environ=environ)
