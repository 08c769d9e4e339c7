"""The `validate` step of a run: every job's inputs before the first push, and again before each.

```python
validate = await prepare_validation(manifest, plan, fetch, locked=True)  # raises: nothing pushed
```
`prepare_validation` resolves the schemas of the plan's functions (lock, cache, then `fetch`,
the run's own backend connection), refuses drift with `locked`, and checks every input known
before the run, raising one ValidationError that lists every problem. The hook it returns
checks each resolved job just before its push (inputs from upstream outputs, the environment,
run-time matrices) and, when the manifest has a lock file, pins the push to the locked version.
"""

from __future__ import annotations

from pathlib import Path

from runner.errors import ValidationError
from runner.execute.scheduler import Validate
from runner.manifest.model import Manifest
from runner.manifest.plan import Plan
from runner.manifest.resolve import ResolvedJob
from runner.schemas.jobs import check_resolved_job, manifest_schemas, static_input_errors
from runner.schemas.lock import lock_path_for
from runner.schemas.service import BackendFetcher


async def prepare_validation(
    manifest: Manifest,
    plan: Plan,
    fetch: BackendFetcher,
    *,
    schemas_dir: str | Path | None = None,
    locked: bool = False,
    offline: bool = False,
) -> Validate:
    """Check the plan's jobs before anything is pushed; the scheduler's `validate` hook.

    Raises ManifestError (a function unknown to the backend, drift with `locked`, a schema
    missing while `offline`) or one ValidationError listing every invalid input.
    """
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
        if schema is not None:
            job.input_defaults = schema.input_defaults
        # The locked version runs, even after the service deployed a newer one.
        if pin_versions and schema is not None and job.function.version is None:
            job.function = schema.ref

    return validate
