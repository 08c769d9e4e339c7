"""Validation around a run: every job's inputs before the first push, and again before each push.

```python
validate = asyncio.run(prepare_validation(request, locked=True))  # raises: nothing pushed
summary = run_manifest(request, validate=validate)
```
`prepare_validation` resolves the schemas of the selected jobs' functions (lock, cache, then
the request's backend), refuses drift with `locked`, and checks every input known before the
run, raising one ValidationError that lists every problem. The hook it returns checks each
resolved job just before its push (inputs from upstream outputs, the environment, run-time
matrices) and, when the manifest has a lock file, pins the push to the locked version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from runner.errors import ValidationError
from runner.execute.outcome import Report, RunSummary
from runner.execute.run import RunRequest, run_manifest
from runner.execute.scheduler import Validate
from runner.manifest import build_plan, load_manifest
from runner.manifest.resolve import ResolvedJob
from runner.schemas.jobs import (
    check_resolved_job,
    manifest_schemas,
    static_input_errors,
)
from runner.schemas.lock import lock_path_for
from runner.schemas.service import backend_fetcher
from runner.secrets import Secrets


async def prepare_validation(
    request: RunRequest,
    *,
    schemas_dir: str | Path | None = None,
    locked: bool = False,
    offline: bool = False,
) -> Validate:
    """Check the request's jobs before anything is pushed; the hook for `run_manifest`.

    Raises ManifestError (a function unknown to the backend, drift with `locked`, a schema
    missing while `offline`) or one ValidationError listing every invalid input.
    """
    manifest = load_manifest(request.manifest, variables=request.variables, environ=request.environ)
    plan = build_plan(
        manifest, select=request.select, exclude=request.exclude, environ=request.environ
    )
    async with backend_fetcher(request.backend) as fetch:
        schemas = await manifest_schemas(
            manifest,
            None if offline else fetch,
            job_names=plan.jobs,
            schemas_dir=schemas_dir,
            locked=locked,
            offline=offline,
            write_cache=False,
            backend=fetch.name,
            not_found_hint=fetch.not_found_hint,
        )
    errors = static_input_errors(plan, schemas)
    if errors:
        count = f"{len(errors)} invalid input{'s' if len(errors) != 1 else ''}"
        lines = "\n".join(f"  {error}" for error in errors)
        raise ValidationError(f"{count} in {manifest.path}; nothing was pushed:\n{lines}")
    pin_versions = lock_path_for(manifest.path).is_file()

    def validate(job: ResolvedJob) -> None:
        check_resolved_job(manifest, schemas, job)
        schema = schemas.get(job.function)
        # The locked version runs, even after the service deployed a newer one.
        if pin_versions and schema is not None and job.function.version is None:
            job.function = schema.ref

    return validate


def run_validated(
    request: RunRequest,
    *,
    schemas_dir: str | Path | None = None,
    locked: bool = False,
    offline: bool = False,
    report: Report | None = None,
    secrets: Secrets | None = None,
    on_interrupt: Callable[[int], None] | None = None,
) -> RunSummary:
    """What `sievefile run` does: `prepare_validation`, then `run_manifest` with its hook."""
    validate = asyncio.run(
        prepare_validation(request, schemas_dir=schemas_dir, locked=locked, offline=offline)
    )
    return run_manifest(
        request,
        report=report,
        validate=validate,
        secrets=secrets,
        on_interrupt=on_interrupt,
    )
