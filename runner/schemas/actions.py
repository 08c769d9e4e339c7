"""What `sievefile lock`, `schemas pull` and `validate` do with schemas, one call each.

Each takes manifest paths and a `Backend` (`runner.backend.resolve_backend`); the backend is
contacted only for metadata the lock and the cache do not already hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runner.backend import Backend
from runner.errors import ManifestError, ValidationError
from runner.manifest.loader import load_manifest
from runner.manifest.model import FunctionRef, Manifest
from runner.manifest.plan import build_plan
from runner.schemas.jobs import function_locations, manifest_schemas, static_input_errors
from runner.schemas.lock import Lockfile, lock_path_for
from runner.schemas.model import FunctionSchema
from runner.schemas.project import lock_functions
from runner.schemas.service import backend_fetcher


def lock_manifest(
    path: str | Path,
    backend: Backend,
    *,
    schemas_dir: str | Path | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Lockfile:
    """`sievefile lock MANIFEST`: the current version of every function the manifest calls
    (its pin for a pinned one), schemas cached, `MANIFEST.lock` written. Returns the lock."""
    manifest = load_manifest(path, variables=variables, require_env=False)
    locations = function_locations(manifest)

    async def lock() -> Lockfile:
        async with backend_fetcher(backend) as fetch:
            return await lock_functions(
                manifest.path,
                locations,
                fetch,
                schemas_dir=schemas_dir,
                backend=fetch.name,
                not_found_hint=fetch.not_found_hint,
                locations=locations,
            )

    return asyncio.run(lock())


def pull_manifests(
    paths: Iterable[str | Path],
    backend: Backend,
    *,
    schemas_dir: str | Path | None = None,
    variables: Mapping[str, Any] | None = None,
) -> dict[FunctionRef, FunctionSchema]:
    """`sievefile schemas pull MANIFEST...`: cache the schema of every function the manifests
    call (the locked version when a manifest has a lock file). Raises one ManifestError
    listing every problem of every manifest."""
    manifests = [load_manifest(path, variables=variables, require_env=False) for path in paths]

    async def pull() -> dict[FunctionRef, FunctionSchema]:
        pulled: dict[FunctionRef, FunctionSchema] = {}
        problems: list[ManifestError] = []
        async with backend_fetcher(backend) as fetch:
            for manifest in manifests:
                try:
                    pulled.update(
                        await manifest_schemas(
                            manifest,
                            fetch,
                            schemas_dir=schemas_dir,
                            backend=fetch.name,
                            not_found_hint=fetch.not_found_hint,
                        )
                    )
                except ManifestError as error:
                    problems.extend(error.problems)
        if problems:
            raise ManifestError(problems[0].detail, problems=problems)
        return pulled

    return asyncio.run(pull())


def schema_problems(
    manifest: Manifest,
    backend: Backend | None,
    *,
    schemas_dir: str | Path | None = None,
    locked: bool = False,
    offline: bool = False,
) -> list[ManifestError | ValidationError]:
    """What `validate` adds to the structural checks: every static input of every job checked
    against its function's schema (empty when all are valid).

    Schemas come from the lock and the cache; one missing there is fetched from `backend`,
    unless `offline` or `backend` is None, when it is a problem. `locked` compares the lock
    with the backend's latest versions (not `offline`) and reports drift.
    """

    async def resolve() -> dict[FunctionRef, FunctionSchema]:
        if backend is None or offline:
            return await manifest_schemas(
                manifest,
                None,
                schemas_dir=schemas_dir,
                locked=locked,
                offline=True,
                write_cache=False,
            )
        async with backend_fetcher(backend) as fetch:
            return await manifest_schemas(
                manifest,
                fetch,
                schemas_dir=schemas_dir,
                locked=locked,
                write_cache=False,
                backend=fetch.name,
                not_found_hint=fetch.not_found_hint,
            )

    try:
        schemas = asyncio.run(resolve())
    except ManifestError as error:
        return list(error.problems)
    return list(static_input_errors(build_plan(manifest), schemas))


def has_lock(manifest_path: str | Path) -> bool:
    """Whether the manifest has a lock file beside it (a path without a file name, such as
    "", has none: reading it says what is wrong)."""
    return bool(Path(manifest_path).name) and lock_path_for(manifest_path).is_file()
